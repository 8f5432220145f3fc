//! Generators for the native library routes (`/api/v1/…` listings, folders, voice
//! metadata, deletes and uploads) and for output downloads (`/outputs/…`).

use http::Method;

use super::audio::audio_bytes;
use super::multipart::{BOUNDARY, Part, UPLOAD_ROUTES, encode_parts, upload_case};
use super::rng::Rng;
use super::values::{
    ODD_NAMES, QUERY_VALUES, RANGES, UNKNOWN_PARAMS, damage_json, encode_all, encode_loose, jstr,
    object, odd_name, random_query, set, with_query, wrong_value,
};
use super::{Case, Expect, Seeds, summarize};

// --- Library listings and folders --------------------------------------------------------

pub(crate) fn gen_list(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path, known): (&'static str, &str, &[&str]) = match rng.below(3) {
        0 => (
            "/api/v1/voices",
            "/api/v1/voices",
            &["page", "page_size", "search", "folder", "project"],
        ),
        1 => (
            "/api/v1/vc_inputs",
            "/api/v1/vc_inputs",
            &[
                "page",
                "page_size",
                "search",
                "filenames",
                "folder",
                "project",
            ],
        ),
        _ => (
            "/api/v1/outputs",
            "/api/v1/outputs",
            &[
                "page",
                "page_size",
                "generation_type",
                "search",
                "filenames",
                "folder",
                "project",
            ],
        ),
    };
    let mut query = random_query(rng, known, 25);
    if rng.chance(30) {
        // Traversal in the folder filters, which must never list outside the area.
        let name = *rng.pick(&["folder", "project", "search", "filenames"]);
        let value = encode_all(rng.pick_str(ODD_NAMES));
        query = format!("{query}&{name}={value}");
    }
    let method = if rng.chance(15) {
        Method::HEAD
    } else {
        Method::GET
    };
    Case::new(route, method, with_query(path, &query))
}

pub(crate) fn gen_folders(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path) = *rng.pick(&[
        ("/api/v1/voices/folders", "/api/v1/voices/folders"),
        ("/api/v1/vc_inputs/folders", "/api/v1/vc_inputs/folders"),
        ("/api/v1/outputs/folders", "/api/v1/outputs/folders"),
    ]);
    let method = if rng.chance(25) {
        Method::HEAD
    } else {
        Method::GET
    };
    Case::new(
        route,
        method,
        with_query(path, &random_query(rng, &[], 100)),
    )
}

// --- Voice metadata ------------------------------------------------------------------------

pub(crate) const METADATA_FIELDS: &[&str] = &[
    "name",
    "description",
    "tags",
    "folder_path",
    "default_parameters",
];

pub(crate) fn gen_metadata(rng: &mut Rng, seeds: &Seeds) -> Case {
    let target = if rng.chance(50) {
        encode_all(&seeds.voice)
    } else if rng.chance(80) {
        encode_all(&odd_name(rng, seeds))
    } else {
        encode_loose(&odd_name(rng, seeds))
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let field = *rng.pick(METADATA_FIELDS);
        let value = match (field, rng.below(3)) {
            ("folder_path", 0) => jstr(&odd_name(rng, seeds)),
            ("tags", 0) => {
                (*rng.pick(&["[\"a\",1]", "[\"\"]", "\"a,b\"", "[[\"x\"]]", "[null]"])).to_owned()
            }
            ("default_parameters", 0) => (*rng.pick(&[
                "[]",
                "\"x\"",
                "{\"temperature\":NaN}",
                "{\"temperature\":\"hot\"}",
                "{\"seed\":1e999}",
                "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":null}]}}}",
            ]))
            .to_owned(),
            _ => wrong_value(rng),
        };
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(25) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    Case::new(
        "/api/v1/voice/{f}/metadata",
        Method::PUT,
        format!("/api/v1/voice/{target}/metadata"),
    )
    .json(rng, body)
}

