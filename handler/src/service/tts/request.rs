//! `TTSRequest`: the original's fields, names and defaults (reference §3.1) with its ranges
//! fixed, our extensions (engine choice, sampling knobs, more formats), and validation into
//! a plan. Every field whose feature is not built is accepted and reported in `warnings`.

use audio::encode::ExportFormat;
use audio::loudness::NormalizeMethod;
use audio::postprocess::PostProcess;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::naming;
use crate::service::generation::{Bitrates, export_formats, output_folder};

/// The body of `POST /api/v1/tts`. Only `text` is required.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(default)]
pub struct TtsRequest {
    /// Text to speak (trimmed; non-empty; at most the configured `max_text_length`). Required.
    #[schema(required = true, nullable = false)]
    pub text: Option<String>,
    /// Engine: `piper` (built-in voice, fast), `chatterbox` (voice cloning), or `auto`
    /// (default: `chatterbox` when `reference_audio_filename` is given, else `piper`).
    pub model: Option<String>,
    /// Voice to clone: a path under `voices/`, a bare file name, or a name without
    /// extension. Needs the Chatterbox engine.
    pub reference_audio_filename: Option<String>,
    /// Emotion intensity, 0.0–2.0 (0.5 is neutral). Passed to the model as given.
    #[schema(default = 0.5, minimum = 0.0, maximum = 2.0)]
    pub exaggeration: f64,
    /// Sampling temperature, 0.0–2.0; 0 is greedy (deterministic) decoding.
    #[schema(default = 0.75, minimum = 0.0, maximum = 2.0)]
    pub temperature: f64,
    /// Random seed; 0 picks one, reported as `generation_seed_used`. Same seed and input, same audio.
    #[schema(default = 0, minimum = 0, maximum = 4294967295_u64)]
    pub seed: i64,
    /// Classifier-free guidance weight, 0.0–2.0 (0 disables guidance).
    #[schema(default = 1.0, minimum = 0.0, maximum = 2.0)]
    pub cfg_weight: f64,
    /// Nucleus sampling threshold, (0, 1] (1 disables it).
    #[schema(default = 1.0, minimum = 0.0, maximum = 1.0)]
    pub top_p: f64,
    /// Min-p sampling threshold, 0–1 (0 disables it).
    #[schema(default = 0.05, minimum = 0.0, maximum = 1.0)]
    pub min_p: f64,
    /// Penalty for repeating speech tokens, 1.0–2.0.
    #[schema(default = 1.2, minimum = 1.0, maximum = 2.0)]
    pub repetition_penalty: f64,
    /// Candidates generated per text chunk (1–10); the best is kept (see docs/api.md).
    #[schema(default = 3, minimum = 1, maximum = 10)]
    pub num_candidates_per_chunk: u32,
    /// Tries per candidate when generation fails (1–10).
    #[schema(default = 3, minimum = 1, maximum = 10)]
    pub max_attempts_per_candidate: u32,
    /// Accepted for compatibility; Whisper checking is not built (reported in `warnings`).
    pub bypass_whisper_checking: Option<bool>,
    /// Accepted for compatibility (tiny, base, small, medium, large); reported in `warnings`.
    pub whisper_model_name: Option<String>,
    /// Accepted for compatibility; reported in `warnings`.
    pub use_faster_whisper: Option<bool>,
    /// Accepted for compatibility; reported in `warnings`.
    pub use_longest_transcript_on_fail: Option<bool>,
    /// Group sentences into chunks of up to 400 characters.
    pub enable_batching: bool,
    /// Merge short sentences until a chunk reaches 100 characters.
    #[schema(default = true)]
    pub smart_batch_short_sentences: bool,
    /// Lower-case the text first.
    #[schema(default = true)]
    pub to_lowercase: bool,
    /// Collapse runs of whitespace.
    #[schema(default = true)]
    pub normalize_spacing: bool,
    /// Read dotted abbreviations letter by letter ("U.S.A." → "U S A").
    #[schema(default = true)]
    pub fix_dot_letters: bool,
    /// Remove reference markers such as `[1]` and `(2)`.
    #[schema(default = true)]
    pub remove_reference_numbers: bool,
    /// Read numbers, ordinals, dates, times, money, units, abbreviations, URLs and e-mail
    /// addresses as words, and drop Markdown and emoji, before the engine sees the text
    /// (see `docs/api.md`, "Text normalisation").
    #[schema(default = true)]
    pub normalize_text: bool,
    /// Pronunciation lexicons to apply, by name (`GET /api/v1/lexicons`), at most 8;
    /// earlier ones win.
    pub lexicons: Vec<String>,
    /// Read `text` as SSML: `true` requires a `<speak>` document, `false` reads markup as
    /// plain text, omitted or null detects a text that starts with `<speak` (see
    /// `docs/api.md`, "SSML").
    #[schema(nullable = true)]
    pub ssml: Option<bool>,
    /// Store captions with the output (where each sentence is in the final audio, with its
    /// words as written): returned in the JSON answer and served as SRT, WebVTT or JSON by
    /// `GET /api/v1/output/{filename}/captions`.
    pub captions: bool,
    /// Accepted for compatibility; auto-editor is not built (reported in `warnings`).
    pub use_auto_editor: Option<bool>,
    /// Accepted for compatibility; reported in `warnings`.
    pub keep_original_wav_ae: Option<bool>,
    /// Accepted for compatibility (0–1); reported in `warnings`.
    pub ae_threshold: Option<f64>,
    /// Accepted for compatibility (0–1); reported in `warnings`.
    pub ae_margin: Option<f64>,
    /// Normalise loudness after generation.
    pub normalize_audio: bool,
    /// `ebu` (integrated loudness with a true-peak ceiling) or `peak`.
    #[schema(default = "ebu")]
    pub normalize_method: String,
    /// EBU target, LUFS (-70 to -5).
    #[schema(default = -24.0)]
    pub normalize_level: f64,
    /// True-peak ceiling in dBTP (-9 to 0); the `peak` method's target.
    #[schema(default = -2.0)]
    pub normalize_tp: f64,
    /// Loudness range target, LU (1 to 50).
    #[schema(default = 7.0)]
    pub normalize_lra: f64,
    /// Accepted for compatibility; sound-word replacement is not built (reported in `warnings`).
    pub sound_words_field: Option<String>,
    /// Tempo factor, 0.25–4.0, pitch kept (1.0 = unchanged).
    #[schema(default = 1.0, minimum = 0.25, maximum = 4.0)]
    pub speed_factor: f64,
    /// Accepted for compatibility (auto, audiostretchy, librosa, torchaudio); every choice
    /// uses the built-in WSOLA time-stretch (non-`auto` values are reported in `warnings`).
    pub speed_factor_library: Option<String>,
    /// Output folder under `outputs/` (`""` = root).
    pub project: Option<String>,
    /// Alias of `project`; both given with different values is a 422.
    pub folder: Option<String>,
    /// Trim leading and trailing silence.
    pub trim: bool,
    /// Edge silence longer than this is trimmed, 50–1000 ms.
    #[schema(default = 200, minimum = 50, maximum = 1000)]
    pub trim_threshold_ms: u32,
    /// Formats to write: wav, wav32, mp3, flac, opus, aac, pcm. The first is streamed.
    #[schema(default = json!(["wav", "mp3"]))]
    pub export_formats: Vec<String>,
    /// Accepted for compatibility; no watermark is applied (`false` is reported in `warnings`).
    #[schema(default = true)]
    pub disable_watermark: bool,
    /// `stream` (default) or `url`; the query parameter wins.
    pub response_mode: Option<String>,
}

