//! Captions for generated speech: where each chunk of text sits in the final audio (after
//! speed and trim), with the words as the request wrote them and their character offsets,
//! stored in the output's sidecar and rendered as SRT, WebVTT or JSON on request.
//!
//! Timings are exact at the level the engines report: each chunk (a sentence, or
//! sentences grouped by the batching options) starts where its first sample was made and
//! ends after its last, so they hold for both engines. They are marked `level: "sentence"`.

use audio::postprocess::PostProcessReport;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::script::Script;
use super::word_timing;
use crate::error::{Error, Result};
use models::piper::alignment::TimedPhoneme;

/// The granularity of a set of captions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptionLevel {
    /// One segment per chunk of text (a sentence, or sentences grouped by batching).
    Sentence,
    /// Segments as for `sentence`, each with its words timed (the built-in voice).
    Word,
}

/// Captions of one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Captions {
    /// How fine the segments are.
    pub level: CaptionLevel,
    /// The segments, in order, not overlapping.
    pub segments: Vec<CaptionSegment>,
}

/// One caption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaptionSegment {
    /// Start in the final audio, seconds.
    pub start: f64,
    /// End in the final audio, seconds.
    pub end: f64,
    /// The words as the request wrote them (whitespace collapsed); for SSML, as spoken.
    pub text: String,
    /// The words as the engine was given them (after lexicons and normalisation).
    pub spoken: String,
    /// Character offset of `text` in the request text (Unicode scalars); null for SSML.
    pub source_start: Option<usize>,
    /// Character offset just past `text` in the request text; null for SSML.
    pub source_end: Option<usize>,
    /// The spoken words with their times, when the engine reports phoneme timings (the
    /// built-in voice); absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<CaptionWord>,
}

/// One timed word of a caption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaptionWord {
    /// The word as spoken (after normalisation: "five", not "5"), punctuation trimmed.
    pub word: String,
    /// Start in the final audio, seconds.
    pub start: f64,
    /// End in the final audio, seconds.
    pub end: f64,
}

/// Where one block of a chunk's audio was put, in samples of the engine's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The chunk (index into [`Script::chunks`]).
    pub chunk: usize,
    /// First sample.
    pub start: usize,
    /// One past the last sample.
    pub end: usize,
    /// Where the block's phonemes lie, in the same samples (empty when the engine does
    /// not say).
    pub phonemes: Vec<TimedPhoneme>,
}

impl Span {
    /// The span of a block of `raw` engine samples that was put at `start..end` of the
    /// output (resampled or time-stretched when the lengths differ): its phonemes move and
    /// scale with it.
    pub fn placed(
        chunk: usize,
        phonemes: Vec<TimedPhoneme>,
        raw: usize,
        start: usize,
        end: usize,
    ) -> Self {
        let scale = |n: usize| {
            if raw == 0 || raw == end - start {
                n
            } else {
                (n as f64 * (end - start) as f64 / raw as f64).round() as usize
            }
        };
        Self {
            chunk,
            start,
            end,
            phonemes: phonemes
                .into_iter()
                .map(|p| TimedPhoneme {
                    start: start + scale(p.start),
                    end: start + scale(p.end),
                    ..p
                })
                .collect(),
        }
    }
}

/// A caption format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaptionFormat {
    /// SubRip.
    Srt,
    /// WebVTT.
    Vtt,
    /// The stored [`Captions`] object.
    Json,
}

impl CaptionFormat {
    /// The media type of the rendered captions.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Srt => "application/x-subrip; charset=utf-8",
            Self::Vtt => "text/vtt; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::Json => "json",
        }
    }
}

