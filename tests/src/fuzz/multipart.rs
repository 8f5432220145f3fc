//! Multipart forms: every route that reads one, with its fields and their hostile values,
//! and the many ways a form is broken (boundaries, truncation, unnamed parts, huge fields).

use http::Method;

use crate::fixtures::wav;

use super::audio::audio_bytes;
use super::rng::Rng;
use super::values::{QUERY_VALUES, odd_name};
use super::{Case, Seeds, summarize};

/// A file name for an upload: usually unique with an audio extension, sometimes hostile.
pub(crate) fn upload_name(rng: &mut Rng, seeds: &Seeds) -> String {
    let ext = *rng.pick(&[
        "wav", "mp3", "flac", "ogg", "m4a", "aac", "opus", "txt", "", "WAV", "wav.exe",
    ]);
    if rng.chance(20) {
        return format!("{}.{ext}", odd_name(rng, seeds));
    }
    let n = rng.next() % 1_000_000;
    if ext.is_empty() {
        format!("fuzz{n}")
    } else {
        format!("fuzz{n}.{ext}")
    }
}

/// One raw multipart part.
pub(crate) struct Part {
    headers: Vec<u8>,
    data: Vec<u8>,
}

impl Part {
    pub(crate) fn text(name: &str, value: &[u8]) -> Self {
        Self {
            headers: format!("Content-Disposition: form-data; name=\"{name}\"\r\n").into_bytes(),
            data: value.to_vec(),
        }
    }

    pub(crate) fn file(name: &str, file_name: &str, data: Vec<u8>) -> Self {
        Self {
            headers: format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n"
            )
            .into_bytes(),
            data,
        }
    }
}

pub(crate) fn encode_parts(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(&part.headers);
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// A text field of a form and the hostile values it may get (besides the generic ones).
struct TextField {
    name: &'static str,
    values: &'static [&'static str],
}

pub(crate) const BOUNDARY: &str = "fuzz-boundary-1234567890";

/// How many shapes [`multipart_case`] makes (0–7 well-formed, then one breakage each).
pub(crate) const MULTIPART_MODES: usize = 22;

