//! What the browser studio needs from the server, over HTTP on the filesystem store and a
//! real S3 server: its files at `/ui` (open even with keys on, gzip, validators, a strict
//! content-security policy, JSON 404s), the voice and VC-input downloads its players use,
//! and the voice list's exact tag filter. The pages themselves are tested in Chromium by
//! tests/ui (scripts/run-ui-tests.sh).

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tests::fixtures::wav_tone;
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend};

const KEY: &str = "sk-studio";

fn keyed(b: &Backend) -> TestApp {
    TestApp::with_config(b, |c| c.access.api_keys = vec![KEY.into()])
}

fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {KEY}"))
}

async fn the_studio_is_served_open_compressed_and_revalidated(b: Backend) {
    let app = keyed(&b);
    let redirect = app.get("/ui").await;
    assert_eq!(redirect.status.as_u16(), 308);
    assert_eq!(redirect.header("location"), Some("/ui/"));

    // Open without a key, like /docs: the page holds no data.
    let plain = app.get("/ui/").await;
    assert_eq!(plain.status.as_u16(), 200);
    assert_eq!(
        plain.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        plain
            .text()
            .contains("<script type=\"module\" src=\"js/app.js\">")
    );
    let policy = plain.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"));
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(plain.header("cache-control"), Some("no-cache"));

    let gzipped = app
        .get_with("/ui/js/app.js", &[("accept-encoding", "br, gzip")])
        .await;
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(
        gzipped.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let mut decoded = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gzipped.body[..]),
        &mut decoded,
    )
    .unwrap();
    let raw = app.get("/ui/js/app.js").await;
    assert_eq!(raw.header("content-encoding"), None);
    assert_eq!(decoded.as_bytes(), &raw.body[..]);
    assert!(gzipped.body.len() < raw.body.len());

    let etag = raw.header("etag").unwrap().to_owned();
    assert_eq!(gzipped.header("etag"), Some(etag.as_str()));
    let again = app
        .get_with("/ui/js/app.js", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status.as_u16(), 304);
    assert!(again.body.is_empty());
    let changed = app
        .get_with("/ui/js/app.js", &[("if-none-match", "\"other\"")])
        .await;
    assert_eq!(changed.status.as_u16(), 200);

    app.get("/ui/js/missing.js")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    app.get("/ui/../Cargo.toml")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    // The service index points at it.
    let index = app.get("/").await.ok_json();
    assert_eq!(index["endpoints"]["ui"], "/ui/");
    // The original's key for its Gradio UI, for clients that read it.
    assert_eq!(index["endpoints"]["gradio_ui"], "/ui/");
}

async fn stored_voices_and_vc_inputs_download_with_the_key(b: Backend) {
    let app = keyed(&b);
    let auth = bearer();
    let audio = wav_tone(1.0, 16_000, 220.0);
    let form =
        Form::new()
            .text("folder_path", "cast")
            .file("voice_file", "anna.wav", audio.clone());
    app.post_form_with("/api/v1/voice", &form, &[(auth.0, &auth.1)])
        .await
        .assert_ok();

    app.get("/voices/cast/anna.wav")
        .await
        .assert_error(401, "UNAUTHORIZED");
    let whole = app
        .get_with("/voices/cast/anna.wav", &[(auth.0, &auth.1)])
        .await;
    assert_eq!(whole.status.as_u16(), 200);
    assert_eq!(whole.header("content-type"), Some("audio/wav"));
    assert_eq!(&whole.body[..], &audio[..]);
    let part = app
        .get_with(
            "/voices/cast/anna.wav",
            &[(auth.0, &auth.1), ("range", "bytes=0-43")],
        )
        .await;
    assert_eq!(part.status.as_u16(), 206);
    assert_eq!(&part.body[..], &audio[..44]);
    app.get_with("/voices/cast/nobody.wav", &[(auth.0, &auth.1)])
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    app.get_with("/voices/cast/..%2F..%2Fsecret", &[(auth.0, &auth.1)])
        .await
        .assert_error(422, "INVALID_PATH");

    let form =
        Form::new()
            .text("folder_path", "scene1")
            .file("vc_input_file", "take.wav", audio.clone());
    app.post_form_with("/api/v1/vc_input", &form, &[(auth.0, &auth.1)])
        .await
        .assert_ok();
    let input = app
        .get_with("/vc_inputs/scene1/take.wav", &[(auth.0, &auth.1)])
        .await;
    assert_eq!(input.status.as_u16(), 200);
    assert_eq!(&input.body[..], &audio[..]);
    app.get_with("/vc_inputs/scene1/other.wav", &[(auth.0, &auth.1)])
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn the_voice_list_filters_by_exact_tag(b: Backend) {
    let app = TestApp::new(&b);
    for (name, tags) in [
        ("anna", "narrator, warm"),
        ("ben", "warmish"),
        ("carl", "Warm"),
    ] {
        let form = Form::new().text("tags", tags).file(
            "voice_file",
            &format!("{name}.wav"),
            wav_tone(1.0, 16_000, 220.0),
        );
        app.post_form("/api/v1/voice", &form).await.assert_ok();
    }
    let names = |body: serde_json::Value| -> Vec<String> {
        body["voices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["filename"].as_str().unwrap().to_owned())
            .collect()
    };
    let warm = app.get("/api/v1/voices?tag=WARM").await.ok_json();
    assert_eq!(warm["total_voices"], 2);
    assert_eq!(names(warm), ["anna.wav", "carl.wav"]);
    let both = app
        .get("/api/v1/voices?tag=warm&search=narr")
        .await
        .ok_json();
    assert_eq!(names(both), ["anna.wav"]);
    let paged = app
        .get("/api/v1/voices?tag=warm&page_size=1&page=2")
        .await
        .ok_json();
    assert_eq!(names(paged), ["carl.wav"]);
    assert_eq!(
        app.get("/api/v1/voices?tag=war").await.ok_json()["total_voices"],
        0
    );
}

for_each_persistent_backend!(
    the_studio_is_served_open_compressed_and_revalidated,
    stored_voices_and_vc_inputs_download_with_the_key,
    the_voice_list_filters_by_exact_tag,
);