/// Builds the captions of an output from where its chunks were put in the engine's audio
/// (`spans`, at `sample_rate`) and what post-processing did to the time line (speed, then
/// trim of leading silence).
pub fn build(
    script: &Script,
    request_text: &str,
    spans: &[Span],
    sample_rate: u32,
    report: &PostProcessReport,
) -> Captions {
    let speed = report.speed_factor_applied.unwrap_or(1.0);
    let lead = report
        .trim_info
        .as_ref()
        .map_or(0.0, |trim| trim.leading_silence_removed_ms / 1000.0);
    let duration = report.output_duration_seconds;
    let to_final = |sample: usize| {
        let seconds = sample as f64 / f64::from(sample_rate.max(1)) / speed - lead;
        (seconds.clamp(0.0, duration) * 1000.0).round() / 1000.0
    };
    let chunks: Vec<&String> = script.chunks().collect();
    let characters: Vec<char> = request_text.chars().collect();
    let mut segments: Vec<CaptionSegment> = Vec::new();
    let mut current: Option<Span> = None;
    let finish = |span: Span, segments: &mut Vec<CaptionSegment>| {
        let (start, end) = (to_final(span.start), to_final(span.end));
        if end <= start {
            return;
        }
        let spoken = chunks
            .get(span.chunk)
            .map_or_else(String::new, |c| (*c).clone());
        let words = word_timing::time_words(&spoken, &span.phonemes)
            .into_iter()
            .map(|w| CaptionWord {
                word: w.word,
                start: to_final(w.start),
                end: to_final(w.end),
            })
            .filter(|w| w.end > w.start)
            .collect();
        let source = script.sources.get(span.chunk).cloned().flatten();
        let text = match &source {
            Some(range) => collapse(
                &characters
                    .get(range.start.min(characters.len())..range.end.min(characters.len()))
                    .map(|chars| chars.iter().collect::<String>())
                    .unwrap_or_default(),
            ),
            None => spoken.clone(),
        };
        segments.push(CaptionSegment {
            start,
            end,
            text,
            spoken,
            source_start: source.as_ref().map(|r| r.start),
            source_end: source.as_ref().map(|r| r.end),
            words,
        });
    };
    for span in spans {
        match current.as_mut() {
            Some(open) if open.chunk == span.chunk => {
                open.end = span.end;
                open.phonemes.extend_from_slice(&span.phonemes);
            }
            _ => {
                if let Some(done) = current.take() {
                    finish(done, &mut segments);
                }
                current = Some(span.clone());
            }
        }
    }
    if let Some(done) = current {
        finish(done, &mut segments);
    }
    let level = if !segments.is_empty() && segments.iter().all(|s| !s.words.is_empty()) {
        CaptionLevel::Word
    } else {
        CaptionLevel::Sentence
    };
    Captions { level, segments }
}

/// Whitespace runs as one space, trimmed (a caption line never holds a blank line, which
/// would end an SRT or WebVTT cue).
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `seconds` as `HH:MM:SS` + `separator` + milliseconds.
fn timestamp(seconds: f64, separator: char) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    format!(
        "{hours:02}:{minutes:02}:{:02}{separator}{:03}",
        rest / 1000,
        rest % 1000
    )
}

/// Renders captions in `format`.
pub fn render(captions: &Captions, format: CaptionFormat) -> Result<String> {
    Ok(match format {
        CaptionFormat::Srt => captions
            .segments
            .iter()
            .enumerate()
            .map(|(n, s)| {
                format!(
                    "{}\n{} --> {}\n{}\n\n",
                    n + 1,
                    timestamp(s.start, ','),
                    timestamp(s.end, ','),
                    collapse(&s.text)
                )
            })
            .collect(),
        CaptionFormat::Vtt => {
            let mut out = String::from("WEBVTT\n\n");
            for s in &captions.segments {
                // A cue's text may not hold "-->", and & and < start markup in WebVTT.
                let text = collapse(&s.text)
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace("-->", "--&gt;");
                out.push_str(&format!(
                    "{} --> {}\n{text}\n\n",
                    timestamp(s.start, '.'),
                    timestamp(s.end, '.')
                ));
            }
            out
        }
        CaptionFormat::Json => serde_json::to_string_pretty(captions)
            .map_err(|e| Error::Internal(format!("captions do not serialise: {e}")))?,
    })
}

/// One clip of a concatenation, for [`joined`]: its own captions and where it went.
#[derive(Debug, Clone)]
pub struct PlacedClip {
    /// The clip's captions (from its sidecar), if it has any.
    pub captions: Option<Captions>,
    /// Where its first kept sample is in the result, seconds.
    pub start: f64,
    /// Leading silence trimmed off it, seconds.
    pub trimmed_lead: f64,
    /// Its length in the result (after trimming), seconds.
    pub duration: f64,
}

