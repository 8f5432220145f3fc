//! Voices over HTTP, on the filesystem store and a real S3 server: upload, list,
//! search, folders, metadata update (and move), delete, bulk delete, and every
//! refusal leaving the store exactly as it was.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use storage::{Key, ObjectStore};
use tests::fixtures::{fixture, wav, wav_tone};
use tests::multipart::Form;
use tests::stored_keys;
use tests::{Backend, TestApp, for_each_persistent_backend};

async fn sidecar(store: &dyn ObjectStore, key: &str) -> Value {
    serde_json::from_slice(&store.get(&Key::new(key).unwrap()).await.unwrap()).unwrap()
}

fn voice_form(file_name: &str, data: Vec<u8>) -> Form {
    Form::new().file("voice_file", file_name, data)
}

async fn upload(app: &TestApp, form: Form) -> Value {
    app.post_form("/api/v1/voice", &form).await.ok_json()
}

async fn voice_upload_list_update_and_delete(b: Backend) {
    let app = TestApp::new(&b);
    let store = b.store.as_ref();
    let form = voice_form("Alice Smith.wav", wav())
        .text("name", "Alice")
        .text("description", "Warm narrator")
        .text("tags", " narrator, en ,, calm ")
        .text("folder_path", "narrators/en")
        .text(
            "default_parameters",
            r#"{"temperature": 0.6, "exaggeration": 0.4}"#,
        );
    let body = upload(&app, form).await;
    assert_eq!(body["success"], true);
    assert_eq!(body["filename"], "Alice Smith.wav");
    assert_eq!(body["message"], "Voice 'Alice' uploaded successfully");
    let meta = &body["voice_metadata"];
    assert_eq!(meta["url"], "narrators/en/Alice Smith.wav");
    assert_eq!(meta["folder_path"], "narrators/en");
    assert_eq!(meta["tags"], json!(["narrator", "en", "calm"]));
    assert_eq!(meta["default_parameters"]["temperature"], 0.6);
    assert_eq!(meta["sample_rate"], 22050);
    assert!((meta["duration_seconds"].as_f64().unwrap() - 1.0).abs() < 1e-3);
    assert_eq!(meta["usage_count"], 0);
    assert_eq!(meta["format"], "wav");

    // Object and sidecar side by side, nothing else.
    assert_eq!(
        stored_keys(store, "").await,
        [
            "voices/narrators/en/Alice Smith.wav",
            "voices/narrators/en/Alice Smith.wav.json"
        ]
    );
    let side = sidecar(store, "voices/narrators/en/Alice Smith.wav.json").await;
    assert_eq!(side["name"], "Alice");
    assert_eq!(side["usage_count"], 0);
    assert_eq!(side["sample_rate"], 22050);
    assert_eq!(side["file_size_bytes"], wav().len());
    assert_eq!(side["folder_path"], "narrators/en");

    upload(
        &app,
        voice_form("bob.mp3", fixture("tone.mp3"))
            .text("description", "Deep voice")
            .text("tags", "bass"),
    )
    .await;
    upload(
        &app,
        voice_form("carol.flac", fixture("tone.flac")).text("folder_path", "narrators/fr"),
    )
    .await;

    let list = app.get("/api/v1/voices").await.ok_json();
    assert_eq!(list["total_voices"], 3);
    assert_eq!(list["count"], 3);
    let urls: Vec<&str> = list["voices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "bob.mp3",
            "narrators/en/Alice Smith.wav",
            "narrators/fr/carol.flac"
        ]
    );

    // Search covers description, tags, name and folder, case-insensitively.
    for (query, expected) in [
        ("DEEP", "bob.mp3"),
        ("calm", "narrators/en/Alice Smith.wav"),
        ("fr", "narrators/fr/carol.flac"),
    ] {
        let found = app
            .get(&format!("/api/v1/voices?search={query}"))
            .await
            .ok_json();
        assert_eq!(found["total_voices"], 1, "search {query}: {found}");
        assert_eq!(found["voices"][0]["url"], expected);
    }
    // Hierarchical folder filter, and `project` as its alias.
    assert_eq!(
        app.get("/api/v1/voices?folder=narrators").await.ok_json()["total_voices"],
        2
    );
    assert_eq!(
        app.get("/api/v1/voices?project=narrators/en")
            .await
            .ok_json()["total_voices"],
        1
    );
    assert_eq!(
        app.get("/api/v1/voices?folder=narr").await.ok_json()["total_voices"],
        0
    );
    assert_eq!(
        app.get("/api/v1/voices?folder=narrators/fr&project=narrators/en")
            .await
            .ok_json()["voices"][0]["url"],
        "narrators/fr/carol.flac"
    );

    // Metadata update works (the original always answered 500) and moves the file.
    let updated = app
        .put_json(
            "/api/v1/voice/Alice%20Smith.wav/metadata",
            &json!({"name": "Alice S.", "tags": ["warm"], "folder_path": "archive", "description": null}),
        )
        .await
        .ok_json();
    assert_eq!(updated["voice_metadata"]["name"], "Alice S.");
    assert_eq!(updated["voice_metadata"]["url"], "archive/Alice Smith.wav");
    assert_eq!(updated["voice_metadata"]["description"], "Warm narrator");
    assert_eq!(updated["voice_metadata"]["tags"], json!(["warm"]));
    let keys = stored_keys(store, "").await;
    assert!(keys.contains(&"voices/archive/Alice Smith.wav".to_owned()));
    assert!(keys.contains(&"voices/archive/Alice Smith.wav.json".to_owned()));
    assert!(
        !keys.iter().any(|k| k.starts_with("voices/narrators/en")),
        "{keys:?}"
    );
    let side = sidecar(store, "voices/archive/Alice Smith.wav.json").await;
    assert_eq!(
        (side["name"].as_str(), side["folder_path"].as_str()),
        (Some("Alice S."), Some("archive"))
    );
    assert_eq!(side["default_parameters"]["exaggeration"], 0.4);

    // Delete needs confirm=true; then the file and its sidecar go.
    app.delete("/api/v1/voice/bob.mp3")
        .await
        .assert_error(400, "CONFIRMATION_REQUIRED");
    assert!(
        store
            .head(&Key::new("voices/bob.mp3").unwrap())
            .await
            .is_ok()
    );
    let deleted = app
        .delete("/api/v1/voice/bob.mp3?confirm=true")
        .await
        .ok_json();
    assert_eq!(deleted["deleted_files"], json!(["bob.mp3", "bob.mp3.json"]));
    assert_eq!(deleted["deleted_count"], 1);
    app.delete("/api/v1/voice/bob.mp3?confirm=true")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    app.put_json("/api/v1/voice/bob.mp3/metadata", &json!({"name": "x"}))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    // A path with an encoded slash addresses one folder precisely.
    app.delete("/api/v1/voice/narrators%2Ffr%2Fcarol.flac?confirm=true")
        .await
        .ok_json();
    assert_eq!(
        stored_keys(store, "").await,
        [
            "voices/archive/Alice Smith.wav",
            "voices/archive/Alice Smith.wav.json"
        ]
    );
}