impl Default for TtsRequest {
    fn default() -> Self {
        Self {
            text: None,
            model: None,
            reference_audio_filename: None,
            exaggeration: 0.5,
            temperature: 0.75,
            seed: 0,
            cfg_weight: 1.0,
            top_p: 1.0,
            min_p: 0.05,
            repetition_penalty: 1.2,
            num_candidates_per_chunk: 3,
            max_attempts_per_candidate: 3,
            bypass_whisper_checking: None,
            whisper_model_name: None,
            use_faster_whisper: None,
            use_longest_transcript_on_fail: None,
            enable_batching: false,
            smart_batch_short_sentences: true,
            to_lowercase: true,
            normalize_spacing: true,
            fix_dot_letters: true,
            remove_reference_numbers: true,
            normalize_text: true,
            lexicons: Vec::new(),
            ssml: None,
            captions: false,
            use_auto_editor: None,
            keep_original_wav_ae: None,
            ae_threshold: None,
            ae_margin: None,
            normalize_audio: false,
            normalize_method: "ebu".into(),
            normalize_level: -24.0,
            normalize_tp: -2.0,
            normalize_lra: 7.0,
            sound_words_field: None,
            speed_factor: 1.0,
            speed_factor_library: None,
            project: None,
            folder: None,
            trim: false,
            trim_threshold_ms: 200,
            export_formats: vec!["wav".into(), "mp3".into()],
            disable_watermark: true,
            response_mode: None,
        }
    }
}