/// A multipart request to `uri`: well-formed with hostile content, or broken in one of
/// many ways (no boundary, wrong boundary, truncated, unnamed parts, no file name, huge
/// field names, 300 parts, oversized or non-UTF-8 text, duplicate files, LF-only lines).
fn multipart_case(
    rng: &mut Rng,
    seeds: &Seeds,
    route: &'static str,
    uri: String,
    file_field: &str,
    texts: &[TextField],
    mode: Option<usize>,
) -> Case {
    let (audio, audio_label) = audio_bytes(rng);
    let file_name = upload_name(rng, seeds);
    let mut parts = vec![Part::file(file_field, &file_name, audio.clone())];
    let mut labels = vec![format!("{file_field}={file_name:?} ({audio_label})")];
    for field in texts {
        if rng.chance(55) {
            let value = match rng.below(4) {
                0 => odd_name(rng, seeds),
                1 => (*rng.pick(QUERY_VALUES)).to_owned(),
                _ if !field.values.is_empty() => (*rng.pick(field.values)).to_owned(),
                _ => odd_name(rng, seeds),
            };
            labels.push(format!(
                "{}={}",
                field.name,
                summarize(value.as_bytes(), 60)
            ));
            parts.push(Part::text(field.name, value.as_bytes()));
        }
    }
    rng.shuffle(&mut parts);
    let mut content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let mode = mode.unwrap_or_else(|| rng.below(MULTIPART_MODES));
    let body = match mode {
        0..=7 => encode_parts(BOUNDARY, &parts),
        8 => {
            content_type = "multipart/form-data".into();
            labels.push("no boundary in Content-Type".into());
            encode_parts(BOUNDARY, &parts)
        }
        9 => {
            labels.push("boundary differs from the body's".into());
            encode_parts("another-boundary", &parts)
        }
        10 => {
            let full = encode_parts(BOUNDARY, &parts);
            let cut = rng.below(full.len());
            labels.push(format!("truncated at {cut}/{} B", full.len()));
            full[..cut].to_vec()
        }
        11 => {
            labels.push("file part without filename".into());
            parts.push(Part::text(file_field, &audio));
            parts.retain(|p| !String::from_utf8_lossy(&p.headers).contains("filename="));
            encode_parts(BOUNDARY, &parts)
        }
        12 => {
            labels.push("part without a name".into());
            parts.push(Part {
                headers: b"Content-Disposition: form-data\r\n".to_vec(),
                data: b"x".to_vec(),
            });
            parts.push(Part {
                headers: Vec::new(),
                data: b"no disposition".to_vec(),
            });
            encode_parts(BOUNDARY, &parts)
        }
        13 => {
            labels.push("20,000-character field name".into());
            parts.push(Part::text(&"n".repeat(20_000), b"v"));
            encode_parts(BOUNDARY, &parts)
        }
        14 => {
            labels.push("300 parts".into());
            for i in 0..300 {
                parts.push(Part::text(&format!("f{i}"), b"v"));
            }
            encode_parts(BOUNDARY, &parts)
        }
        15 => {
            let name = texts.first().map_or("text", |f| f.name);
            labels.push(format!("{name} of 70,000 bytes"));
            parts.push(Part::text(name, "x".repeat(70_000).as_bytes()));
            encode_parts(BOUNDARY, &parts)
        }
        16 => {
            let name = texts.first().map_or("text", |f| f.name);
            labels.push(format!("{name} not UTF-8"));
            parts.push(Part::text(name, b"\xff\xfe\xc3\x28"));
            encode_parts(BOUNDARY, &parts)
        }
        17 => {
            labels.push("the file twice".into());
            parts.push(Part::file(file_field, "second.wav", wav()));
            encode_parts(BOUNDARY, &parts)
        }
        18 => {
            let raw = encode_parts(BOUNDARY, &parts);
            labels.push("LF line endings".into());
            String::from_utf8_lossy(&raw)
                .replace("\r\n", "\n")
                .into_bytes()
        }
        19 => {
            content_type = (*rng.pick(&[
                "multipart/mixed; boundary=fuzz-boundary-1234567890",
                "multipart/form-data; boundary=\"\"",
                "multipart/form-data; boundary=",
                "application/x-www-form-urlencoded",
                "application/json",
                "text/plain",
                "",
            ]))
            .into();
            labels.push(format!("Content-Type {content_type:?}"));
            encode_parts(BOUNDARY, &parts)
        }
        20 => {
            labels.push("empty body".into());
            Vec::new()
        }
        _ => {
            labels.push("only the closing boundary".into());
            format!("--{BOUNDARY}--\r\n").into_bytes()
        }
    };
    let mut case = Case::new(route, Method::POST, uri).body_bytes(body, labels.join("; "));
    if !content_type.is_empty() {
        case = case.header("content-type", content_type.into_bytes());
    }
    case
}

// --- The routes that read a form ----------------------------------------------------------

/// The text fields of a voice upload (`POST /api/v1/voice`).
const VOICE_TEXTS: &[TextField] = &[
    TextField {
        name: "name",
        values: &["", "\u{200b}", "Narrator"],
    },
    TextField {
        name: "description",
        values: &["", "x"],
    },
    TextField {
        name: "tags",
        values: &[",,,", "a,,b", " , "],
    },
    TextField {
        name: "folder_path",
        values: &["keep", "../keep", "/abs", "a//b", "a\\b"],
    },
    TextField {
        name: "default_parameters",
        values: &[
            "{",
            "[]",
            "null",
            "{\"temperature\":\"hot\"}",
            "{\"a\":NaN}",
            "\"x\"",
        ],
    },
    TextField {
        name: "overwrite",
        values: &["true", "maybe", "TRUE", "2", ""],
    },
];

