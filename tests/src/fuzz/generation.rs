//! Generators for the generation routes: TTS, voice conversion, concatenation of stored
//! outputs and mixed concatenation with uploads.

use http::Method;

use super::audio::audio_bytes;
use super::multipart::{BOUNDARY, Part, UPLOAD_ROUTES, encode_parts, upload_case, upload_name};
use super::rng::Rng;
use super::values::{
    FORMAT_LISTS, SILENCE_TOKENS, damage_json, encode_all, jstr, long_text, mutations, object,
    odd_name, random_query, set, with_query, wrong_value,
};
use super::{Case, Seeds, summarize};

// --- TTS ----------------------------------------------------------------------------------------

pub(crate) const TTS_FIELDS: &[&str] = &[
    "text",
    "model",
    "reference_audio_filename",
    "exaggeration",
    "temperature",
    "seed",
    "cfg_weight",
    "top_p",
    "min_p",
    "repetition_penalty",
    "num_candidates_per_chunk",
    "max_attempts_per_candidate",
    "bypass_whisper_checking",
    "whisper_model_name",
    "use_faster_whisper",
    "use_longest_transcript_on_fail",
    "enable_batching",
    "smart_batch_short_sentences",
    "to_lowercase",
    "normalize_spacing",
    "fix_dot_letters",
    "remove_reference_numbers",
    "use_auto_editor",
    "keep_original_wav_ae",
    "ae_threshold",
    "ae_margin",
    "normalize_audio",
    "normalize_method",
    "normalize_level",
    "normalize_tp",
    "normalize_lra",
    "sound_words_field",
    "speed_factor",
    "speed_factor_library",
    "project",
    "folder",
    "trim",
    "trim_threshold_ms",
    "export_formats",
    "disable_watermark",
    "response_mode",
];

/// Texts with nothing to speak, or beyond the limits (never a long speakable text).
pub(crate) fn hostile_text(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => jstr(&long_text()),
        _ => jstr(rng.pick_str(&[
            "...",
            "\u{200b}",
            "\u{200b}\u{200c}\u{200d}\u{feff}",
            " ",
            "",
            "!!!???",
            "\u{0}",
            "\u{1}\u{2}",
            "(500ms)",
            "😀",
            "\u{202e}",
            "-- -- --",
            "Hi.",
            "Ok",
        ])),
    }
}

/// A value for one TTS field: a wrong type, an out-of-range number, or a field-specific
/// hostile value.
pub(crate) fn tts_value(rng: &mut Rng, seeds: &Seeds, field: &str) -> String {
    if rng.chance(50) {
        let value = wrong_value(rng);
        // A long string in `text` is over the limit; anything else generic is fine too.
        return value;
    }
    match field {
        "text" => hostile_text(rng),
        "export_formats" => (*rng.pick(FORMAT_LISTS)).to_owned(),
        "project" | "folder" | "reference_audio_filename" => match rng.below(4) {
            0 => jstr(rng.pick_str(&[
                "http://127.0.0.1:9/x.wav",
                "https://[::1]:9/v.wav",
                "file:///etc/passwd",
                "unnamed",
            ])),
            1 => jstr(&seeds.voice),
            _ => jstr(&odd_name(rng, seeds)),
        },
        "model" => jstr(rng.pick_str(&["piper", "chatterbox", "auto", "PIPER", "gpt", "", " "])),
        "seed" => {
            (*rng.pick(&["-1", "4294967296", "9223372036854775807", "1.5", "\"7\""])).to_owned()
        }
        "num_candidates_per_chunk" | "max_attempts_per_candidate" | "trim_threshold_ms" => {
            (*rng.pick(&["0", "11", "-1", "4294967295", "4294967296", "49", "1001"])).to_owned()
        }
        "speed_factor" => (*rng.pick(&["0", "0.24", "4.01", "-1", "1e308", "5e-324"])).to_owned(),
        "normalize_method" | "speed_factor_library" | "whisper_model_name" | "response_mode" => {
            jstr(rng.pick_str(&["", "EBU", "peak ", "librosa", "x", "huge"]))
        }
        _ => (*rng.pick(&[
            "-0.0001", "2.0001", "1e308", "-1e308", "5e-324", "100", "-100",
        ]))
        .to_owned(),
    }
}