/// The defaults applied to omitted fields, as `/api/v1/config` reports them.
pub fn defaults_json() -> serde_json::Value {
    let d = TtsRequest::default();
    serde_json::json!({
        "model": "auto",
        "exaggeration": d.exaggeration,
        "temperature": d.temperature,
        "seed": d.seed,
        "cfg_weight": d.cfg_weight,
        "top_p": d.top_p,
        "min_p": d.min_p,
        "repetition_penalty": d.repetition_penalty,
        "num_candidates_per_chunk": d.num_candidates_per_chunk,
        "max_attempts_per_candidate": d.max_attempts_per_candidate,
        "enable_batching": d.enable_batching,
        "smart_batch_short_sentences": d.smart_batch_short_sentences,
        "to_lowercase": d.to_lowercase,
        "normalize_spacing": d.normalize_spacing,
        "fix_dot_letters": d.fix_dot_letters,
        "remove_reference_numbers": d.remove_reference_numbers,
        "normalize_text": d.normalize_text,
        "lexicons": d.lexicons,
        "ssml": "auto",
        "captions": d.captions,
        "normalize_audio": d.normalize_audio,
        "normalize_method": d.normalize_method,
        "normalize_level": d.normalize_level,
        "normalize_tp": d.normalize_tp,
        "normalize_lra": d.normalize_lra,
        "speed_factor": d.speed_factor,
        "trim": d.trim,
        "trim_threshold_ms": d.trim_threshold_ms,
        "export_formats": d.export_formats,
        "disable_watermark": d.disable_watermark,
    })
}

/// The engine a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    /// Chatterbox with a reference voice, Piper without.
    Auto,
    /// The built-in Piper voice.
    Piper,
    /// Chatterbox.
    Chatterbox,
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct TtsPlan {
    /// The trimmed text.
    pub text: String,
    /// Engine choice.
    pub model: ModelChoice,
    /// Voice to clone, if any (checked for traversal).
    pub voice: Option<String>,
    /// Formats to write, in order.
    pub formats: Vec<ExportFormat>,
    /// Output folder (`None` = root).
    pub folder: Option<String>,
    /// Speed, trim and loudness.
    pub post: PostProcess,
    /// Features asked for that are not built, in words.
    pub warnings: Vec<String>,
}

fn check(param: &str, value: f64, min: f64, max: f64) -> Result<()> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            param,
            format!("{param} must be between {min} and {max} (got {value})"),
        ))
    }
}

