//! The Lambda path, driven the way the Lambda runtime drives it: fixture events (function
//! URL, API Gateway v2, API Gateway REST v1 with a stage, ALB, an EventBridge schedule)
//! through `lambda_http`'s adapters into the real `app(state)`, buffered and streaming.
//! Audio comes back byte-exact after base64, uploads arrive byte-exact, errors are JSON,
//! every binary answer names its type, the studio's gzip-compressed files travel as base64,
//! and an answer over the buffered limit is a clear 413.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::StreamExt;
use handler::lambda::{self, Mode};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, StreamAdapter};
use serde_json::{Value, json};
use storage::Key;
use tests::fixtures::{decode, wav_tone};
use tests::multipart::Form;
use tests::{Backend, TestApp};
use tower::ServiceExt;

/// The app behind the adapter, as `handler::lambda::run` wires it.
fn service(
    app: &TestApp,
    mode: Mode,
) -> impl tower::Service<
    lambda_http::Request,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Future<Output = Result<axum::response::Response, Infallible>> + Send,
> + Clone {
    let state = app.state.clone();
    let router = handler::app(state.clone());
    tower::service_fn(move |request: lambda_http::Request| {
        let (state, router) = (state.clone(), router.clone());
        async move { Ok(lambda::invoke(&state, router, request, mode).await) }
    })
}

/// A function URL (payload format 2.0) event.
fn function_url(method: &str, path: &str, headers: Value, body: Option<&[u8]>) -> Value {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "urlid", "domainName": "urlid.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "urlid",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test"},
            "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "06/Dec/2026:12:00:00 +0000", "timeEpoch": 1796558400000_u64
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(STANDARD.encode(body));
        event["isBase64Encoded"] = json!(true);
    }
    event
}

/// An API Gateway REST (v1) event on stage `prod`.
fn rest_v1(method: &str, path: &str) -> Value {
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"host": ["abc.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "resourceId": "r1", "stage": "prod", "requestId": "req-2",
            "identity": {"sourceIp": "203.0.113.9"}, "resourcePath": "/{proxy+}", "httpMethod": method,
            "apiId": "abc", "path": format!("/prod{path}")
        },
        "body": null,
        "isBase64Encoded": false
    })
}

