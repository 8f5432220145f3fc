//! SIGKILL in the middle of writes, for real: a `local-runner` is killed while it uploads a
//! large voice (an S3 multipart upload), writes a two-format TTS output, stores a VC input
//! and moves a voice between folders, several times at different instants. After a
//! restart and one cleanup the store holds every object with its sidecar, every output
//! sidecar lists only formats that exist, the moved voice is in exactly one folder, and no
//! write plan, temporary file or unfinished multipart upload is left.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use storage::ObjectStore;
use tests::fixtures::{wav, wav_tone};
use tests::processes::http_client as client;
use tests::{Backend, LocalRunner, stored_keys};

const RUNNER: &str = env!("CARGO_BIN_EXE_local-runner");

fn runner_args(b: &Backend, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--storage".to_owned(), b.url.clone()];
    args.extend(b.runner_args.iter().cloned());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn voice_form(name: &str, data: Vec<u8>, folder: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "voice_file",
            reqwest::multipart::Part::bytes(data).file_name(name.to_owned()),
        )
        .text("folder_path", folder.to_owned())
        .text("overwrite", "true")
}

/// Starts the writes of one round against `base`; their outcome does not matter, only
/// what a kill in their middle leaves behind.
fn start_writes(base: &str, round: usize, big: &[u8]) -> Vec<tokio::task::JoinHandle<()>> {
    let http = client();
    let mut tasks = Vec::new();
    let (h, url) = (http.clone(), format!("{base}/api/v1/voice"));
    let form = voice_form("big.wav", big.to_vec(), "big");
    tasks.push(tokio::spawn(async move {
        let _ = h.post(url).multipart(form).send().await;
    }));
    let (h, url) = (http.clone(), format!("{base}/api/v1/tts?response_mode=url"));
    tasks.push(tokio::spawn(async move {
        let body = json!({"text": "A crash test sentence. And a second one.",
            "export_formats": ["wav", "mp3"], "project": "crash"});
        let _ = h.post(url).json(&body).send().await;
    }));
    let (h, url) = (http.clone(), format!("{base}/api/v1/vc_input"));
    tasks.push(tokio::spawn(async move {
        let form = reqwest::multipart::Form::new().part(
            "vc_input_file",
            reqwest::multipart::Part::bytes(wav()).file_name(format!("take{round}.wav")),
        );
        let _ = h.post(url).multipart(form).send().await;
    }));
    let (h, url) = (http, format!("{base}/api/v1/voice/mover.wav/metadata"));
    tasks.push(tokio::spawn(async move {
        let body = json!({"folder_path": format!("round{round}"), "description": "moved"});
        let _ = h.put(url).json(&body).send().await;
    }));
    tasks
}

async fn sidecar(store: &dyn ObjectStore, key: &str) -> Option<Value> {
    let bytes = store.get(&storage::Key::new(key).unwrap()).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Everything a crash may not leave behind once cleanup has run.
async fn assert_consistent(b: &Backend) {
    let store = b.store.as_ref();
    let keys = stored_keys(store, "").await;
    assert!(
        !keys.iter().any(|k| k.starts_with("journal/")),
        "write plans left: {keys:?}"
    );
    let audio: Vec<&String> = keys
        .iter()
        .filter(|k| !k.ends_with(".json") && !k.ends_with(".cond"))
        .collect();
    for key in &audio {
        assert!(
            keys.contains(&format!("{key}.json")),
            "{key} has no sidecar: {keys:?}"
        );
    }
    for key in audio.iter().filter(|k| k.starts_with("outputs/")) {
        let meta = sidecar(store, &format!("{key}.json")).await.unwrap();
        let folder = key.rsplit_once('/').map(|(f, _)| f).unwrap();
        for name in meta["files"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            let listed = format!("{folder}/{}", name.as_str().unwrap());
            assert!(
                keys.contains(&listed),
                "{key} lists {listed}, which is missing"
            );
        }
    }
    let movers: Vec<&&String> = audio.iter().filter(|k| k.ends_with("/mover.wav")).collect();
    assert_eq!(
        movers.len(),
        1,
        "the moved voice is not in exactly one folder: {keys:?}"
    );
    match &b.s3 {
        Some(server) => {
            let s3 = storage::S3Store::connect(
                tests::S3Server::BUCKET,
                &storage::KeyPrefix::root(),
                &server.settings(),
            )
            .await
            .unwrap();
            let uploads = s3
                .client()
                .list_multipart_uploads()
                .bucket(tests::S3Server::BUCKET)
                .send()
                .await
                .unwrap();
            assert!(
                uploads.uploads().is_empty(),
                "unfinished multipart uploads: {:?}",
                uploads.uploads()
            );
        }
        None => {
            let root = std::path::PathBuf::from(b.url.strip_prefix("file://").unwrap());
            let mut pending = vec![root];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    assert!(!name.starts_with(".tmp-"), "temporary file left: {name}");
                    if entry.file_type().unwrap().is_dir() {
                        pending.push(entry.path());
                    }
                }
            }
        }
    }
}

async fn sigkill_mid_writes_is_repaired_by_cleanup(b: Backend) {
    // 20 MiB of audio: on S3 an upload in several parts, long enough to be cut.
    let big = wav_tone(700.0, 16_000, 180.0);
    assert!(big.len() > 20 * 1024 * 1024);
    let seeding = LocalRunner::start(RUNNER, &runner_args(&b, &["--cleanup-on-startup", "false"]));
    let seeded = client()
        .post(seeding.url("/api/v1/voice"))
        .multipart(voice_form("mover.wav", wav(), "start"))
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 200);
    drop(seeding);

    for (round, delay_ms) in [60u64, 250, 700, 1500].into_iter().enumerate() {
        let runner =
            LocalRunner::start(RUNNER, &runner_args(&b, &["--cleanup-on-startup", "false"]));
        let tasks = start_writes(runner.base_url(), round, &big);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        drop(runner); // SIGKILL
        for task in tasks {
            task.abort();
        }
    }

    let restarted = LocalRunner::start(
        RUNNER,
        &runner_args(
            &b,
            &[
                "--cleanup-on-startup",
                "false",
                "--incomplete-write-grace-seconds",
                "0",
            ],
        ),
    );
    let summary: Value = client()
        .post(restarted.url("/api/v1/cleanup"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    eprintln!(
        "cleanup after the crashes: {}",
        summary["actions"]["interrupted_writes"]
    );
    assert_consistent(&b).await;
    // The service is usable after the repair: the moved voice resolves by its bare name.
    let voices: Value = client()
        .get(restarted.url("/api/v1/voices?search=mover"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(voices["total_voices"], 1, "{voices}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_sigkill_mid_writes_is_repaired_by_cleanup() {
    sigkill_mid_writes_is_repaired_by_cleanup(Backend::fs().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sigkill_mid_writes_is_repaired_by_cleanup() {
    sigkill_mid_writes_is_repaired_by_cleanup(Backend::s3().await).await;
}