async fn every_upload_format_is_decoded_and_measured(b: Backend) {
    let app = TestApp::new(&b);
    for name in ["tone.mp3", "tone.flac", "tone.ogg", "tone.m4a", "tone.aac"] {
        let meta = upload(&app, voice_form(name, fixture(name))).await["voice_metadata"].clone();
        assert_eq!(meta["sample_rate"], 22050, "{name}");
        let duration = meta["duration_seconds"].as_f64().unwrap();
        // AAC carries no gapless information, so it decodes a little longer.
        assert!((0.99..=1.12).contains(&duration), "{name}: {duration}");
        assert_eq!(meta["format"], name.rsplit('.').next().unwrap());
    }
    assert_eq!(app.get("/api/v1/voices").await.ok_json()["total_voices"], 5);
}

async fn refused_uploads_leave_nothing_behind(b: Backend) {
    let app = TestApp::with_config(&b, |c| c.limits.max_voice_upload_mb = 1);
    let store = b.store.as_ref();
    upload(&app, voice_form("keep.wav", wav())).await;
    let before = stored_keys(store, "").await;

    app.post_form(
        "/api/v1/voice",
        &voice_form("fake.wav", b"this is not audio at all".to_vec()),
    )
    .await
    .assert_error(415, "INVALID_AUDIO");
    app.post_form("/api/v1/voice", &voice_form("notes.txt", b"hello".to_vec()))
        .await
        .assert_error(415, "UNSUPPORTED_FORMAT");
    app.post_form(
        "/api/v1/voice",
        &voice_form("big.wav", wav_tone(30.0, 22_050, 440.0)),
    )
    .await
    .assert_error(413, "FILE_TOO_LARGE");
    app.post_form("/api/v1/voice", &voice_form("empty.wav", Vec::new()))
        .await
        .assert_error(400, "BAD_REQUEST");
    let bad_json = voice_form("x.wav", wav()).text("default_parameters", "{not json");
    let body = app
        .post_form("/api/v1/voice", &bad_json)
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Invalid JSON in default_parameters"),
        "{body}"
    );
    app.post_form(
        "/api/v1/voice",
        &voice_form("x.wav", wav()).text("default_parameters", "[1,2]"),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    for folder in ["../escape", "a/../../b", "/etc", "a//b", "a\\b", ".hidden"] {
        let body = app
            .post_form(
                "/api/v1/voice",
                &voice_form("x.wav", wav()).text("folder_path", folder),
            )
            .await
            .assert_error(422, "INVALID_PATH");
        assert_eq!(body["detail"]["param"], "folder_path", "{folder}");
    }
    app.post_form("/api/v1/voice", &Form::new().text("name", "no file"))
        .await
        .assert_error(400, "BAD_REQUEST");
    app.post_form(
        "/api/v1/voice",
        &voice_form("x.wav", wav()).text("overwrite", "maybe"),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");

    // Same name without overwrite: 409 and the original is untouched.
    let replacement = wav_tone(0.5, 16_000, 220.0);
    app.post_form(
        "/api/v1/voice",
        &voice_form("keep.wav", replacement.clone()),
    )
    .await
    .assert_error(409, "FILE_EXISTS");
    assert_eq!(
        store
            .get(&Key::new("voices/keep.wav").unwrap())
            .await
            .unwrap(),
        wav()
    );
    assert_eq!(stored_keys(store, "").await, before);

    // With overwrite the file and its facts are replaced.
    let meta = upload(
        &app,
        voice_form("keep.wav", replacement.clone()).text("overwrite", "true"),
    )
    .await;
    assert_eq!(meta["voice_metadata"]["sample_rate"], 16000);
    assert_eq!(
        store
            .get(&Key::new("voices/keep.wav").unwrap())
            .await
            .unwrap(),
        replacement
    );
    assert_eq!(stored_keys(store, "").await, before);
}

async fn hostile_file_names_are_sanitised(b: Backend) {
    let app = TestApp::new(&b);
    let body = upload(&app, voice_form("../../etc/pass:wd?.wav", wav())).await;
    assert_eq!(body["filename"], "pass_wd_.wav");
    assert_eq!(
        stored_keys(b.store.as_ref(), "").await,
        ["voices/pass_wd_.wav", "voices/pass_wd_.wav.json"]
    );
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "a%2F..%2F..%2Fb.wav",
        "%2Fetc%2Fpasswd",
    ] {
        app.delete(&format!("/api/v1/voice/{bad}?confirm=true"))
            .await
            .assert_error(422, "INVALID_PATH");
        app.put_json(
            &format!("/api/v1/voice/{bad}/metadata"),
            &json!({"name": "x"}),
        )
        .await
        .assert_error(422, "INVALID_PATH");
    }
    app.put_json(
        "/api/v1/voice/pass_wd_.wav/metadata",
        &json!({"folder_path": "../up"}),
    )
    .await
    .assert_error(422, "INVALID_PATH");
    assert_eq!(stored_keys(b.store.as_ref(), "").await.len(), 2);
}

