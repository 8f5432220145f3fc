//! Many replicas, one truth: two `local-runner` processes over one real S3 server. A write
//! through either is seen through the other on the very next request for anything
//! addressed by its key, and within a second in listings, search and folder trees; usage
//! counts stay exact when both count uses of one voice at once.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use tests::engines::{chatterbox_standins, standin_audio};
use tests::processes::http_client as client;
use tests::{Backend, LocalRunner};

const RUNNER: &str = env!("CARGO_BIN_EXE_local-runner");

/// A replica over `b`, with the Chatterbox stand-in bundle for voice cloning.
fn replica(b: &Backend) -> LocalRunner {
    let mut args = vec![
        "--storage".to_owned(),
        b.url.clone(),
        "--cleanup-on-startup".to_owned(),
        "false".to_owned(),
        "--chatterbox-dir".to_owned(),
        chatterbox_standins("original").display().to_string(),
        "--max-concurrent-generations".to_owned(),
        "2".to_owned(),
        // 25 uses at once per replica: all wait their turn rather than being refused.
        "--max-queued-generations".to_owned(),
        "64".to_owned(),
        "--models-dir".to_owned(),
        tests::engines::models_dir().display().to_string(),
    ];
    args.extend(b.runner_args.iter().cloned());
    LocalRunner::start(RUNNER, &args)
}

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn upload_voice(runner: &LocalRunner, name: &str, folder: &str) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .part(
            "voice_file",
            reqwest::multipart::Part::bytes(standin_audio("ref_7s.wav")).file_name(name.to_owned()),
        )
        .text("folder_path", folder.to_owned());
    json(
        client()
            .post(runner.url("/api/v1/voice"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_replica_is_seen_through_the_other() {
    let b = Backend::s3().await;
    let (a, other) = (replica(&b), replica(&b));
    let http = client();

    // Warm the other replica's listing cache, so a stale cache would show.
    let (_, before) = json(http.get(other.url("/api/v1/voices")).send().await.unwrap()).await;
    assert_eq!(before["total_voices"], 0);

    let (status, _) = upload_voice(&a, "anna.wav", "cast").await;
    assert_eq!(status, 200);
    // Addressed by its key: the very next request through the other replica finds it.
    let (status, updated) = json(
        http.put(other.url("/api/v1/voice/cast%2Fanna.wav/metadata"))
            .json(&json!({"description": "seen at once"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    let (status, spoken) = json(
        http.post(other.url("/api/v1/tts?response_mode=url"))
            .json(
                &json!({"text": "Hi.", "reference_audio_filename": "cast/anna.wav",
                "temperature": 0, "export_formats": ["wav"], "project": "replicas"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{spoken}");
    // An output written through the other replica downloads through the first at once.
    let url = spoken["output_files"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let download = http.get(a.url(&url)).send().await.unwrap();
    assert_eq!(download.status(), 200);

    // Listings, search and folder trees within a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, listed) = json(
        http.get(other.url("/api/v1/voices?search=seen"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["total_voices"], 1, "{listed}");
    let (_, folders) = json(
        http.get(other.url("/api/v1/voices/folders"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(folders.to_string().contains("cast"), "{folders}");
    let (_, outputs) = json(
        http.get(a.url("/api/v1/outputs?project=replicas"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(outputs["total_files"], 1, "{outputs}");
    // A bare name resolves through the other replica too (by listing, within the second).
    let (status, by_name) = json(
        http.post(a.url("/api/v1/tts?response_mode=url"))
            .json(&json!({"text": "Hi.", "reference_audio_filename": "anna",
                "temperature": 0, "export_formats": ["wav"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{by_name}");

    // A delete through one replica: the other answers 404 for it at once.
    let deleted = http
        .delete(a.url("/api/v1/voice/cast%2Fanna.wav?confirm=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let (status, _) = json(
        http.put(other.url("/api/v1/voice/cast%2Fanna.wav/metadata"))
            .json(&json!({"description": "gone"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, listed) = json(http.get(other.url("/api/v1/voices")).send().await.unwrap()).await;
    assert_eq!(listed["total_voices"], 0, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_counts_stay_exact_across_replicas() {
    let b = Backend::s3().await;
    let (a, other) = (replica(&b), replica(&b));
    let (status, _) = upload_voice(&a, "anna.wav", "").await;
    assert_eq!(status, 200);
    let http = client();
    let body = json!({"text": "Hi.", "reference_audio_filename": "anna.wav", "temperature": 0,
        "export_formats": ["wav"], "response_mode": "url"});
    let uses = (0..50).map(|i| {
        let runner = if i % 2 == 0 { &a } else { &other };
        http.post(runner.url("/api/v1/tts?response_mode=url"))
            .json(&body)
            .send()
    });
    let responses = futures::future::join_all(uses).await;
    for response in responses {
        assert_eq!(response.unwrap().status(), 200);
    }
    let sidecar = b
        .store
        .get(&storage::Key::new("voices/anna.wav.json").unwrap())
        .await
        .unwrap();
    let sidecar: Value = serde_json::from_slice(&sidecar).unwrap();
    assert_eq!(sidecar["usage_count"], 50, "{sidecar}");
}