/// An ALB target-group event.
fn alb(method: &str, path: &str) -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/speech/1"}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {"host": "speech.example", "accept": "*/*"},
        "body": "",
        "isBase64Encoded": false
    })
}

/// Sends an event through the buffered adapter; returns the Lambda answer as JSON.
async fn buffered(app: &TestApp, event: Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event).unwrap();
    let answer = Adapter::from(service(app, Mode::Buffered))
        .oneshot(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(&answer).unwrap()
}

/// The body of a buffered answer, base64 decoded when it says so.
fn body_of(answer: &Value) -> Bytes {
    let body = answer["body"].as_str().unwrap_or_default();
    if answer["isBase64Encoded"] == true {
        Bytes::from(STANDARD.decode(body).unwrap())
    } else {
        Bytes::from(body.to_owned())
    }
}

fn header<'a>(answer: &'a Value, name: &str) -> Option<&'a str> {
    answer["headers"][name].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_comes_back_byte_exact_through_base64() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    let request = json!({"text": "Hello from Lambda.", "export_formats": ["wav", "mp3"], "project": "lambda"});
    let event = function_url(
        "POST",
        "/api/v1/tts",
        json!({"content-type": "application/json", "host": "urlid.lambda-url.eu-west-1.on.aws"}),
        Some(request.to_string().as_bytes()),
    );
    let answer = buffered(&app, event).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["isBase64Encoded"], true);
    assert_eq!(header(&answer, "content-type"), Some("audio/wav"));
    let wav_bytes = body_of(&answer);
    // Byte-exact: the answer is the stored file.
    let location = header(&answer, "content-location").unwrap();
    let key = Key::new(location.trim_start_matches('/')).unwrap();
    assert_eq!(b.store.get(&key).await.unwrap(), wav_bytes);
    let pcm = decode(&wav_bytes, "wav");
    assert!(pcm.duration_seconds() > 0.5);
    // The MP3 of the same request, downloaded through the adapter, is the stored MP3.
    let mp3_url = header(&answer, "x-alternative-formats")
        .unwrap()
        .strip_prefix("mp3:")
        .unwrap()
        .to_owned();
    let download = buffered(&app, function_url("GET", &mp3_url, json!({}), None)).await;
    assert_eq!(download["statusCode"], 200);
    assert_eq!(header(&download, "content-type"), Some("audio/mpeg"));
    let mp3_key = Key::new(mp3_url.trim_start_matches('/')).unwrap();
    assert_eq!(b.store.get(&mp3_key).await.unwrap(), body_of(&download));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_survives_the_adapter_compressed_or_not() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    let plain = buffered(&app, function_url("GET", "/ui/js/app.js", json!({}), None)).await;
    assert_eq!(plain["statusCode"], 200, "{plain}");
    assert_eq!(
        header(&plain, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let source = body_of(&plain);
    assert!(std::str::from_utf8(&source).unwrap().contains("import "));
    // Compressed bytes must travel as base64, not be mangled as text.
    let gzipped = buffered(
        &app,
        function_url(
            "GET",
            "/ui/js/app.js",
            json!({"accept-encoding": "gzip, deflate, br"}),
            None,
        ),
    )
    .await;
    assert_eq!(gzipped["isBase64Encoded"], true, "{gzipped}");
    assert_eq!(header(&gzipped, "content-encoding"), Some("gzip"));
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&body_of(&gzipped)[..]),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(decoded, source);
    let page = buffered(&app, function_url("GET", "/ui/", json!({}), None)).await;
    assert_eq!(page["statusCode"], 200);
    assert!(body_of(&page).starts_with(b"<!doctype html>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_arrives_byte_exact() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    let audio = wav_tone(0.5, 22_050, 330.0);
    let (content_type, body) = Form::new()
        .file("voice_file", "lambda.wav", audio.clone())
        .text("folder_path", "cast")
        .encode();
    let event = function_url(
        "POST",
        "/api/v1/voice",
        json!({"content-type": content_type}),
        Some(&body),
    );
    let answer = buffered(&app, event).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["isBase64Encoded"], false, "JSON answers are text");
    let stored = b
        .store
        .get(&Key::new("voices/cast/lambda.wav").unwrap())
        .await
        .unwrap();
    assert_eq!(stored, Bytes::from(audio));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_on_every_event_kind() {
    let app = TestApp::new(&Backend::memory());
    let answer = buffered(&app, function_url("GET", "/api/v1/nope", json!({}), None)).await;
    assert_eq!(answer["statusCode"], 404);
    assert_eq!(answer["isBase64Encoded"], false);
    let body: Value = serde_json::from_slice(&body_of(&answer)).unwrap();
    assert_eq!(body["error_code"], "ROUTE_NOT_FOUND");
    // REST v1 with a stage: the stage prefix does not break routing.
    let health = buffered(&app, rest_v1("GET", "/api/v1/health")).await;
    assert_eq!(health["statusCode"], 200, "{health}");
    let missing = buffered(&app, rest_v1("GET", "/api/v1/voice_typo")).await;
    assert_eq!(missing["statusCode"], 404);
    // ALB.
    let listed = buffered(&app, alb("GET", "/api/v1/voices")).await;
    assert_eq!(listed["statusCode"], 200, "{listed}");
    let body: Value = serde_json::from_slice(&body_of(&listed)).unwrap();
    assert_eq!(body["total_voices"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_answers_always_name_their_type() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    // A stored file with an extension we do not map still gets a Content-Type, so the
    // adapter sends it as base64 and not as corrupted text.
    b.store
        .put(
            &Key::new("outputs/raw/blob.wav").unwrap(),
            Bytes::from(vec![0xff, 0xfe, 0x00, 0x80]),
        )
        .await
        .unwrap();
    let answer = buffered(
        &app,
        function_url("GET", "/outputs/raw/blob.wav", json!({}), None),
    )
    .await;
    assert_eq!(answer["statusCode"], 200);
    assert!(header(&answer, "content-type").is_some(), "{answer}");
    assert_eq!(answer["isBase64Encoded"], true);
    assert_eq!(body_of(&answer).as_ref(), [0xff, 0xfe, 0x00, 0x80]);
    for path in ["/openapi.json", "/docs/", "/api/v1/health", "/"] {
        let answer = buffered(&app, function_url("GET", path, json!({}), None)).await;
        assert!(
            header(&answer, "content-type").is_some(),
            "{path}: {answer}"
        );
    }
}

/// Stores a 6.6 MB output (over the buffered limit) and downloads it through the buffered
/// adapter; returns the file and the Lambda answer.
async fn download_a_big_output(b: &Backend, app: &TestApp) -> (Vec<u8>, Value) {
    let big = wav_tone(150.0, 22_050, 220.0);
    assert!(big.len() > lambda::BUFFERED_BINARY_LIMIT);
    b.store
        .put(
            &Key::new("outputs/long/book.wav").unwrap(),
            Bytes::from(big.clone()),
        )
        .await
        .unwrap();
    let answer = buffered(
        app,
        function_url("GET", "/outputs/long/book.wav", json!({}), None),
    )
    .await;
    (big, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_the_buffered_limit_are_a_clear_413_and_stream_when_streaming() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    let (big, answer) = download_a_big_output(&b, &app).await;
    assert_eq!(answer["statusCode"], 413, "{}", answer["body"]);
    let body: Value = serde_json::from_slice(&body_of(&answer)).unwrap();
    assert_eq!(body["error_code"], "FILE_TOO_LARGE");
    assert!(
        body["error"].as_str().unwrap().contains("RESPONSE_STREAM"),
        "{body}"
    );

    // The same request through the streaming adapter: the prelude, then the whole file.
    let request: LambdaRequest = serde_json::from_value(function_url(
        "GET",
        "/outputs/long/book.wav",
        json!({}),
        None,
    ))
    .unwrap();
    let streamed = StreamAdapter::from(service(&app, Mode::Streaming))
        .oneshot(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    assert_eq!(streamed.metadata_prelude.status_code, 200);
    assert_eq!(
        streamed
            .metadata_prelude
            .headers
            .get("content-type")
            .unwrap(),
        "audio/wav"
    );
    let mut received = Vec::new();
    let mut chunks = 0;
    let mut stream = streamed.stream;
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    assert!(chunks > 1, "the body arrived in one piece");
    assert_eq!(received, big);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_event_runs_the_cleanup() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    b.store
        .put(&Key::new("outputs/x/empty.wav").unwrap(), Bytes::new())
        .await
        .unwrap();
    let schedule = json!({
        "version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-06T12:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/speech-cleanup"], "detail": {}
    });
    let answer = buffered(&app, schedule).await;
    assert_eq!(answer["event"], "cleanup", "{answer}");
    assert_eq!(
        answer["summary"]["actions"]["corrupted_files_cleanup"]["files_removed"],
        1
    );
    assert!(
        tests::stored_keys(b.store.as_ref(), "outputs")
            .await
            .is_empty()
    );
    // Any other event is refused, and never reaches the app.
    let other = buffered(&app, json!({"hello": "world"})).await;
    assert!(
        other["error"]
            .as_str()
            .unwrap()
            .contains("unsupported event"),
        "{other}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_an_oversized_answer_redirects_to_a_presigned_download() {
    let b = Backend::s3().await;
    let app = TestApp::new(&b);
    let (big, answer) = download_a_big_output(&b, &app).await;
    assert_eq!(answer["statusCode"], 303, "{}", answer["body"]);
    let url = header(&answer, "location").unwrap().to_owned();
    let body: Value = serde_json::from_slice(&body_of(&answer)).unwrap();
    assert_eq!(body["url"], url.as_str());
    assert_eq!(body["expires_in_seconds"], lambda::PRESIGNED_URL_SECONDS);
    // The link downloads the stored file itself, without credentials.
    let downloaded = reqwest::get(&url).await.unwrap();
    assert_eq!(downloaded.status(), 200, "{url}");
    assert_eq!(downloaded.bytes().await.unwrap(), Bytes::from(big));
}