async fn metadata_updates_refuse_bad_bodies_and_collisions(b: Backend) {
    let app = TestApp::new(&b);
    upload(&app, voice_form("a.wav", wav())).await;
    upload(
        &app,
        voice_form("a.wav", wav()).text("folder_path", "other"),
    )
    .await;
    app.put_raw("/api/v1/voice/a.wav/metadata", "application/json", "{oops")
        .await
        .assert_error(400, "BAD_REQUEST");
    app.put_raw(
        "/api/v1/voice/a.wav/metadata",
        "application/json",
        r#"{"tags": "not-a-list"}"#,
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    app.put_raw("/api/v1/voice/a.wav/metadata", "text/plain", "{}")
        .await
        .assert_error(400, "BAD_REQUEST");
    // Moving onto an existing file is a conflict; nothing moves.
    app.put_json(
        "/api/v1/voice/a.wav/metadata",
        &json!({"folder_path": "other"}),
    )
    .await
    .assert_error(409, "FILE_EXISTS");
    // A bare name held by the root resolves to the root file; a name held only by
    // several folders is ambiguous.
    let root = app
        .put_json("/api/v1/voice/a.wav/metadata", &json!({"name": "Root A"}))
        .await
        .ok_json();
    assert_eq!(root["voice_metadata"]["url"], "a.wav");
    app.put_json(
        "/api/v1/voice/a.wav/metadata",
        &json!({"folder_path": "third"}),
    )
    .await
    .ok_json();
    let body = app
        .put_json("/api/v1/voice/a.wav/metadata", &json!({"name": "?"}))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert!(
        body["error"].as_str().unwrap().contains("several folders"),
        "{body}"
    );
    assert_eq!(stored_keys(b.store.as_ref(), "").await.len(), 4);
}

async fn bulk_voice_deletion_by_each_filter(b: Backend) {
    let app = TestApp::new(&b);
    let store = b.store.as_ref();
    upload(
        &app,
        voice_form("a.wav", wav())
            .text("tags", "keep,en")
            .text("folder_path", "en"),
    )
    .await;
    upload(
        &app,
        voice_form("b.wav", wav())
            .text("tags", "drop")
            .text("folder_path", "en/deep"),
    )
    .await;
    upload(
        &app,
        voice_form("c.wav", wav()).text("description", "Temporary test voice"),
    )
    .await;
    upload(&app, voice_form("d.wav", wav()).text("folder_path", "fr")).await;
    upload(&app, voice_form("e.wav", wav()).text("folder_path", "fr")).await;

    app.delete("/api/v1/voices?tag=drop")
        .await
        .assert_error(400, "CONFIRMATION_REQUIRED");
    app.delete("/api/v1/voices?confirm=false")
        .await
        .assert_error(400, "CONFIRMATION_REQUIRED");
    app.delete("/api/v1/voices?confirm=true&folder=../x")
        .await
        .assert_error(422, "INVALID_PATH");
    assert_eq!(stored_keys(store, "").await.len(), 10);

    let by_tag = app
        .delete("/api/v1/voices?confirm=true&tag=DROP")
        .await
        .ok_json();
    assert_eq!(
        by_tag["deleted_files"],
        json!(["en/deep/b.wav", "en/deep/b.wav.json"])
    );
    let by_search = app
        .delete("/api/v1/voices?confirm=true&search=temporary")
        .await
        .ok_json();
    assert_eq!(by_search["message"], "Deleted 1 voice files");
    assert_eq!(by_search["deleted_files"][0], "c.wav");
    // `filenames` overrides the other filters; unknown names are reported.
    let by_name = app
        .delete("/api/v1/voices?confirm=true&filenames=d.wav,nope.wav&folder=en")
        .await
        .ok_json();
    assert_eq!(
        by_name["deleted_files"],
        json!(["fr/d.wav", "fr/d.wav.json"])
    );
    assert_eq!(by_name["not_found"], json!(["nope.wav"]));
    let by_folder = app
        .delete("/api/v1/voices?confirm=true&project=fr")
        .await
        .ok_json();
    assert_eq!(by_folder["deleted_count"], 1);
    assert_eq!(
        stored_keys(store, "").await,
        ["voices/en/a.wav", "voices/en/a.wav.json"]
    );
    // No filter at all deletes everything only with all=true besides confirm=true.
    app.delete("/api/v1/voices?confirm=true")
        .await
        .assert_error(400, "FILTER_REQUIRED");
    assert_eq!(stored_keys(store, "").await.len(), 2);
    assert_eq!(
        app.delete("/api/v1/voices?confirm=true&all=true")
            .await
            .ok_json()["deleted_count"],
        1
    );
    assert!(stored_keys(store, "").await.is_empty());
}

async fn voice_folders_and_pagination_edges(b: Backend) {
    let app = TestApp::new(&b);
    for (name, folder) in [
        ("r1.wav", ""),
        ("r2.wav", ""),
        ("a.wav", "en"),
        ("b.wav", "en/us/ny"),
        ("c.wav", "fr"),
    ] {
        upload(&app, voice_form(name, wav()).text("folder_path", folder)).await;
    }
    let folders = app.get("/api/v1/voices/folders").await.ok_json();
    assert_eq!(
        folders["total_folders"], 4,
        "root is not counted as a folder"
    );
    assert_eq!(folders["total_voices"], 5);
    let paths: Vec<&str> = folders["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["root", "en", "en/us", "en/us/ny", "fr"]);
    assert_eq!(folders["folders"][0]["voice_count"], 2);
    assert_eq!(folders["folders"][0]["subfolders"], json!(["en", "fr"]));
    assert_eq!(folders["folders"][1]["subfolders"], json!(["en/us"]));
    assert_eq!(folders["folders"][2]["voice_count"], 0);
    assert_eq!(folders["folders"][2]["subfolders"], json!(["en/us/ny"]));

    let page = app.get("/api/v1/voices?page=2&page_size=2").await.ok_json();
    assert_eq!(
        (page["count"].as_u64(), page["total_pages"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(
        (page["has_next"].as_bool(), page["has_previous"].as_bool()),
        (Some(true), Some(true))
    );
    let past = app.get("/api/v1/voices?page=9&page_size=2").await.ok_json();
    assert_eq!(past["voices"], json!([]));
    assert_eq!(
        (past["count"].as_u64(), past["has_next"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(
        app.get("/api/v1/voices?page_size=100").await.ok_json()["count"],
        5
    );
    for bad in [
        "page_size=0",
        "page_size=101",
        "page=0",
        "page=-1",
        "page=abc",
        "page_size=1.5",
    ] {
        app.get(&format!("/api/v1/voices?{bad}"))
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }
}

for_each_persistent_backend!(
    voice_upload_list_update_and_delete,
    every_upload_format_is_decoded_and_measured,
    refused_uploads_leave_nothing_behind,
    hostile_file_names_are_sanitised,
    metadata_updates_refuse_bad_bodies_and_collisions,
    bulk_voice_deletion_by_each_filter,
    voice_folders_and_pagination_edges,
);