// --- Deletes (destructive: every generated request must be refused) ------------------------

/// Queries a single delete must refuse, as (query, whether it names an unknown parameter).
fn refused_confirm(rng: &mut Rng) -> (String, bool) {
    match rng.below(7) {
        0 => (String::new(), false),
        1 => ("confirm=false".into(), false),
        2 => (
            format!(
                "confirm={}",
                encode_all(
                    rng.pick_str(&["maybe", "1", "TRUE", "yes", "NaN", "tru", "\0", "1e999"])
                )
            ),
            false,
        ),
        3 => ("confirm=true&confirm=true".into(), false),
        _ => {
            let unknown = encode_all(rng.pick_str(UNKNOWN_PARAMS));
            let value = encode_all(rng.pick_str(QUERY_VALUES));
            (format!("confirm=true&{unknown}={value}"), true)
        }
    }
}

pub(crate) fn gen_delete_one(rng: &mut Rng, seeds: &Seeds) -> Case {
    let (route, prefix, seeded): (&'static str, &str, &str) = match rng.below(3) {
        0 => ("/api/v1/voice/{f}", "/api/v1/voice", seeds.voice.as_str()),
        1 => (
            "/api/v1/vc_input/{f}",
            "/api/v1/vc_input",
            seeds.vc_input.as_str(),
        ),
        _ => (
            "/api/v1/output/{f}",
            "/api/v1/output",
            seeds.outputs[0].as_str(),
        ),
    };
    let (query, unknown) = refused_confirm(rng);
    if rng.chance(50) {
        // A seeded file: only a refused query may reach it.
        let name = encode_all(seeded);
        let expect = if unknown {
            Expect::OneOf(&[422])
        } else {
            Expect::Refused
        };
        return Case::new(
            route,
            Method::DELETE,
            with_query(&format!("{prefix}/{name}"), &query),
        )
        .expect(expect);
    }
    // A hostile name, even with confirm=true: no seeded object may go.
    let name = odd_name(rng, seeds);
    let encoded = if rng.chance(80) {
        encode_all(&name)
    } else {
        encode_loose(&name)
    };
    if rng.chance(50) {
        let uri = with_query(&format!("{prefix}/{encoded}"), "confirm=true");
        return Case::new(route, Method::DELETE, uri).expect(Expect::SparesSeeds);
    }
    let uri = with_query(&format!("{prefix}/{encoded}"), &query);
    let expect = if unknown && !name.is_empty() && encoded == encode_all(&name) {
        Expect::OneOf(&[422])
    } else {
        Expect::Refused
    };
    Case::new(route, Method::DELETE, uri).expect(expect)
}

pub(crate) fn gen_delete_many(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path, filters): (&'static str, &str, &[&str]) = match rng.below(3) {
        0 => (
            "/api/v1/voices",
            "/api/v1/voices",
            &["folder", "project", "tag", "search", "filenames"],
        ),
        1 => (
            "/api/v1/vc_inputs",
            "/api/v1/vc_inputs",
            &["folder", "project", "search", "filenames"],
        ),
        _ => (
            "/api/v1/outputs",
            "/api/v1/outputs",
            &[
                "folder",
                "project",
                "generation_type",
                "search",
                "filenames",
            ],
        ),
    };
    let filter = *rng.pick(filters);
    let (query, expect) = match rng.below(8) {
        // Unknown parameters, also beside a filter that would match the seeds: 422.
        0..=2 => {
            let unknown = encode_all(rng.pick_str(UNKNOWN_PARAMS));
            let value = encode_all(rng.pick_str(QUERY_VALUES));
            let base = *rng.pick(&[
                "confirm=true&all=true",
                "confirm=true&folder=keep",
                "confirm=true",
                "",
            ]);
            let query = if base.is_empty() {
                format!("{unknown}={value}")
            } else {
                format!("{base}&{unknown}={value}")
            };
            (query, Expect::OneOf(&[422]))
        }
        3 => (format!("{filter}=keep"), Expect::Refused),
        4 => ("confirm=true".into(), Expect::Refused),
        5 => (
            format!("confirm=true&all=true&{filter}=keep"),
            Expect::Refused,
        ),
        6 => (
            format!(
                "confirm={}&all=true",
                encode_all(rng.pick_str(&["1", "yes", "TRUE", "maybe", "", "NaN"]))
            ),
            Expect::Refused,
        ),
        _ => {
            let folder = *rng.pick(&["../keep", "/keep", "keep/../..", "..", "a//b", "a\\b", "\0"]);
            (
                format!("confirm=true&folder={}", encode_all(folder)),
                Expect::Refused,
            )
        }
    };
    Case::new(route, Method::DELETE, with_query(path, &query)).expect(expect)
}