impl TtsRequest {
    /// Checks every field (422 naming the field) and builds the plan; nothing is read or written.
    pub fn validate(&self, max_text_length: usize) -> Result<TtsPlan> {
        let Some(text) = self.text.as_deref().map(str::trim) else {
            return Err(Error::invalid(
                "text",
                "text is missing: the body needs a \"text\" field with the text to speak",
            ));
        };
        if text.is_empty() {
            return Err(Error::invalid("text", "text must not be empty"));
        }
        if !models::text::is_speakable(text) {
            return Err(Error::invalid(
                "text",
                "text has nothing to speak: it needs at least one letter or digit",
            ));
        }
        let length = text.chars().count();
        if length > max_text_length {
            return Err(Error::invalid(
                "text",
                format!("text is {length} characters; the limit is {max_text_length}"),
            ));
        }
        check("exaggeration", self.exaggeration, 0.0, 2.0)?;
        check("temperature", self.temperature, 0.0, 2.0)?;
        check("cfg_weight", self.cfg_weight, 0.0, 2.0)?;
        check("min_p", self.min_p, 0.0, 1.0)?;
        check("repetition_penalty", self.repetition_penalty, 1.0, 2.0)?;
        if !(self.top_p.is_finite() && self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::invalid("top_p", "top_p must be in (0, 1]"));
        }
        if !(0..=i64::from(u32::MAX)).contains(&self.seed) {
            return Err(Error::invalid(
                "seed",
                "seed must be between 0 and 4294967295",
            ));
        }
        for (param, value) in [
            ("num_candidates_per_chunk", self.num_candidates_per_chunk),
            (
                "max_attempts_per_candidate",
                self.max_attempts_per_candidate,
            ),
        ] {
            if !(1..=10).contains(&value) {
                return Err(Error::invalid(
                    param,
                    format!("{param} must be between 1 and 10"),
                ));
            }
        }
        let model = match self.model.as_deref().map(|m| m.trim().to_ascii_lowercase()) {
            None => ModelChoice::Auto,
            Some(m) if m.is_empty() || m == "auto" => ModelChoice::Auto,
            Some(m) if m == "piper" => ModelChoice::Piper,
            Some(m) if m == "chatterbox" => ModelChoice::Chatterbox,
            Some(other) => {
                return Err(Error::invalid(
                    "model",
                    format!("unknown model {other:?}; use auto, piper or chatterbox"),
                ));
            }
        };
        let voice = match self.reference_audio_filename.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => {
                if !(name.starts_with("http://") || name.starts_with("https://")) {
                    naming::relative_path_param("reference_audio_filename", name)?;
                }
                Some(name.to_owned())
            }
        };
        if model == ModelChoice::Piper && voice.is_some() {
            return Err(Error::invalid(
                "reference_audio_filename",
                "the piper engine speaks with its built-in voice; voice cloning needs model \"chatterbox\"",
            ));
        }
        let formats = export_formats(&self.export_formats, Bitrates::default())?;
        let folder = output_folder(self.project.as_deref(), self.folder.as_deref())?;
        let post = self.post_process()?;
        Ok(TtsPlan {
            text: text.to_owned(),
            model,
            voice,
            formats,
            folder,
            post,
            warnings: self.warnings()?,
        })
    }

    fn post_process(&self) -> Result<PostProcess> {
        let normalize_method = match self.normalize_method.trim().to_ascii_lowercase().as_str() {
            "ebu" => NormalizeMethod::Ebu,
            "peak" => NormalizeMethod::Peak,
            other => {
                return Err(Error::invalid(
                    "normalize_method",
                    format!("normalize_method must be ebu or peak (got {other:?})"),
                ));
            }
        };
        let post = PostProcess {
            speed_factor: self.speed_factor,
            trim: self.trim,
            trim_threshold_ms: self.trim_threshold_ms,
            normalize_audio: self.normalize_audio,
            normalize_method,
            normalize_level: self.normalize_level,
            normalize_tp: self.normalize_tp,
            normalize_lra: self.normalize_lra,
        };
        // The threshold is checked even with trim off: the original's range is part of the contract.
        if !(50..=1000).contains(&self.trim_threshold_ms) {
            return Err(Error::invalid(
                "trim_threshold_ms",
                "trim_threshold_ms must be between 50 and 1000",
            ));
        }
        post.validate()?;
        Ok(post)
    }

    /// What the request asked for that this server does not do, in words.
    fn warnings(&self) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        if let Some(name) = &self.whisper_model_name
            && !["tiny", "base", "small", "medium", "large"].contains(&name.as_str())
        {
            return Err(Error::invalid(
                "whisper_model_name",
                "whisper_model_name must be one of tiny, base, small, medium, large",
            ));
        }
        let whisper_fields = [
            (
                "bypass_whisper_checking",
                self.bypass_whisper_checking == Some(false),
            ),
            ("whisper_model_name", self.whisper_model_name.is_some()),
            ("use_faster_whisper", self.use_faster_whisper.is_some()),
            (
                "use_longest_transcript_on_fail",
                self.use_longest_transcript_on_fail.is_some(),
            ),
        ];
        let named: Vec<&str> = whisper_fields
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| *n)
            .collect();
        if !named.is_empty() {
            warnings.push(format!(
                "Whisper checking is not available on this server; ignored {}. Candidates are chosen by \
                 the documented rule (stopped cleanly, then shortest)",
                named.join(", ")
            ));
        }
        for (param, value) in [
            ("ae_threshold", self.ae_threshold),
            ("ae_margin", self.ae_margin),
        ] {
            if let Some(v) = value {
                check(param, v, 0.0, 1.0)?;
            }
        }
        let editor: Vec<&str> = [
            ("use_auto_editor", self.use_auto_editor == Some(true)),
            (
                "keep_original_wav_ae",
                self.keep_original_wav_ae == Some(true),
            ),
            ("ae_threshold", self.ae_threshold.is_some()),
            ("ae_margin", self.ae_margin.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
        if !editor.is_empty() {
            warnings.push(format!(
                "auto-editor is not available on this server; ignored {} (use trim for edge silence)",
                editor.join(", ")
            ));
        }
        if self
            .sound_words_field
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
        {
            warnings.push("sound_words_field is not supported yet and was ignored".into());
        }
        match self.speed_factor_library.as_deref().map(|l| l.trim().to_ascii_lowercase()) {
            None => {}
            Some(l) if l.is_empty() || l == "auto" => {}
            Some(l) if ["audiostretchy", "librosa", "torchaudio"].contains(&l.as_str()) => warnings.push(format!(
                "speed_factor_library {l:?} is not used: every speed change uses the built-in WSOLA time-stretch"
            )),
            Some(other) => {
                return Err(Error::invalid(
                    "speed_factor_library",
                    format!("speed_factor_library must be auto, audiostretchy, librosa or torchaudio (got {other:?})"),
                ));
            }
        }
        if !self.disable_watermark {
            warnings.push(
                "no watermark is applied: the Perth watermark has no ONNX implementation".into(),
            );
        }
        Ok(warnings)
    }
}
