//! End to end against the real `local-runner` binary over real sockets: the default
//! filesystem store in `./data`, an S3 store on the loopback S3 server, `--help`, and
//! graceful shutdown.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;
use tests::fixtures::{fixture, wav};
use tests::processes::http_client as client;
use tests::{Backend, LocalRunner};

async fn json(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    response.json().await.unwrap()
}

async fn upload_voice(runner: &LocalRunner, name: &str, data: Vec<u8>, folder: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .part(
            "voice_file",
            reqwest::multipart::Part::bytes(data).file_name(name.to_owned()),
        )
        .text("folder_path", folder.to_owned())
        .text("tags", "e2e");
    json(
        client()
            .post(runner.url("/api/v1/voice"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

/// The library walk-through of the README, against a running server.
async fn library_walkthrough(runner: &LocalRunner, store: &dyn storage::ObjectStore) {
    let http = client();
    let health = json(
        http.get(runner.url("/api/v1/health")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(health["status"], "healthy");

    let uploaded = upload_voice(runner, "narrator.wav", wav(), "en").await;
    assert_eq!(uploaded["voice_metadata"]["url"], "en/narrator.wav");
    upload_voice(runner, "other.m4a", fixture("tone.m4a"), "fr").await;
    let form = reqwest::multipart::Form::new()
        .part(
            "vc_input_file",
            reqwest::multipart::Part::bytes(wav()).file_name("line.wav"),
        )
        .text("text", "a line");
    json(
        http.post(runner.url("/api/v1/vc_input"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;

    let voices = json(
        http.get(runner.url("/api/v1/voices?search=e2e&folder=en"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(voices["total_voices"], 1);
    let updated = http
        .put(runner.url("/api/v1/voice/narrator.wav/metadata"))
        .json(&serde_json::json!({"description": "updated over HTTP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(updated, 200).await["voice_metadata"]["description"],
        "updated over HTTP"
    );

    // An output written by another writer (a generator, another replica) is listed,
    // within the listing cache's freshness window on S3, and downloadable with ranges.
    let key = storage::Key::new("outputs/proj/tts_2026-01-01_000000_000000_temp0.75.wav").unwrap();
    store.put(&key, wav().into()).await.unwrap();
    store
        .put(
            &key.with_suffix(".json").unwrap(),
            br#"{"type":"tts"}"#.to_vec().into(),
        )
        .await
        .unwrap();
    let mut outputs = Value::Null;
    for _ in 0..40 {
        outputs = json(
            http.get(runner.url("/api/v1/outputs?project=proj"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        if outputs["total_files"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        outputs["total_files"], 1,
        "the output written elsewhere did not appear within 4 s"
    );
    let url = outputs["files"][0]["url"].as_str().unwrap().to_owned();
    let part = http
        .get(runner.url(&url))
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206, "{url}: {:?}", part.headers());
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"RIFF");

    let bad = http
        .delete(runner.url("/api/v1/voices"))
        .send()
        .await
        .unwrap();
    let body = json(bad, 400).await;
    assert_eq!(body["error_code"], "CONFIRMATION_REQUIRED");
    let deleted = http
        .delete(runner.url("/api/v1/voices?confirm=true&folder=fr"))
        .send()
        .await
        .unwrap();
    assert_eq!(json(deleted, 200).await["deleted_count"], 1);
    let folders = json(
        http.get(runner.url("/api/v1/voices/folders"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(folders["total_folders"], 1);
    let cleanup = json(
        http.post(runner.url("/api/v1/cleanup"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(cleanup["forced"], true);
}

#[tokio::test]
async fn serves_the_default_filesystem_store_in_the_working_directory() {
    let runner = LocalRunner::start(env!("CARGO_BIN_EXE_local-runner"), &[]);
    let data = runner.workdir.path().join("data");
    let store = storage::FsStore::open(&data).await.unwrap();
    library_walkthrough(&runner, &store).await;
    assert!(data.join("voices/en/narrator.wav").is_file());
    assert!(data.join("voices/en/narrator.wav.json").is_file());
    assert!(
        runner.terminate(),
        "local-runner did not exit cleanly on SIGTERM"
    );
}

#[tokio::test]
async fn serves_an_s3_store() {
    let backend = Backend::s3().await;
    let mut args = vec![
        "--storage".to_owned(),
        backend.url.clone(),
        "--listing-cache-seconds".into(),
        "1".into(),
    ];
    args.extend(backend.runner_args.clone());
    let runner = LocalRunner::start(env!("CARGO_BIN_EXE_local-runner"), &args);
    library_walkthrough(&runner, backend.store.as_ref()).await;
    assert!(
        backend
            .store
            .head(&storage::Key::new("voices/en/narrator.wav.json").unwrap())
            .await
            .is_ok()
    );
    assert!(
        runner.terminate(),
        "local-runner did not exit cleanly on SIGTERM"
    );
}

#[test]
fn refuses_to_start_on_unreachable_storage() {
    let output = Command::new(env!("CARGO_BIN_EXE_local-runner"))
        .args([
            "--port",
            "0",
            "--storage",
            "s3://nowhere/x",
            "--s3-endpoint",
            "http://127.0.0.1:9",
            "--s3-access-key-id",
            "a",
        ])
        .args(["--s3-secret-access-key", "b"])
        .env("SPEECH_LOG", "error")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach the storage"), "{stderr}");
    let bad_url = Command::new(env!("CARGO_BIN_EXE_local-runner"))
        .args(["--storage", "ftp://x"])
        .output()
        .unwrap();
    assert!(!bad_url.status.success());
    assert!(String::from_utf8_lossy(&bad_url.stderr).contains("unsupported storage URL"));
}

#[test]
fn help_documents_every_setting_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_local-runner"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env) in [
        ("--host", "SPEECH_HOST"),
        ("--port", "SPEECH_PORT"),
        ("--storage", "SPEECH_STORAGE"),
        ("--s3-endpoint", "SPEECH_S3_ENDPOINT"),
        ("--s3-region", "SPEECH_S3_REGION"),
        ("--s3-path-style", "SPEECH_S3_PATH_STYLE"),
        ("--s3-access-key-id", "SPEECH_S3_ACCESS_KEY_ID"),
        ("--s3-secret-access-key", "SPEECH_S3_SECRET_ACCESS_KEY"),
        ("--max-voice-upload-mb", "SPEECH_MAX_VOICE_UPLOAD_MB"),
        ("--max-vc-input-upload-mb", "SPEECH_MAX_VC_INPUT_UPLOAD_MB"),
        ("--max-audio-seconds", "SPEECH_MAX_AUDIO_SECONDS"),
        ("--cleanup-on-startup", "SPEECH_CLEANUP_ON_STARTUP"),
        ("--cleanup-interval-hours", "SPEECH_CLEANUP_INTERVAL_HOURS"),
        ("--outputs-warn-size-mb", "SPEECH_OUTPUTS_WARN_SIZE_MB"),
        ("--cors-allow-origins", "SPEECH_CORS_ALLOW_ORIGINS"),
        (
            "--request-timeout-seconds",
            "SPEECH_REQUEST_TIMEOUT_SECONDS",
        ),
        ("--log-format", "SPEECH_LOG_FORMAT"),
        ("--log ", "SPEECH_LOG"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        assert!(
            help.contains(&format!("env: {env}")),
            "--help lacks env {env}:\n{help}"
        );
    }
    assert!(help.contains("file://./data"), "default storage not shown");
    assert!(help.contains("7860"), "default port not shown");
}

#[test]
fn every_setting_is_documented_in_configuration_md() {
    let help = Command::new(env!("CARGO_BIN_EXE_local-runner"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md"),
    )
    .unwrap();
    let mut checked = 0;
    for line in help.lines() {
        let line = line.trim();
        if let Some(flag) = line
            .strip_prefix("--")
            .and_then(|rest| rest.split([' ', '<']).next())
        {
            if flag == "help" || flag == "version" {
                continue;
            }
            assert!(
                doc.contains(&format!("`--{flag}`")),
                "docs/configuration.md does not document --{flag}"
            );
            checked += 1;
        }
        if let Some(env) = line
            .strip_prefix("[env: ")
            .map(|rest| rest.trim_end_matches(']').trim_end_matches('='))
        {
            let name = env.split('=').next().unwrap();
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/configuration.md does not document {name}"
            );
        }
    }
    assert!(checked >= 18, "only {checked} flags found in --help");
}