// --- Uploads ----------------------------------------------------------------------------------

pub(crate) fn gen_voice_upload(rng: &mut Rng, seeds: &Seeds) -> Case {
    let mut case = upload_case(rng, seeds, &UPLOAD_ROUTES[0], None);
    if rng.chance(25) {
        // Broken audio over the seeded voice with overwrite=true: refused, and the seed stays.
        let (audio, label) = audio_bytes(rng);
        let (audio, label) = if label.starts_with("real") {
            (b"not audio".to_vec(), "\"not audio\"".to_owned())
        } else {
            (audio, label)
        };
        let form = vec![
            Part::file("voice_file", "narrator.wav", audio),
            Part::text("folder_path", b"keep"),
            Part::text("overwrite", b"true"),
        ];
        case = Case::new("/api/v1/voice", Method::POST, "/api/v1/voice".into())
            .body_bytes(
                encode_parts(BOUNDARY, &form),
                format!("overwrite the seeded voice with {label}"),
            )
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            );
    }
    case
}

pub(crate) fn gen_vc_input_upload(rng: &mut Rng, seeds: &Seeds) -> Case {
    upload_case(rng, seeds, &UPLOAD_ROUTES[1], None)
}

// --- Downloads --------------------------------------------------------------------------------

pub(crate) fn gen_download(rng: &mut Rng, seeds: &Seeds) -> Case {
    let seeded = rng.pick(&seeds.outputs).clone();
    let path = match rng.below(8) {
        0..=2 => seeded
            .split('/')
            .map(encode_all)
            .collect::<Vec<_>>()
            .join("/"),
        3 => format!("{}.json", seeded),
        4 => encode_loose(&odd_name(rng, seeds)),
        5 => encode_all(&odd_name(rng, seeds)),
        6 => (*rng.pick(&[
            "../voices/keep/narrator.wav",
            "%2e%2e/voices/keep/narrator.wav",
            "keep%2F..%2F..%2Fvoices%2Fkeep%2Fnarrator.wav",
            "/etc/passwd",
            "keep/",
            "keep//x.wav",
            "%5c..%5cx.wav",
            "%00",
            "%ff%fe.wav",
            "keep/%2e%2e/%2e%2e/journal/",
            ".",
            "..",
        ]))
        .to_owned(),
        _ => format!("keep/missing{}.wav", rng.below(100)),
    };
    let method = if rng.chance(30) {
        Method::HEAD
    } else {
        Method::GET
    };
    let mut case = Case::new(
        "/outputs/{path}",
        method,
        with_query(&format!("/outputs/{path}"), &random_query(rng, &[], 100)),
    );
    if rng.chance(85) {
        let range = if rng.chance(30) {
            let a = rng.next() % 200_000;
            let b = rng.next() % 200_000;
            format!("bytes={a}-{b}").into_bytes()
        } else {
            rng.pick(RANGES).to_vec()
        };
        case.note = format!("Range: {}", summarize(&range, 60));
        case = case.header("range", range);
    }
    if case.method == Method::HEAD {
        case.route = "/outputs/{path}";
    }
    case
}
