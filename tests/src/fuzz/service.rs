//! Generators for the service routes (health, config, resources, cleanup), the
//! documentation, and the router's edges: any method on every route, and unknown routes.

use http::Method;

use super::rng::Rng;
use super::values::{
    CONTENT_TYPES, METHODS, QUERY_VALUES, ROUTES, UNKNOWN_PARAMS, encode_all, random_query,
    with_query,
};
use super::{Case, Expect, Seeds, summarize};

// --- Service routes and documentation ------------------------------------------------------

pub(crate) fn gen_admin(rng: &mut Rng, _: &Seeds) -> Case {
    match rng.below(6) {
        0 => {
            // Unknown parameters on the cleanup: 422, nothing done.
            let query = format!(
                "{}={}",
                encode_all(rng.pick_str(UNKNOWN_PARAMS)),
                encode_all(rng.pick_str(QUERY_VALUES))
            );
            Case::new(
                "/api/v1/cleanup",
                Method::POST,
                format!("/api/v1/cleanup?{query}"),
            )
            .expect(Expect::OneOf(&[422]))
        }
        1 => {
            let len = rng.below(300);
            let body = rng.bytes(len);
            let note = summarize(&body, 60);
            Case::new("/api/v1/cleanup", Method::POST, "/api/v1/cleanup".into())
                .body_bytes(body, note)
                .header("content-type", *rng.pick(CONTENT_TYPES))
        }
        _ => {
            let (route, path) = *rng.pick(&[
                ("/api/v1/health", "/api/v1/health"),
                ("/api/v1/config", "/api/v1/config"),
                ("/api/v1/resources", "/api/v1/resources"),
                ("/api/v1/cleanup/status", "/api/v1/cleanup/status"),
            ]);
            let method = if rng.chance(25) {
                Method::HEAD
            } else {
                Method::GET
            };
            let mut case = Case::new(
                route,
                method,
                with_query(path, &random_query(rng, &[], 100)),
            );
            if rng.chance(20) {
                case = case.header(
                    "authorization",
                    rng.pick_str(&["Bearer ", "Bearer \t", "Basic Og==", "x"]),
                );
            }
            case
        }
    }
}

pub(crate) fn gen_docs(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path) = *rng.pick(&[
        ("/", "/"),
        ("/docs", "/docs"),
        ("/docs", "/docs/"),
        ("/docs", "/docs/index.html"),
        ("/docs", "/docs/swagger-initializer.js"),
        ("/docs", "/docs/nonexistent.js"),
        ("/docs", "/docs/%2e%2e/%2e%2e/Cargo.toml"),
        ("/docs", "/docs/../openapi.json"),
        ("/docs", "/docs/%00"),
        ("/openapi.json", "/openapi.json"),
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

// --- Wrong methods and unknown routes ----------------------------------------------------------

pub(crate) fn gen_wrong_method(rng: &mut Rng, _: &Seeds) -> Case {
    let path = *rng.pick(ROUTES);
    let method = Method::from_bytes(rng.pick(METHODS).as_bytes()).unwrap();
    let mut case = Case::new("*", method, path.to_owned());
    case.route = "ANY METHOD on every route";
    if rng.chance(50) {
        let len = rng.below(200);
        let body = rng.bytes(len);
        let note = summarize(&body, 40);
        case = case
            .body_bytes(body, note)
            .header("content-type", *rng.pick(CONTENT_TYPES));
    }
    case
}

pub(crate) fn gen_unknown_route(rng: &mut Rng, _: &Seeds) -> Case {
    let path = match rng.below(5) {
        0 => format!(
            "/api/v1/{}",
            encode_all(&String::from_utf8_lossy(&rng.bytes(6)))
        ),
        _ => (*rng.pick(&[
            "/api",
            "/api/v1",
            "/api/v1/",
            "/api/v2/voices",
            "/api/v1/voice/",
            "/api/v1/voices/",
            "/api/v1/voice/x/metadata/extra",
            "/api/v1/tts/",
            "//api/v1/voices",
            "/API/V1/VOICES",
            "/v1",
            "/v1/",
            "/v1/audio",
            "/v1/audio/speech/",
            "/v1/audio/transcriptions",
            "/v1/chat/completions",
            "/audio",
            "/audio/voices",
            "/audio/speech/x",
            "/outputs",
            "/outputs/",
            "/%2e%2e/etc/passwd",
            "/..",
            "/api/v1/%00",
            "/favicon.ico",
            "/.env",
            "/api/v1/voice/%ff",
            "/api/v1/voice/%ff/metadata",
            "/api/v1/vc_input/%c3%28",
            "/api/v1/output/%",
        ]))
        .to_owned(),
    };
    let method = Method::from_bytes(
        rng.pick(&["GET", "POST", "HEAD", "DELETE", "PUT"])
            .as_bytes(),
    )
    .unwrap();
    let mut case = Case::new("*", method, path);
    case.route = "unknown routes";
    case
}
