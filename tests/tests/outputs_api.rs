//! Outputs and VC inputs over HTTP, on the filesystem store and a real S3 server:
//! newest-first listings with every filter, downloads with byte ranges, single and
//! bulk deletion with folder cleanup, and VC-input uploads with transcripts.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use serde_json::{Value, json};
use storage::{Key, ObjectStore};
use tests::fixtures::{fixture, wav};
use tests::multipart::Form;
use tests::stored_keys;
use tests::{Backend, TestApp, for_each_persistent_backend};

/// Writes an output and its generation sidecar the way the generators do.
async fn seed_output(store: &dyn ObjectStore, relative: &str, data: Vec<u8>, sidecar: Value) {
    let key = Key::new(format!("outputs/{relative}")).unwrap();
    store.put(&key, Bytes::from(data)).await.unwrap();
    store
        .put(
            &key.with_suffix(".json").unwrap(),
            Bytes::from(sidecar.to_string()),
        )
        .await
        .unwrap();
}

/// Seeds six outputs whose names sort in creation order (names carry timestamps, so
/// newest-first holds even when the store's clock has one-second resolution).
async fn seed_outputs(store: &dyn ObjectStore) {
    let items = [
        (
            "tts_2026-01-01_100000_000001_temp0.75.wav",
            json!({"type": "tts", "duration_seconds": 1.0, "parameters": {"text": "one"}}),
        ),
        (
            "book1/tts_2026-01-01_100001_000001_temp0.75.mp3",
            json!({"type": "tts", "duration_seconds": 1.0}),
        ),
        (
            "book1/ch2/vc_2026-01-01_100002_000001_voicealice.wav",
            json!({"type": "vc", "duration_seconds": 2.5}),
        ),
        (
            "concat_2026-01-01_100003_000001_3files.flac",
            json!({"type": "concat", "source_files": ["a.wav", "b.wav"]}),
        ),
        (
            "book2/mixed_2026-01-01_100004_000001_default.wav",
            json!({"type": "concat"}),
        ),
        (
            "book2/zz-my-custom-name.wav",
            json!({"type": "concat", "duration_seconds": 3.0}),
        ),
    ];
    for (relative, sidecar) in items {
        seed_output(store, relative, wav(), sidecar).await;
        // Distinct modification times on stores with fine-grained clocks.
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
}

fn names(body: &Value) -> Vec<String> {
    body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect()
}

async fn output_listing_filters_and_orders_newest_first(b: Backend) {
    let app = TestApp::new(&b);
    seed_outputs(b.store.as_ref()).await;
    let all = app.get("/api/v1/outputs").await.ok_json();
    assert_eq!(all["total_files"], 6);
    assert_eq!(
        names(&all),
        [
            "book2/zz-my-custom-name.wav",
            "book2/mixed_2026-01-01_100004_000001_default.wav",
            "concat_2026-01-01_100003_000001_3files.flac",
            "book1/ch2/vc_2026-01-01_100002_000001_voicealice.wav",
            "book1/tts_2026-01-01_100001_000001_temp0.75.mp3",
            "tts_2026-01-01_100000_000001_temp0.75.wav",
        ]
    );
    let first = &all["files"][5];
    assert_eq!(first["generation_type"], "tts");
    assert_eq!(first["parameters"]["text"], "one");
    assert_eq!(
        first["url"],
        "/outputs/tts_2026-01-01_100000_000001_temp0.75.wav"
    );
    assert_eq!(first["file_size_bytes"], wav().len());
    assert_eq!(first["folder_path"], Value::Null);
    assert_eq!(all["files"][2]["source_files"], json!(["a.wav", "b.wav"]));
    assert_eq!(all["files"][3]["folder_path"], "book1/ch2");

    // mixed_ files and custom names are concat outputs (the original called them unknown).
    let concat = app
        .get("/api/v1/outputs?generation_type=concat")
        .await
        .ok_json();
    assert_eq!(concat["total_files"], 3);
    assert!(
        concat["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["generation_type"] == "concat")
    );
    assert_eq!(
        app.get("/api/v1/outputs?generation_type=vc")
            .await
            .ok_json()["total_files"],
        1
    );
    assert_eq!(
        app.get("/api/v1/outputs?folder=book1").await.ok_json()["total_files"],
        2
    );
    assert_eq!(
        app.get("/api/v1/outputs?project=book1/ch2").await.ok_json()["total_files"],
        1
    );
    assert_eq!(
        app.get("/api/v1/outputs?search=BOOK2").await.ok_json()["total_files"],
        2
    );
    assert_eq!(
        app.get("/api/v1/outputs?search=voicealice&folder=book1")
            .await
            .ok_json()["total_files"],
        1
    );
    // `filenames` ignores every other filter.
    let named = app.get("/api/v1/outputs?filenames=zz-my-custom-name.wav,book1/ch2/vc_2026-01-01_100002_000001_voicealice.wav&generation_type=tts").await.ok_json();
    assert_eq!(named["total_files"], 2);
    let page = app
        .get("/api/v1/outputs?page=2&page_size=4")
        .await
        .ok_json();
    assert_eq!(
        (
            page["count"].as_u64(),
            page["total_pages"].as_u64(),
            page["has_next"].as_bool()
        ),
        (Some(2), Some(2), Some(false))
    );
    assert_eq!(names(&page)[1], "tts_2026-01-01_100000_000001_temp0.75.wav");
    app.get("/api/v1/outputs?page_size=101")
        .await
        .assert_error(422, "VALIDATION_ERROR");
    app.get("/api/v1/outputs?folder=../voices")
        .await
        .assert_error(422, "INVALID_PATH");
    app.get("/api/v1/outputs?filenames=../voices/x.wav")
        .await
        .assert_error(422, "INVALID_PATH");

    let folders = app.get("/api/v1/outputs/folders").await.ok_json();
    let paths: Vec<&str> = folders["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["root", "book1", "book1/ch2", "book2"]);
    assert_eq!(folders["total_files"], 6);
}

async fn downloads_serve_bytes_ranges_and_types(b: Backend) {
    let app = TestApp::new(&b);
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    seed_output(
        b.store.as_ref(),
        "book1/take (1).mp3",
        data.clone(),
        json!({"type": "tts"}),
    )
    .await;

    let full = app.get("/outputs/book1/take%20(1).mp3").await;
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-type"), Some("audio/mpeg"));
    assert_eq!(full.header("content-length"), Some("50000"));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert!(full.header("last-modified").is_some());
    assert_eq!(full.body.as_ref(), data.as_slice());

    let part = app
        .get_with(
            "/outputs/book1/take%20(1).mp3",
            &[("range", "bytes=100-1099")],
        )
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 100-1099/50000"));
    assert_eq!(part.header("content-length"), Some("1000"));
    assert_eq!(part.body.as_ref(), &data[100..1100]);
    let tail = app
        .get_with("/outputs/book1/take%20(1).mp3", &[("range", "bytes=-10")])
        .await;
    assert_eq!(
        (tail.status.as_u16(), tail.body.as_ref()),
        (206, &data[49_990..])
    );
    let open = app
        .get_with(
            "/outputs/book1/take%20(1).mp3",
            &[("range", "bytes=49000-")],
        )
        .await;
    assert_eq!(open.body.len(), 1000);
    let bad = app
        .get_with(
            "/outputs/book1/take%20(1).mp3",
            &[("range", "bytes=60000-")],
        )
        .await;
    bad.assert_error(416, "RANGE_NOT_SATISFIABLE");
    assert_eq!(bad.header("content-range"), Some("bytes */50000"));
    // Multiple ranges are answered with the whole file.
    assert_eq!(
        app.get_with(
            "/outputs/book1/take%20(1).mp3",
            &[("range", "bytes=0-1,5-6")]
        )
        .await
        .status,
        200
    );

    let sidecar = app.get("/outputs/book1/take%20(1).mp3.json").await;
    assert_eq!(sidecar.header("content-type"), Some("application/json"));
    assert_eq!(sidecar.json()["type"], "tts");

    app.get("/outputs/book1/missing.wav")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    for path in [
        "..%2Fvoices%2Fx.wav",
        "book1%2F..%2F..%2Fx.wav",
        "%2Fetc%2Fpasswd",
        "book1/.hidden.wav",
    ] {
        app.get(&format!("/outputs/{path}"))
            .await
            .assert_error(422, "INVALID_PATH");
    }
}

async fn output_deletion_single_and_bulk(b: Backend) {
    let app = TestApp::new(&b);
    let store = b.store.as_ref();
    seed_outputs(store).await;
    app.delete("/api/v1/output/concat_2026-01-01_100003_000001_3files.flac")
        .await
        .assert_error(400, "CONFIRMATION_REQUIRED");
    let one = app
        .delete("/api/v1/output/concat_2026-01-01_100003_000001_3files.flac?confirm=true")
        .await
        .ok_json();
    assert_eq!(
        one["deleted_files"],
        json!([
            "concat_2026-01-01_100003_000001_3files.flac",
            "concat_2026-01-01_100003_000001_3files.flac.json"
        ])
    );
    app.delete("/api/v1/output/nothing.wav?confirm=true")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    app.delete("/api/v1/output/..%2Fvoices%2Fa.wav?confirm=true")
        .await
        .assert_error(422, "INVALID_PATH");

    app.delete("/api/v1/outputs?generation_type=vc")
        .await
        .assert_error(400, "CONFIRMATION_REQUIRED");
    let none = app
        .delete("/api/v1/outputs?confirm=true&generation_type=vc&folder=book2")
        .await
        .ok_json();
    assert_eq!(
        none["message"],
        "No output files found matching criteria (already clean)"
    );
    // Filters are ANDed; the emptied folder book1/ch2 is reported.
    let vc = app
        .delete("/api/v1/outputs?confirm=true&generation_type=vc&project=book1")
        .await
        .ok_json();
    assert_eq!(
        vc["message"],
        "Deleted 1 output file(s) and cleaned up 1 empty folder(s)"
    );
    let searched = app
        .delete("/api/v1/outputs?confirm=true&search=custom")
        .await
        .ok_json();
    assert_eq!(
        searched["deleted_files"],
        json!([
            "book2/zz-my-custom-name.wav",
            "book2/zz-my-custom-name.wav.json"
        ])
    );
    let named = app.delete("/api/v1/outputs?confirm=true&filenames=tts_2026-01-01_100000_000001_temp0.75.wav,ghost.wav").await.ok_json();
    assert_eq!(
        (named["deleted_count"].as_u64(), named["not_found"].clone()),
        (Some(1), json!(["ghost.wav"]))
    );
    assert_eq!(
        stored_keys(store, "outputs").await,
        [
            "outputs/book1/tts_2026-01-01_100001_000001_temp0.75.mp3",
            "outputs/book1/tts_2026-01-01_100001_000001_temp0.75.mp3.json",
            "outputs/book2/mixed_2026-01-01_100004_000001_default.wav",
            "outputs/book2/mixed_2026-01-01_100004_000001_default.wav.json",
        ]
    );
    app.delete("/api/v1/outputs?confirm=true")
        .await
        .assert_error(400, "FILTER_REQUIRED");
    let rest = app
        .delete("/api/v1/outputs?confirm=true&all=true")
        .await
        .ok_json();
    assert_eq!(
        rest["message"],
        "Deleted 2 output file(s) and cleaned up 2 empty folder(s)"
    );
    assert!(stored_keys(store, "outputs").await.is_empty());
    let folders = app.get("/api/v1/outputs/folders").await.ok_json();
    assert_eq!(folders["folders"], json!([]));
}

async fn vc_inputs_upload_list_search_and_delete(b: Backend) {
    let app = TestApp::new(&b);
    let store = b.store.as_ref();
    let upload = |name: &str, data: Vec<u8>| Form::new().file("vc_input_file", name, data);
    let first = app
        .post_form(
            "/api/v1/vc_input",
            &upload("line1.wav", wav())
                .text("text", "Hello there")
                .text("project", "scene1"),
        )
        .await
        .ok_json();
    assert_eq!(first["filename"], "line1.wav");
    assert_eq!(
        first["message"],
        "VC input 'scene1/line1.wav' uploaded successfully"
    );
    assert_eq!(first["metadata"]["text"], "Hello there");
    assert_eq!(first["metadata"]["folder_path"], "scene1");
    assert_eq!(first["metadata"]["sample_rate"], 22050);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // folder_path wins over project.
    app.post_form(
        "/api/v1/vc_input",
        &upload("line2.ogg", fixture("tone.ogg"))
            .text("text", "General Kenobi")
            .text("folder_path", "scene2")
            .text("project", "scene1"),
    )
    .await
    .ok_json();
    let side: Value = serde_json::from_slice(
        &store
            .get(&Key::new("vc_inputs/scene2/line2.ogg.json").unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (side["text"].as_str(), side["filename"].as_str()),
        (Some("General Kenobi"), Some("line2.ogg"))
    );

    let list = app.get("/api/v1/vc_inputs").await.ok_json();
    assert_eq!(list["total_files"], 2);
    assert_eq!(
        names(&list),
        ["scene2/line2.ogg", "scene1/line1.wav"],
        "newest first"
    );
    assert_eq!(list["files"][1]["text"], "Hello there");
    assert_eq!(
        app.get("/api/v1/vc_inputs?search=SCENE1").await.ok_json()["total_files"],
        1
    );
    assert_eq!(
        app.get("/api/v1/vc_inputs?folder=scene2").await.ok_json()["files"][0]["filename"],
        "line2.ogg"
    );
    let folders = app.get("/api/v1/vc_inputs/folders").await.ok_json();
    assert_eq!(folders["total_folders"], 2);

    app.post_form(
        "/api/v1/vc_input",
        &upload("line1.wav", wav()).text("project", "scene1"),
    )
    .await
    .assert_error(409, "FILE_EXISTS");
    app.post_form("/api/v1/vc_input", &upload("empty.wav", Vec::new()))
        .await
        .assert_error(400, "BAD_REQUEST");
    app.post_form(
        "/api/v1/vc_input",
        &upload("x.wav", b"RIFF....WAVEjunk".to_vec()),
    )
    .await
    .assert_error(415, "INVALID_AUDIO");
    app.post_form(
        "/api/v1/vc_input",
        &upload("x.wav", wav()).text("project", "../../outputs"),
    )
    .await
    .assert_error(422, "INVALID_PATH");
    app.post_form(
        "/api/v1/vc_input",
        &Form::new().file("voice_file", "x.wav", wav()),
    )
    .await
    .assert_error(400, "BAD_REQUEST");
    assert_eq!(stored_keys(store, "").await.len(), 4);

    // Bulk deletion searches the transcript too.
    let by_text = app
        .delete("/api/v1/vc_inputs?confirm=true&search=kenobi")
        .await
        .ok_json();
    assert_eq!(
        by_text["message"],
        "Deleted 1 VC input file(s) and cleaned up 1 empty folder(s)"
    );
    app.delete("/api/v1/vc_input/line1.wav")
        .await
        .assert_error(400, "CONFIRMATION_REQUIRED");
    let single = app
        .delete("/api/v1/vc_input/line1.wav?confirm=true")
        .await
        .ok_json();
    assert_eq!(
        single["deleted_files"],
        json!(["scene1/line1.wav", "scene1/line1.wav.json"])
    );
    assert!(stored_keys(store, "").await.is_empty());
    let clean = app
        .delete("/api/v1/vc_inputs?confirm=true&all=true")
        .await
        .ok_json();
    assert_eq!(clean["deleted_count"], 0);
}

async fn vc_input_size_limit_is_413(b: Backend) {
    let app = TestApp::with_config(&b, |c| c.limits.max_vc_input_upload_mb = 1);
    let big = tests::fixtures::wav_tone(40.0, 22_050, 300.0);
    assert!(big.len() > 1024 * 1024);
    app.post_form(
        "/api/v1/vc_input",
        &Form::new().file("vc_input_file", "big.wav", big),
    )
    .await
    .assert_error(413, "FILE_TOO_LARGE");
    assert!(stored_keys(b.store.as_ref(), "").await.is_empty());
}

for_each_persistent_backend!(
    output_listing_filters_and_orders_newest_first,
    downloads_serve_bytes_ranges_and_types,
    output_deletion_single_and_bulk,
    vc_inputs_upload_list_search_and_delete,
    vc_input_size_limit_is_413,
);