pub(crate) fn gen_tts(rng: &mut Rng, seeds: &Seeds) -> Case {
    let mut fields = vec![
        ("text".to_owned(), jstr("Hi.")),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    // Most cases break one field, so validation runs past the first problem; some break
    // several at once.
    for _ in 0..mutations(rng) {
        let field = *rng.pick(TTS_FIELDS);
        let value = tts_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    if rng.chance(10) {
        fields.push((odd_name(rng, seeds), wrong_value(rng)));
    }
    let raw = object(&fields);
    let body = if rng.chance(20) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    Case::new(
        "/api/v1/tts",
        Method::POST,
        with_query("/api/v1/tts", &query),
    )
    .json(rng, body)
}

// --- VC ---------------------------------------------------------------------------------------

pub(crate) const VC_FIELDS: &[&str] = &[
    "input_audio_source",
    "target_voice_source",
    "chunk_sec",
    "overlap_sec",
    "disable_watermark",
    "export_formats",
    "project",
    "folder",
    "response_mode",
];

pub(crate) fn gen_vc(rng: &mut Rng, seeds: &Seeds) -> Case {
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    let uri = with_query("/api/v1/vc", &query);
    if rng.chance(40) {
        let mut case = upload_case(rng, seeds, &UPLOAD_ROUTES[2], None);
        case.uri = uri;
        return case;
    }
    let mut fields = vec![
        ("input_audio_source".to_owned(), jstr(&seeds.vc_input)),
        ("target_voice_source".to_owned(), jstr(&seeds.voice)),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    for _ in 0..mutations(rng) {
        let field = *rng.pick(VC_FIELDS);
        let value = match (field, rng.below(2)) {
            ("chunk_sec", 0) => {
                (*rng.pick(&["0", "301", "-1", "9223372036854775808", "1.5"])).to_owned()
            }
            ("overlap_sec", 0) => (*rng.pick(&["-0.1", "5.1", "60", "1e308"])).to_owned(),
            ("export_formats", 0) => (*rng.pick(FORMAT_LISTS)).to_owned(),
            ("input_audio_source" | "target_voice_source" | "project" | "folder", 0) => {
                jstr(&odd_name(rng, seeds))
            }
            _ => wrong_value(rng),
        };
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(20) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    Case::new("/api/v1/vc", Method::POST, uri).json(rng, body)
}

// --- Concatenation ---------------------------------------------------------------------------

pub(crate) const CONCAT_SETTINGS: &[&str] = &[
    "export_formats",
    "normalize_levels",
    "crossfade_ms",
    "pause_duration_ms",
    "pause_variation_ms",
    "trim",
    "trim_threshold_ms",
    "output_filename",
    "project",
    "folder",
    "seed",
    "mp3_bitrate_kbps",
    "opus_bitrate_kbps",
    "response_mode",
];

/// A value for one concat setting.
pub(crate) fn concat_value(rng: &mut Rng, seeds: &Seeds, field: &str) -> String {
    if rng.chance(45) {
        return wrong_value(rng);
    }
    match field {
        "export_formats" => (*rng.pick(FORMAT_LISTS)).to_owned(),
        "crossfade_ms" => (*rng.pick(&["5001", "99999", "-1", "4294967296", "\"100\""])).to_owned(),
        "pause_duration_ms" => (*rng.pick(&["3001", "-1", "4294967295", "3000"])).to_owned(),
        "pause_variation_ms" => (*rng.pick(&["501", "-5", "4294967295"])).to_owned(),
        "trim_threshold_ms" => (*rng.pick(&["0", "49", "1001", "4294967295"])).to_owned(),
        "seed" => (*rng.pick(&[
            "-1",
            "1.5",
            "18446744073709551616",
            "\"7\"",
            "18446744073709551615",
        ]))
        .to_owned(),
        "mp3_bitrate_kbps" | "opus_bitrate_kbps" => {
            (*rng.pick(&["0", "1", "7", "65535", "65536", "-1", "100000"])).to_owned()
        }
        "output_filename" | "project" | "folder" => match rng.below(3) {
            0 => jstr(rng.pick_str(&["", "x.exe", "a/b.wav", "../x.wav", "unnamed", "x.wav.json"])),
            _ => jstr(&odd_name(rng, seeds)),
        },
        _ => (*rng.pick(&["\"yes\"", "1", "null", "\"\""])).to_owned(),
    }
}

/// One item of a concat `files` list: silence tokens, seeded outputs, sidecars, other
/// areas, traversal, or not a string at all.
fn concat_item(rng: &mut Rng, seeds: &Seeds) -> String {
    match rng.below(10) {
        0..=3 => jstr(rng.pick_str(SILENCE_TOKENS)),
        4 => jstr(rng.pick(seeds.outputs.as_slice()).as_str()),
        5 => jstr(&format!("{}.json", seeds.outputs[0])),
        6 => jstr(rng.pick_str(&[
            "voices/keep/narrator.wav",
            "../voices/keep/narrator.wav",
            "missing.wav",
            "keep/",
        ])),
        7 => jstr(&odd_name(rng, seeds)),
        _ => (*rng.pick(&["1", "null", "[]", "{}", "true"])).to_owned(),
    }
}

pub(crate) fn gen_concat(rng: &mut Rng, seeds: &Seeds) -> Case {
    let items: Vec<String> = (0..rng.below(5)).map(|_| concat_item(rng, seeds)).collect();
    let mut fields = vec![
        ("files".to_owned(), format!("[{}]", items.join(","))),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    if rng.chance(20) {
        set(&mut fields, "files", wrong_value(rng));
    }
    for _ in 0..rng.below(3) {
        let field = *rng.pick(CONCAT_SETTINGS);
        let value = concat_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(15) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    Case::new(
        "/api/v1/concat",
        Method::POST,
        with_query("/api/v1/concat", &query),
    )
    .json(rng, body)
}

/// A `request_json` for a mixed concatenation: segments of every wrong shape.
fn mixed_request_json(rng: &mut Rng, seeds: &Seeds) -> String {
    let mut segments = Vec::new();
    for _ in 0..rng.below(5) {
        let mut segment = Vec::new();
        let kind = *rng.pick(&[
            "\"upload\"",
            "\"silence\"",
            "\"server_file\"",
            "\"\"",
            "\"UPLOAD\"",
            "\"file\"",
            "1",
            "null",
        ]);
        segment.push(("type".to_owned(), kind.to_owned()));
        if rng.chance(60) {
            let source = match rng.below(4) {
                0 => jstr(rng.pick_str(SILENCE_TOKENS)),
                1 => jstr(rng.pick(seeds.outputs.as_slice()).as_str()),
                2 => jstr(&odd_name(rng, seeds)),
                _ => wrong_value(rng),
            };
            segment.push(("source".to_owned(), source));
        }
        if rng.chance(50) {
            let index = *rng.pick(&[
                "0",
                "1",
                "2",
                "-1",
                "1e999",
                "18446744073709551616",
                "9223372036854775807",
                "\"0\"",
                "null",
                "1.5",
            ]);
            segment.push(("index".to_owned(), index.to_owned()));
        }
        segments.push(object(&segment));
    }
    let mut fields = vec![
        ("segments".to_owned(), format!("[{}]", segments.join(","))),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    if rng.chance(15) {
        set(&mut fields, "segments", wrong_value(rng));
    }
    for _ in 0..rng.below(3) {
        let field = *rng.pick(CONCAT_SETTINGS);
        let value = concat_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    if rng.chance(15) {
        String::from_utf8_lossy(&damage_json(rng, raw)).into_owned()
    } else {
        raw
    }
}

pub(crate) fn gen_concat_mixed(rng: &mut Rng, seeds: &Seeds) -> Case {
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    let uri = with_query("/api/v1/concat/mixed", &query);
    let request_json = mixed_request_json(rng, seeds);
    match rng.below(10) {
        // URL-encoded, as clients without uploads send it.
        0 | 1 => {
            let body = if rng.chance(20) {
                b"request_json=%zz&&=".to_vec()
            } else {
                format!("request_json={}", encode_all(&request_json)).into_bytes()
            };
            let note = format!(
                "urlencoded request_json={}",
                summarize(request_json.as_bytes(), 160)
            );
            Case::new("/api/v1/concat/mixed", Method::POST, uri)
                .body_bytes(body, note)
                .header("content-type", "application/x-www-form-urlencoded")
        }
        // A well-formed form: request_json plus 0–3 uploads (garbage or real).
        2..=6 => {
            let mut parts = Vec::new();
            let mut labels = vec![format!(
                "request_json={}",
                summarize(request_json.as_bytes(), 160)
            )];
            if rng.chance(90) {
                parts.push(Part::text("request_json", request_json.as_bytes()));
            }
            for _ in 0..rng.below(4) {
                let (audio, label) = audio_bytes(rng);
                let field = *rng.pick(&["uploaded_files", "uploaded_files[]", "file"]);
                parts.push(Part::file(field, &upload_name(rng, seeds), audio));
                labels.push(format!("{field}: {label}"));
            }
            Case::new("/api/v1/concat/mixed", Method::POST, uri)
                .body_bytes(encode_parts(BOUNDARY, &parts), labels.join("; "))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
        }
        // A broken form.
        _ => {
            let mut case = upload_case(rng, seeds, &UPLOAD_ROUTES[3], None);
            case.uri = uri;
            case
        }
    }
}
