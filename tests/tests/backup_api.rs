//! Backup and restore over HTTP: a library backed up from the filesystem store, restored
//! into a real S3 server and backed up again is byte-identical; conflicts are skipped,
//! overwritten or renamed as asked (or only reported, in a dry run); hostile archives
//! (traversal names, links, bombs, bad sidecars, cut archives) are refused with nothing
//! written; only admin keys may do either.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use serde_json::{Value, json};
use tests::fixtures::{wav, wav_tone};
use tests::multipart::Form;
use tests::{Backend, TestApp, TestResponse, stored_keys};

/// A library with a voice in a folder, a VC input and a TTS output in a project.
async fn seed(app: &TestApp) {
    let voice = Form::new()
        .text("folder_path", "narrators")
        .text("description", "Warm and slow")
        .file("voice_file", "anna.wav", wav());
    app.post_form("/api/v1/voice", &voice).await.assert_ok();
    let input = Form::new().file("vc_input_file", "take.wav", wav_tone(1.0, 16_000, 220.0));
    app.post_form("/api/v1/vc_input", &input).await.assert_ok();
    app.post_json(
        "/api/v1/tts",
        &json!({"text": "Back me up.", "export_formats": ["wav"], "project": "book"}),
    )
    .await
    .assert_ok();
}

async fn restore(app: &TestApp, query: &str, archive: Vec<u8>) -> TestResponse {
    app.request(
        http::Request::post(format!("/api/v1/restore{query}"))
            .header("content-type", "application/x-tar")
            .body(Body::from(archive))
            .unwrap(),
    )
    .await
}

