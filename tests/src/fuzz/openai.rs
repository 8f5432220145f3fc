//! Generators for the OpenAI-compatible routes: `/v1/audio/speech` (and `/audio/speech`),
//! `/v1/models` and `/v1/audio/voices`.

use http::Method;

use super::generation::hostile_text;
use super::multipart::{UPLOAD_ROUTES, upload_case};
use super::rng::Rng;
use super::values::{
    damage_json, encode_all, encode_loose, jstr, mutations, object, odd_name, random_query, set,
    with_query, wrong_value,
};
use super::{Case, Seeds};

pub(crate) const OPENAI_FIELDS: &[&str] = &[
    "model",
    "input",
    "voice",
    "response_format",
    "speed",
    "stream_format",
    "instructions",
    "extra_body",
    "seed",
    "temperature",
    "exaggeration",
    "cfg_weight",
];

pub(crate) fn openai_value(rng: &mut Rng, seeds: &Seeds, field: &str) -> String {
    if rng.chance(45) {
        return wrong_value(rng);
    }
    match field {
        "model" => jstr(rng.pick_str(&[
            "tts-1",
            "tts-1-hd",
            "gpt-4o-mini-tts",
            "",
            "piper",
            "chatterbox",
            "../x",
            "x",
        ])),
        "voice" => match rng.below(3) {
            0 => jstr(&odd_name(rng, seeds)),
            1 => format!("{{\"id\":{}}}", jstr(&odd_name(rng, seeds))),
            _ => (*rng.pick(&[
                "\"alloy\"",
                "\"\"",
                "\"keep/narrator.wav\"",
                "{\"id\":\"alloy\"}",
                "{\"id\":\"\"}",
                "{\"id\":1}",
                "{\"id\":\"a\",\"x\":1}",
                "{}",
            ]))
            .to_owned(),
        },
        "input" => hostile_text(rng),
        "response_format" => jstr(rng.pick_str(&[
            "mp3", "opus", "aac", "flac", "wav", "pcm", "MP3", "wav32", "exe", "",
        ])),
        "speed" => {
            (*rng.pick(&["0.25", "4", "0.24", "4.01", "-1", "0", "1e308", "\"1\""])).to_owned()
        }
        "stream_format" => jstr(rng.pick_str(&["sse", "audio", "SSE", "", "raw"])),
        "instructions" => match rng.below(2) {
            0 => jstr(&"i".repeat(4097)),
            _ => jstr(rng.pick_str(&["", "\u{0}", "speak"])),
        },
        "extra_body" => (*rng.pick(&[
            "1",
            "\"x\"",
            "[]",
            "{\"speed\":99}",
            "{\"model\":1}",
            "{\"seed\":-1}",
            "{\"temperature\":NaN}",
        ]))
        .to_owned(),
        _ => (*rng.pick(&["-1", "2.0001", "4294967296", "1e308", "-0.0001"])).to_owned(),
    }
}

pub(crate) fn gen_openai_speech(rng: &mut Rng, seeds: &Seeds) -> Case {
    let (route, path) = if rng.chance(75) {
        ("/v1/audio/speech", "/v1/audio/speech")
    } else {
        ("/audio/speech", "/audio/speech")
    };
    let mut fields = vec![
        ("model".to_owned(), jstr("tts-1")),
        ("voice".to_owned(), jstr("alloy")),
        ("input".to_owned(), jstr("Hi.")),
        ("response_format".to_owned(), jstr("wav")),
    ];
    if rng.chance(15) {
        // A required field left out.
        let index = rng.below(3);
        fields.remove(index);
    }
    for _ in 0..mutations(rng) {
        let field = *rng.pick(OPENAI_FIELDS);
        let value = openai_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(20) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    let query = random_query(rng, &[], 100);
    Case::new(route, Method::POST, with_query(path, &query)).json(rng, body)
}

pub(crate) fn gen_openai_models(rng: &mut Rng, seeds: &Seeds) -> Case {
    if rng.chance(30) {
        return Case::new(
            "/v1/models",
            Method::GET,
            with_query("/v1/models", &random_query(rng, &[], 100)),
        );
    }
    let id = match rng.below(4) {
        0 => encode_loose(&odd_name(rng, seeds)),
        1 => (*rng.pick(&["%ff", "%c3%28", "%zz", "%", "tts-1%00", "%2e%2e"])).to_owned(),
        _ => encode_all(&odd_name(rng, seeds)),
    };
    let method = if rng.chance(15) {
        Method::HEAD
    } else {
        Method::GET
    };
    Case::new("/v1/models/{id}", method, format!("/v1/models/{id}"))
}

pub(crate) fn gen_openai_voices(rng: &mut Rng, seeds: &Seeds) -> Case {
    if rng.chance(25) {
        let method = if rng.chance(20) {
            Method::HEAD
        } else {
            Method::GET
        };
        return Case::new(
            "/v1/audio/voices",
            method,
            with_query("/v1/audio/voices", &random_query(rng, &[], 100)),
        );
    }
    upload_case(rng, seeds, &UPLOAD_ROUTES[4], None)
}
