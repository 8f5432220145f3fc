//! The bounded fuzz suite over every route (`tests::fuzz`), run on the memory store, the
//! filesystem store and a real S3 server, and a test that its checks catch what they promise.
//! `FUZZ_API_SEED=<n>` replays another sequence; `FUZZ_API_TRACE=1` prints every request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;
use tests::Backend;
use tests::fuzz::{Case, Expect, MEMORY_PLAN, PERSISTENT_PLAN, answer_problems, fuzz, store_diff};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_survives_malformed_requests_on_memory() {
    fuzz("memory", Backend::memory(), MEMORY_PLAN, true, 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_routes_survive_malformed_requests_on_fs() {
    fuzz("fs", Backend::fs().await, PERSISTENT_PLAN, false, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_routes_survive_malformed_requests_on_s3() {
    fuzz("s3", Backend::s3().await, PERSISTENT_PLAN, false, 60).await;
}

/// The checks themselves: each kind of violation the suite promises to catch is caught,
/// and the legitimate answers are not reported (so a passing run means something).
#[test]
fn the_checks_catch_what_they_promise() {
    let case = |method: Method, uri: &str| Case::new("test", method, uri.to_owned());
    let headers = |id: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_str(id).unwrap());
        headers
    };
    let native = |code: &str, id: &str| {
        json!({"success": false, "error": "x", "error_code": code, "detail": null,
               "timestamp": "2026-01-01T00:00:00.000Z", "request_id": id})
        .to_string()
    };
    let openai = |code: &str| {
        json!({"error": {"message": "x", "type": "server_error", "param": null, "code": code}})
            .to_string()
    };
    let check = |case: &Case, status: u16, id: &str, body: &str| {
        answer_problems(
            case,
            StatusCode::from_u16(status).unwrap(),
            &headers(id),
            body.as_bytes(),
        )
    };
    let get = case(Method::GET, "/api/v1/voices");
    let speech = case(Method::POST, "/v1/audio/speech");

    // Legitimate answers.
    assert!(check(&get, 422, "a", &native("VALIDATION_ERROR", "a")).is_empty());
    assert!(check(&get, 503, "a", &native("MODEL_NOT_INSTALLED", "a")).is_empty());
    assert!(check(&speech, 503, "a", &openai("model_not_installed")).is_empty());
    assert!(check(&speech, 400, "a", &openai("invalid_value")).is_empty());
    assert!(check(&case(Method::HEAD, "/api/v1/voices"), 404, "a", "").is_empty());

    // Violations.
    assert!(
        !check(&get, 500, "a", &native("INTERNAL_ERROR", "a")).is_empty(),
        "500"
    );
    assert!(
        !check(&get, 503, "a", &native("INTERNAL_ERROR", "a")).is_empty(),
        "503 fault"
    );
    assert!(
        !check(&speech, 503, "a", &openai("generation_failed")).is_empty(),
        "503 fault"
    );
    assert!(
        !check(&get, 404, "a", &native("X", "b")).is_empty(),
        "request id differs"
    );
    assert!(!check(&get, 400, "a", "plain text").is_empty(), "not JSON");
    assert!(
        !check(&speech, 403, "a", &native("FORBIDDEN_ORIGIN", "a")).is_empty(),
        "wrong dialect"
    );
    assert!(
        !check(&get, 404, "a", &openai("not_found")).is_empty(),
        "wrong dialect"
    );
    assert!(
        !check(&case(Method::HEAD, "/api/v1/voices"), 200, "a", "body").is_empty(),
        "HEAD body"
    );
    let refused = case(Method::DELETE, "/api/v1/voices").expect(Expect::Refused);
    assert!(
        !check(&refused, 200, "a", "{}").is_empty(),
        "destructive success"
    );
    let exact = case(Method::DELETE, "/api/v1/voices").expect(Expect::OneOf(&[422]));
    assert!(
        !check(&exact, 400, "a", &native("BAD_REQUEST", "a")).is_empty(),
        "status"
    );

    // Store differences outside journal/ are found; journal/ is checked on its own.
    let before: BTreeMap<String, u64> = [("voices/a.wav".to_owned(), 10)].into();
    let mut after = before.clone();
    after.insert("journal/x.json".into(), 5);
    assert_eq!(store_diff(&before, &after), None);
    after.insert("voices/b.wav".into(), 1);
    assert!(store_diff(&before, &after).is_some_and(|d| d.contains("voices/b.wav")));
    let resized: BTreeMap<String, u64> = [("voices/a.wav".to_owned(), 11)].into();
    assert!(store_diff(&before, &resized).is_some_and(|d| d.contains("resized")));
    assert!(store_diff(&before, &BTreeMap::new()).is_some_and(|d| d.contains("removed")));
}