/// The captions of a concatenation: each clip's own captions moved to where the clip
/// lies in the result (after trimming and crossfades), cut to the part of the clip that
/// was kept. Offsets into a clip's request text mean nothing in the joined result, so
/// they are dropped. `None` when no clip had captions.
pub fn joined(clips: &[PlacedClip]) -> Option<Captions> {
    if clips.iter().all(|clip| clip.captions.is_none()) {
        return None;
    }
    let round = |t: f64| (t * 1000.0).round() / 1000.0;
    let mut segments = Vec::new();
    let mut words_everywhere = true;
    for clip in clips {
        let Some(captions) = &clip.captions else {
            continue;
        };
        let end_of_clip = clip.start + clip.duration;
        let place =
            |t: f64| round((clip.start + t - clip.trimmed_lead).clamp(clip.start, end_of_clip));
        for segment in &captions.segments {
            let (start, end) = (place(segment.start), place(segment.end));
            if end <= start {
                continue;
            }
            let words: Vec<CaptionWord> = segment
                .words
                .iter()
                .map(|w| CaptionWord {
                    word: w.word.clone(),
                    start: place(w.start),
                    end: place(w.end),
                })
                .filter(|w| w.end > w.start)
                .collect();
            words_everywhere &= !words.is_empty();
            segments.push(CaptionSegment {
                start,
                end,
                text: segment.text.clone(),
                spoken: segment.spoken.clone(),
                source_start: None,
                source_end: None,
                words,
            });
        }
    }
    let level = if words_everywhere && !segments.is_empty() {
        CaptionLevel::Word
    } else {
        CaptionLevel::Sentence
    };
    Some(Captions { level, segments })
}

/// The captions stored in the sidecar of the output at `relative` (a path under
/// `outputs/`), if any.
pub async fn stored(store: &dyn storage::ObjectStore, relative: &str) -> Option<Captions> {
    let key = super::area::Area::Outputs.key(relative).ok()?;
    let sidecar_key = super::area::sidecar_key(&key).ok()?;
    let mut sidecar: serde_json::Value = super::area::read_json(store, &sidecar_key).await?;
    serde_json::from_value(sidecar.get_mut("captions")?.take()).ok()
}