/// The text fields of a VC input upload (`POST /api/v1/vc_input`).
const VC_INPUT_TEXTS: &[TextField] = &[
    TextField {
        name: "text",
        values: &["", "\u{200b}", "Hello"],
    },
    TextField {
        name: "folder_path",
        values: &["keep", "../keep", "/abs", "a//b"],
    },
    TextField {
        name: "project",
        values: &["keep", "other", "..", "unnamed"],
    },
    TextField {
        name: "overwrite",
        values: &["true", "maybe", "TRUE", "2", ""],
    },
];

/// The text fields of a voice conversion with an uploaded input (`POST /api/v1/vc`).
const VC_TEXTS: &[TextField] = &[
    TextField {
        name: "target_voice_source",
        values: &["keep/narrator.wav", "narrator", "", "../voices/x"],
    },
    TextField {
        name: "chunk_sec",
        values: &[
            "NaN",
            "1e999",
            "-1",
            "0",
            "301",
            "9999999999999999999",
            "1.5",
        ],
    },
    TextField {
        name: "overlap_sec",
        values: &["NaN", "inf", "-0.1", "5.1", "60"],
    },
    TextField {
        name: "export_formats",
        values: &["exe", ",", "wav,,mp3", "", "WAV"],
    },
    TextField {
        name: "project",
        values: &["unnamed", "..", "keep"],
    },
    TextField {
        name: "folder",
        values: &["other", "/abs"],
    },
    TextField {
        name: "disable_watermark",
        values: &["maybe", "false"],
    },
    TextField {
        name: "response_mode",
        values: &["url", "stream", ""],
    },
];

/// A route that reads a multipart form: where, its file field and its text fields.
pub(crate) struct UploadRoute {
    path: &'static str,
    file_field: &'static str,
    texts: &'static [TextField],
}

/// Every route that reads a multipart form.
pub(crate) const UPLOAD_ROUTES: [UploadRoute; 5] = [
    UploadRoute {
        path: "/api/v1/voice",
        file_field: "voice_file",
        texts: VOICE_TEXTS,
    },
    UploadRoute {
        path: "/api/v1/vc_input",
        file_field: "vc_input_file",
        texts: VC_INPUT_TEXTS,
    },
    UploadRoute {
        path: "/api/v1/vc",
        file_field: "input_audio",
        texts: VC_TEXTS,
    },
    UploadRoute {
        path: "/api/v1/concat/mixed",
        file_field: "uploaded_files",
        texts: &[TextField {
            name: "request_json",
            values: &["{", "[]", "null", "{\"segments\":[]}"],
        }],
    },
    UploadRoute {
        path: "/v1/audio/voices",
        file_field: "audio_sample",
        texts: &[TextField {
            name: "name",
            values: &["", " ", "\u{200b}", "narrator", "!!!", "a/b", "..", "🎤"],
        }],
    },
];

pub(crate) fn upload_case(
    rng: &mut Rng,
    seeds: &Seeds,
    route: &UploadRoute,
    mode: Option<usize>,
) -> Case {
    multipart_case(
        rng,
        seeds,
        route.path,
        route.path.to_owned(),
        route.file_field,
        route.texts,
        mode,
    )
}

/// A well-formed form for upload route `index` carrying `bytes` as its file, with the
/// other fields a request needs, so the audio itself is what gets judged.
pub(crate) fn form_with_file(index: usize, file_name: &str, bytes: Vec<u8>, label: &str) -> Case {
    let route = &UPLOAD_ROUTES[index];
    let mut parts = vec![Part::file(route.file_field, file_name, bytes)];
    match index {
        2 => parts.push(Part::text("target_voice_source", b"keep/narrator.wav")),
        3 => parts.push(Part::text(
            "request_json",
            br#"{"segments":[{"type":"upload","index":0},{"type":"silence","source":"(100ms)"}],"export_formats":["wav"]}"#,
        )),
        4 => parts.push(Part::text("name", file_name.as_bytes())),
        _ => {}
    }
    Case::new(route.path, Method::POST, route.path.to_owned())
        .body_bytes(
            encode_parts(BOUNDARY, &parts),
            format!("{} = {file_name:?} ({label})", route.file_field),
        )
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
}
