//! The systematic part of the suite: every hostile value of a pool tried on every place it
//! can go, sent before the random schedule.

use http::Method;

use crate::fixtures::wav;

use super::audio::{AUDIO_KINDS, audio_of_kind};
use super::generation::{CONCAT_SETTINGS, TTS_FIELDS, VC_FIELDS, concat_value, tts_value};
use super::multipart::{
    BOUNDARY, MULTIPART_MODES, Part, UPLOAD_ROUTES, encode_parts, form_with_file, upload_case,
};
use super::native::METADATA_FIELDS;
use super::openai::{OPENAI_FIELDS, openai_value};
use super::rng::Rng;
use super::values::{
    METHODS, ODD_NAMES, QUERY_VALUES, RANGES, ROUTES, SILENCE_TOKENS, UNKNOWN_PARAMS, encode_all,
    encode_loose, jstr, object, set, wrong_value,
};
use super::{Case, Expect, Seeds, summarize};

/// A POST of `fields` as one JSON object with a JSON content type, so only the values are
/// hostile.
fn json_case(route: &'static str, uri: String, fields: &[(String, String)]) -> Case {
    let body = object(fields).into_bytes();
    let note = format!("[application/json] {}", summarize(&body, 160));
    Case::new(route, Method::POST, uri)
        .body_bytes(body, note)
        .header("content-type", "application/json")
}