/// The captions stored with an output (any of its formats' files): 404 when there is no
/// such output or it was made without captions.
pub async fn for_output(store: &dyn storage::ObjectStore, filename: &str) -> Result<Captions> {
    let entry =
        super::area::lookup(store, super::area::Area::Outputs, "filename", filename).await?;
    let sidecar: Option<serde_json::Value> = super::area::read_sidecar(store, &entry).await;
    sidecar
        .and_then(|mut sidecar| sidecar.get_mut("captions").map(serde_json::Value::take))
        .and_then(|captions| serde_json::from_value(captions).ok())
        .ok_or_else(|| Error::NotFound {
            what: "Captions (generate with \"captions\": true)",
            name: entry.relative.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::script::Part;
    use audio::trim::TrimInfo;

    fn script() -> Script {
        Script {
            parts: vec![Part::Speech {
                chunks: vec!["hello there.".into(), "five dollars.".into()],
                rate: 1.0,
                emphasis: Default::default(),
            }],
            ssml: false,
            warnings: Vec::new(),
            sources: vec![Some(0..12), Some(13..18)],
        }
    }

    fn span(chunk: usize, start: usize, end: usize) -> Span {
        Span {
            chunk,
            start,
            end,
            phonemes: Vec::new(),
        }
    }

    fn report(speed: Option<f64>, lead_ms: f64, duration: f64) -> PostProcessReport {
        PostProcessReport {
            input_duration_seconds: 3.0,
            output_duration_seconds: duration,
            speed_factor_applied: speed,
            trim_info: (lead_ms > 0.0).then_some(TrimInfo {
                trimmed: true,
                original_duration_ms: 3000.0,
                trimmed_duration_ms: 3000.0 - lead_ms,
                leading_silence_removed_ms: lead_ms,
                trailing_silence_removed_ms: 0.0,
            }),
            normalization: None,
        }
    }

    #[test]
    fn blocks_of_a_chunk_merge_and_keep_the_written_words() {
        let spans = [span(0, 0, 1000), span(0, 1000, 1500), span(1, 1500, 3000)];
        let captions = build(
            &script(),
            "Hello there. $5.",
            &spans,
            1000,
            &report(None, 0.0, 3.0),
        );
        assert_eq!(captions.segments.len(), 2);
        assert_eq!(captions.segments[0].text, "Hello there.");
        assert_eq!(
            (captions.segments[0].start, captions.segments[0].end),
            (0.0, 1.5)
        );
        assert_eq!(captions.segments[1].text, "$5.");
        assert_eq!(captions.segments[1].spoken, "five dollars.");
        assert_eq!(captions.segments[1].source_start, Some(13));
    }

    #[test]
    fn speed_and_trim_move_the_time_line() {
        let spans = [span(0, 0, 1000), span(1, 1000, 3000)];
        // Twice as fast, then 100 ms of leading silence trimmed.
        let captions = build(
            &script(),
            "Hello there. $5.",
            &spans,
            1000,
            &report(Some(2.0), 100.0, 1.4),
        );
        assert_eq!(
            (captions.segments[0].start, captions.segments[0].end),
            (0.0, 0.4)
        );
        assert_eq!(
            (captions.segments[1].start, captions.segments[1].end),
            (0.4, 1.4)
        );
    }

    #[test]
    fn joined_clips_move_their_captions() {
        let clip = |start: f64, end: f64, word: bool| Captions {
            level: CaptionLevel::Sentence,
            segments: vec![CaptionSegment {
                start,
                end,
                text: "Hi.".into(),
                spoken: "hi.".into(),
                source_start: Some(0),
                source_end: Some(3),
                words: if word {
                    vec![CaptionWord {
                        word: "hi".into(),
                        start,
                        end,
                    }]
                } else {
                    Vec::new()
                },
            }],
        };
        let result = joined(&[
            PlacedClip {
                captions: Some(clip(0.2, 1.0, true)),
                start: 0.0,
                trimmed_lead: 0.1,
                duration: 1.0,
            },
            PlacedClip {
                captions: None,
                start: 1.0,
                trimmed_lead: 0.0,
                duration: 0.5,
            },
            PlacedClip {
                captions: Some(clip(0.0, 2.0, true)),
                start: 1.4,
                trimmed_lead: 0.0,
                duration: 1.0,
            },
        ])
        .unwrap();
        let times: Vec<(f64, f64)> = result.segments.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(times, [(0.1, 0.9), (1.4, 2.4)]);
        assert_eq!(result.level, CaptionLevel::Word);
        assert_eq!(result.segments[0].source_start, None);
        assert!(
            joined(&[PlacedClip {
                captions: None,
                start: 0.0,
                trimmed_lead: 0.0,
                duration: 1.0
            }])
            .is_none()
        );
    }

    #[test]
    fn renders_srt_and_vtt() {
        let captions = Captions {
            level: CaptionLevel::Sentence,
            segments: vec![CaptionSegment {
                start: 3661.5,
                end: 3662.25,
                text: "A <b> & C --> D".into(),
                spoken: String::new(),
                source_start: None,
                source_end: None,
                words: Vec::new(),
            }],
        };
        let srt = render(&captions, CaptionFormat::Srt).unwrap();
        assert_eq!(srt, "1\n01:01:01,500 --> 01:01:02,250\nA <b> & C --> D\n\n");
        let vtt = render(&captions, CaptionFormat::Vtt).unwrap();
        assert_eq!(
            vtt,
            "WEBVTT\n\n01:01:01.500 --> 01:01:02.250\nA &lt;b> &amp; C --&gt; D\n\n"
        );
        let json: Captions =
            serde_json::from_str(&render(&captions, CaptionFormat::Json).unwrap()).unwrap();
        assert_eq!(json, captions);
    }
}