/// Library keys (without the usage statistics and cache markers).
async fn library(b: &Backend) -> Vec<String> {
    stored_keys(b.store.as_ref(), "")
        .await
        .into_iter()
        .filter(|k| !k.starts_with("stats/"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_through_s3_is_byte_identical() {
    let fs = Backend::fs().await;
    let from = TestApp::new(&fs);
    seed(&from).await;
    let backup = from.get("/api/v1/backup").await;
    assert_eq!(backup.status, 200, "{}", backup.text());
    assert_eq!(backup.header("content-type"), Some("application/x-tar"));
    assert!(
        backup
            .header("content-disposition")
            .unwrap()
            .contains(".tar")
    );
    let archive = backup.body.to_vec();
    assert_eq!(archive.len() % 512, 0);

    let s3 = Backend::s3().await;
    let to = TestApp::new(&s3);
    let report = restore(&to, "", archive.clone()).await.ok_json();
    assert_eq!(
        report["entries"], 6,
        "three files and their sidecars: {report}"
    );
    assert_eq!(report["created"].as_array().unwrap().len(), 3, "{report}");
    assert_eq!(library(&s3).await, library(&fs).await);
    // The restored voice keeps its metadata, and the store has no staging left.
    let voices = to.get("/api/v1/voices").await.ok_json();
    assert_eq!(
        voices["voices"][0]["description"], "Warm and slow",
        "{voices}"
    );
    assert!(
        stored_keys(s3.store.as_ref(), "restore-staging/")
            .await
            .is_empty()
    );

    let again = to.get("/api/v1/backup").await;
    assert_eq!(again.status, 200);
    assert!(
        again.body.to_vec() == archive,
        "the S3 library's backup differs"
    );

    // Filters: one area's folder, without sidecars.
    let partial = from
        .get("/api/v1/backup?areas=voices&folder=narrators&sidecars=false")
        .await;
    let names = tar_names(&partial.body);
    assert_eq!(names, ["voices/narrators/anna.wav"]);
    from.get("/api/v1/backup?areas=voices,secrets")
        .await
        .assert_error(422, "VALIDATION_ERROR");
}

/// The names in a tar archive (ustar names only; the tests' paths are short).
fn tar_names(archive: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = 0;
    while at + 512 <= archive.len() && archive[at] != 0 {
        let header = &archive[at..at + 512];
        let name = String::from_utf8_lossy(&header[..100])
            .trim_end_matches('\0')
            .to_owned();
        let size = u64::from_str_radix(
            String::from_utf8_lossy(&header[124..135]).trim_matches(|c| c == '\0' || c == ' '),
            8,
        )
        .unwrap();
        names.push(name);
        at += 512 + (size as usize).div_ceil(512) * 512;
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_follow_the_policy_and_a_dry_run_writes_nothing() {
    let b = Backend::s3().await;
    let app = TestApp::new(&b);
    seed(&app).await;
    let archive = app.get("/api/v1/backup").await.body.to_vec();
    let before = library(&b).await;

    let dry = restore(&app, "?conflict=rename&dry_run=true", archive.clone())
        .await
        .ok_json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["renamed"].as_array().unwrap().len(), 3, "{dry}");
    assert_eq!(library(&b).await, before, "a dry run writes nothing");

    let skipped = restore(&app, "", archive.clone()).await.ok_json();
    assert_eq!(skipped["skipped"].as_array().unwrap().len(), 3, "{skipped}");
    assert_eq!(library(&b).await, before);

    let overwritten = restore(&app, "?conflict=overwrite", archive.clone())
        .await
        .ok_json();
    assert_eq!(overwritten["overwritten"].as_array().unwrap().len(), 3);
    assert_eq!(library(&b).await, before);

    let renamed = restore(&app, "?conflict=rename", archive).await.ok_json();
    let renamed = renamed["renamed"].as_array().unwrap();
    let voice = renamed
        .iter()
        .find(|r| r["from"] == "voices/narrators/anna.wav")
        .unwrap();
    assert_eq!(voice["to"], "voices/narrators/anna-restored-1.wav");
    let after = library(&b).await;
    assert_eq!(after.len(), before.len() * 2, "{after:?}");
    // The renamed voice's sidecar names its new path.
    let listed = app.get("/api/v1/voices?search=restored").await.ok_json();
    assert_eq!(
        listed["voices"][0]["url"], "narrators/anna-restored-1.wav",
        "{listed}"
    );
    restore(&app, "?conflict=merge", Vec::new())
        .await
        .assert_error(422, "VALIDATION_ERROR");
}

/// A raw ustar header block for `name` of `size` bytes and type `kind`, with its checksum.
fn raw_header(name: &str, size: u64, kind: u8, link: &str) -> Vec<u8> {
    let mut block = vec![0u8; 512];
    block[..name.len()].copy_from_slice(name.as_bytes());
    block[100..107].copy_from_slice(b"0000644");
    block[108..115].copy_from_slice(b"0000000");
    block[116..123].copy_from_slice(b"0000000");
    let size = format!("{size:011o}");
    block[124..124 + size.len()].copy_from_slice(size.as_bytes());
    block[136..147].copy_from_slice(b"00000000000");
    block[156] = kind;
    block[157..157 + link.len()].copy_from_slice(link.as_bytes());
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|b| u32::from(*b)).sum();
    let sum = format!("{sum:06o}\0 ");
    block[148..156].copy_from_slice(sum.as_bytes());
    block
}

/// A file entry: header, content, padding.
fn file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut out = raw_header(name, content.len() as u64, b'0', "");
    out.extend_from_slice(content);
    out.resize(out.len() + (512 - content.len() % 512) % 512, 0);
    out
}

fn end() -> Vec<u8> {
    vec![0u8; 1024]
}

fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_are_refused_with_nothing_written() {
    for b in [Backend::fs().await, Backend::s3().await] {
        let app = TestApp::new(&b);
        seed(&app).await;
        let before = stored_keys(b.store.as_ref(), "").await;
        let good = file("voices/new.wav", &wav());
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            (
                "traversal",
                concat(&[
                    good.clone(),
                    file("voices/../../etc/passwd.wav", b"x"),
                    end(),
                ]),
                400,
            ),
            (
                "absolute",
                concat(&[file("/voices/abs.wav", b"x"), end()]),
                400,
            ),
            (
                "symlink",
                concat(&[
                    good.clone(),
                    raw_header("voices/link.wav", 0, b'2', "/etc/passwd"),
                    end(),
                ]),
                400,
            ),
            (
                "hardlink",
                concat(&[
                    raw_header("voices/hard.wav", 0, b'1', "voices/narrators/anna.wav"),
                    end(),
                ]),
                400,
            ),
            (
                "outside the library",
                concat(&[file("journal/plan.json", b"{}"), end()]),
                400,
            ),
            (
                "not audio",
                concat(&[file("voices/run.sh", b"#!/bin/sh"), end()]),
                400,
            ),
            (
                "bad sidecar",
                concat(&[
                    good.clone(),
                    file("voices/new.wav.json", b"{not json"),
                    end(),
                ]),
                400,
            ),
            (
                "sidecar not an object",
                concat(&[good.clone(), file("voices/new.wav.json", b"[1,2]"), end()]),
                400,
            ),
            (
                "cut mid-file",
                {
                    let mut cut = concat(&[good.clone(), file("voices/second.wav", &wav())]);
                    cut.truncate(cut.len() - 700);
                    cut
                },
                400,
            ),
            ("no end marker", good.clone(), 400),
            (
                "bomb",
                concat(&[raw_header("voices/huge.wav", 1 << 40, b'0', "")]),
                413,
            ),
            ("twice", concat(&[good.clone(), good.clone(), end()]), 400),
        ];
        for (what, archive, status) in cases {
            let response = restore(&app, "?conflict=overwrite", archive).await;
            let code = if status == 413 {
                "FILE_TOO_LARGE"
            } else {
                "INVALID_ARCHIVE"
            };
            let body = response.assert_error(status, code);
            assert!(!body["error"].as_str().unwrap().is_empty(), "{what}");
            assert_eq!(
                stored_keys(b.store.as_ref(), "").await,
                before,
                "{what} left something behind"
            );
        }
        // The refusals' staging is removed in the background: give it a moment.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            stored_keys(b.store.as_ref(), "restore-staging/")
                .await
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admin_keys_back_up_and_restore() {
    let b = Backend::fs().await;
    let dir = tempfile::tempdir().unwrap();
    let file_path = dir.path().join("keys");
    let digest = |key: &str| -> String {
        use sha2::Digest;
        sha2::Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    std::fs::write(
        &file_path,
        format!(
            "{} name=maker scopes=read,generate\n{} name=ops scopes=admin\n",
            digest("sk-maker"),
            digest("sk-ops")
        ),
    )
    .unwrap();
    let app = TestApp::with_config(&b, |c| c.access.api_keys_file = Some(file_path));
    let get = |key: &'static str| {
        http::Request::get("/api/v1/backup")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap()
    };
    app.request(get("sk-maker"))
        .await
        .assert_error(403, "INSUFFICIENT_SCOPE");
    let archive = app.request(get("sk-ops")).await;
    assert_eq!(archive.status, 200);
    let post = |key: &'static str| {
        http::Request::post("/api/v1/restore")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::from(archive.body.clone()))
            .unwrap()
    };
    app.request(post("sk-maker"))
        .await
        .assert_error(403, "INSUFFICIENT_SCOPE");
    let report: Value = app.request(post("sk-ops")).await.ok_json();
    assert_eq!(report["entries"], 0, "an empty library's archive: {report}");
}