/// The systematic part of the suite: every `Range` on a seeded output, every hostile name
/// in every path parameter, every unknown parameter on every destructive route, every
/// hostile audio kind and broken-form shape on every upload route and, with `full`, every
/// field of every JSON body alone with wrong values, every silence token, every method on
/// every route and every hostile number in the listings' pagination.
pub(crate) fn corpus(rng: &mut Rng, seeds: &Seeds, full: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let output_path = seeds.outputs[0]
        .split('/')
        .map(encode_all)
        .collect::<Vec<_>>()
        .join("/");

    for range in RANGES {
        for method in [Method::GET, Method::HEAD] {
            let mut case = Case::new("/outputs/{path}", method, format!("/outputs/{output_path}"))
                .header("range", range.to_vec());
            case.note = format!("Range: {}", summarize(range, 60));
            cases.push(case);
        }
    }

    let deletes = [
        ("/api/v1/voice/{f}", "/api/v1/voice"),
        ("/api/v1/vc_input/{f}", "/api/v1/vc_input"),
        ("/api/v1/output/{f}", "/api/v1/output"),
    ];
    for name in ODD_NAMES {
        let (all, loose) = (encode_all(name), encode_loose(name));
        cases.push(Case::new(
            "/outputs/{path}",
            Method::GET,
            format!("/outputs/{loose}"),
        ));
        for (route, prefix) in deletes {
            cases.push(
                Case::new(
                    route,
                    Method::DELETE,
                    format!("{prefix}/{all}?confirm=true"),
                )
                .expect(Expect::SparesSeeds),
            );
        }
        if full {
            cases.push(
                json_case(
                    "/api/v1/voice/{f}/metadata",
                    format!("/api/v1/voice/{all}/metadata"),
                    &[("description".into(), jstr("fuzz"))],
                )
                .method(Method::PUT),
            );
            cases.push(Case::new(
                "/v1/models/{id}",
                Method::GET,
                format!("/v1/models/{loose}"),
            ));
        }
    }

    let destructive = [
        (
            "/api/v1/voices",
            "/api/v1/voices".to_owned(),
            "confirm=true&all=true&",
        ),
        (
            "/api/v1/vc_inputs",
            "/api/v1/vc_inputs".to_owned(),
            "confirm=true&all=true&",
        ),
        (
            "/api/v1/outputs",
            "/api/v1/outputs".to_owned(),
            "confirm=true&all=true&",
        ),
        (
            "/api/v1/voice/{f}",
            format!("/api/v1/voice/{}", encode_all(&seeds.voice)),
            "confirm=true&",
        ),
        (
            "/api/v1/vc_input/{f}",
            format!("/api/v1/vc_input/{}", encode_all(&seeds.vc_input)),
            "confirm=true&",
        ),
        (
            "/api/v1/output/{f}",
            format!("/api/v1/output/{}", encode_all(&seeds.outputs[0])),
            "confirm=true&",
        ),
    ];
    let params = if full {
        UNKNOWN_PARAMS
    } else {
        &UNKNOWN_PARAMS[..6]
    };
    for param in params {
        let value = encode_all(rng.pick_str(QUERY_VALUES));
        for (route, path, prefix) in &destructive {
            let uri = format!("{path}?{prefix}{}={value}", encode_all(param));
            cases.push(Case::new(route, Method::DELETE, uri).expect(Expect::OneOf(&[422])));
        }
        let uri = format!("/api/v1/cleanup?{}={value}", encode_all(param));
        cases.push(Case::new("/api/v1/cleanup", Method::POST, uri).expect(Expect::OneOf(&[422])));
    }

    for (index, route) in UPLOAD_ROUTES.iter().enumerate() {
        // The conversion route stores nothing: the persistent backends skip it.
        if !full && index == 2 {
            continue;
        }
        for mode in 8..MULTIPART_MODES {
            cases.push(upload_case(rng, seeds, route, Some(mode)));
        }
        for kind in 0..AUDIO_KINDS {
            let (bytes, label) = audio_of_kind(rng, kind);
            let extension = ["wav", "mp3", "flac", "ogg", "m4a", "aac"][kind % 6];
            let name = format!("kind{kind}-{}.{extension}", rng.next() % 1_000_000);
            cases.push(form_with_file(index, &name, bytes, &label));
        }
    }
    // Bodies over every limit: uploads (1–2 MB in this suite), URL-encoded forms (1 MB),
    // JSON bodies (64 KB on the VC and OpenAI routes, axum's 2 MB elsewhere).
    for index in 0..UPLOAD_ROUTES.len() {
        if !full && index == 2 {
            continue;
        }
        let mut big = wav();
        big.resize(2_500_000, 0);
        cases.push(form_with_file(index, "big.wav", big, "2.5 MB WAV"));
    }
    let oversized =
        |size: usize| format!("{{\"text\":\"{}\",\"files\":[]}}", "a".repeat(size)).into_bytes();
    let mut big_form = b"request_json=".to_vec();
    big_form.resize(1_100_000, b'a');
    cases.push(
        Case::new(
            "/api/v1/concat/mixed",
            Method::POST,
            "/api/v1/concat/mixed".into(),
        )
        .body_bytes(big_form, "1.1 MB URL-encoded form".into())
        .header("content-type", "application/x-www-form-urlencoded"),
    );
    for (route, method, uri, size) in [
        (
            "/api/v1/voice/{f}/metadata",
            Method::PUT,
            format!("/api/v1/voice/{}/metadata", encode_all(&seeds.voice)),
            3_000_000,
        ),
        (
            "/api/v1/concat",
            Method::POST,
            "/api/v1/concat".to_owned(),
            3_000_000,
        ),
        (
            "/api/v1/tts",
            Method::POST,
            "/api/v1/tts".to_owned(),
            3_000_000,
        ),
        ("/api/v1/vc", Method::POST, "/api/v1/vc".to_owned(), 100_000),
        (
            "/v1/audio/speech",
            Method::POST,
            "/v1/audio/speech".to_owned(),
            100_000,
        ),
    ] {
        if !full && route != "/api/v1/voice/{f}/metadata" && route != "/api/v1/concat" {
            continue;
        }
        cases.push(
            Case::new(route, method, uri)
                .body_bytes(oversized(size), format!("{size}-byte JSON"))
                .header("content-type", "application/json"),
        );
    }
    if !full {
        return cases;
    }

    let tts_base = || {
        vec![
            ("text".to_owned(), jstr("Hi.")),
            ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
        ]
    };
    for field in TTS_FIELDS {
        for i in 0..3 {
            let value = if i == 0 {
                wrong_value(rng)
            } else {
                tts_value(rng, seeds, field)
            };
            let mut fields = tts_base();
            set(&mut fields, field, value);
            cases.push(json_case("/api/v1/tts", "/api/v1/tts".into(), &fields));
        }
    }
    for field in VC_FIELDS {
        for _ in 0..3 {
            let mut fields = vec![
                ("input_audio_source".to_owned(), jstr(&seeds.vc_input)),
                ("target_voice_source".to_owned(), jstr(&seeds.voice)),
            ];
            set(&mut fields, field, wrong_value(rng));
            cases.push(json_case("/api/v1/vc", "/api/v1/vc".into(), &fields));
        }
    }
    for field in OPENAI_FIELDS {
        for _ in 0..4 {
            let mut fields = vec![
                ("model".to_owned(), jstr("tts-1")),
                ("voice".to_owned(), jstr("alloy")),
                ("input".to_owned(), jstr("Hi.")),
                ("response_format".to_owned(), jstr("wav")),
            ];
            let value = openai_value(rng, seeds, field);
            set(&mut fields, field, value);
            cases.push(json_case(
                "/v1/audio/speech",
                "/v1/audio/speech".into(),
                &fields,
            ));
        }
    }
    let files = format!("[{},\"(100ms)\"]", jstr(&seeds.outputs[0]));
    for field in CONCAT_SETTINGS {
        for _ in 0..3 {
            let mut fields = vec![("files".to_owned(), files.clone())];
            let value = concat_value(rng, seeds, field);
            set(&mut fields, field, value);
            cases.push(json_case(
                "/api/v1/concat",
                "/api/v1/concat?response_mode=url".into(),
                &fields,
            ));
        }
    }
    for _ in 0..4 {
        cases.push(json_case(
            "/api/v1/concat",
            "/api/v1/concat".into(),
            &[("files".to_owned(), wrong_value(rng))],
        ));
    }
    for token in SILENCE_TOKENS {
        let fields = [
            (
                "files".to_owned(),
                format!("[{},{}]", jstr(&seeds.outputs[0]), jstr(token)),
            ),
            ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
        ];
        cases.push(json_case(
            "/api/v1/concat",
            "/api/v1/concat?response_mode=url".into(),
            &fields,
        ));
        let request_json = format!(
            r#"{{"segments":[{{"type":"upload","index":0}},{{"type":"silence","source":{}}}],"export_formats":["wav"]}}"#,
            jstr(token)
        );
        let parts = [
            Part::text("request_json", request_json.as_bytes()),
            Part::file("uploaded_files", "clip.wav", wav()),
        ];
        cases.push(
            Case::new(
                "/api/v1/concat/mixed",
                Method::POST,
                "/api/v1/concat/mixed?response_mode=url".into(),
            )
            .body_bytes(
                encode_parts(BOUNDARY, &parts),
                format!("upload + silence {token}"),
            )
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
        );
    }
    for field in METADATA_FIELDS {
        for _ in 0..3 {
            let case = json_case(
                "/api/v1/voice/{f}/metadata",
                format!("/api/v1/voice/{}/metadata", encode_all(&seeds.voice)),
                &[((*field).to_owned(), wrong_value(rng))],
            );
            cases.push(case.method(Method::PUT));
        }
    }

    for route in ROUTES {
        for method in METHODS {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let mut case = Case::new("*", method, (*route).to_owned());
            case.route = "ANY METHOD on every route";
            cases.push(case);
        }
        // A stranger's web page trying to change state: refused in the route's dialect.
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let mut case =
                Case::new("*", method, (*route).to_owned()).header("origin", "http://evil.example");
            case.route = "foreign Origin on every route";
            cases.push(case);
        }
    }

    // Escapes that decode to invalid UTF-8, and broken escapes, in every path parameter.
    for escape in ["%ff", "%c3%28", "%ed%a0%80", "%zz", "%"] {
        for (route, uri) in [
            (
                "/api/v1/voice/{f}/metadata",
                format!("/api/v1/voice/{escape}/metadata"),
            ),
            (
                "/api/v1/voice/{f}",
                format!("/api/v1/voice/{escape}?confirm=true"),
            ),
            (
                "/api/v1/vc_input/{f}",
                format!("/api/v1/vc_input/{escape}?confirm=true"),
            ),
            (
                "/api/v1/output/{f}",
                format!("/api/v1/output/{escape}?confirm=true"),
            ),
            ("/outputs/{path}", format!("/outputs/{escape}")),
            ("/v1/models/{id}", format!("/v1/models/{escape}")),
        ] {
            let method = match route {
                "/api/v1/voice/{f}/metadata" => Method::PUT,
                "/outputs/{path}" | "/v1/models/{id}" => Method::GET,
                _ => Method::DELETE,
            };
            cases.push(Case::new(route, method, uri).expect(Expect::SparesSeeds));
        }
    }

    // Every hostile value as a listing's page or page_size.
    for (route, path) in [
        ("/api/v1/voices", "/api/v1/voices"),
        ("/api/v1/vc_inputs", "/api/v1/vc_inputs"),
        ("/api/v1/outputs", "/api/v1/outputs"),
    ] {
        for value in QUERY_VALUES {
            let name = rng.pick_str(&["page", "page_size"]);
            let uri = format!("{path}?{name}={}", encode_all(value));
            cases.push(Case::new(route, Method::GET, uri));
        }
    }
    cases
}
