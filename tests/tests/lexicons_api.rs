//! Pronunciation lexicons over HTTP on the filesystem store and a real S3 server: stored,
//! listed, replaced and deleted by name, refused when malformed (naming the entry), applied
//! by name in the native and OpenAI dialects before the engine sees the text, and carried by
//! backups.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use storage::Key;
use tests::engines::{chatterbox_standins, standin_audio};
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

fn app_with_bundle(b: &Backend) -> TestApp {
    TestApp::with_config(b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
    })
}

/// The text Chatterbox was given for the TTS request `body`, from its generation sidecar.
async fn spoken_text(b: &Backend, app: &TestApp, body: Value) -> String {
    let response = app.post_json("/api/v1/tts?response_mode=url", &body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let name = response.json()["output_files"][0]["filename"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = b
        .store
        .get(&Key::new(format!("outputs/{name}.json")).unwrap())
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&bytes).unwrap();
    info["generation_info"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn lexicons_are_stored_and_applied_by_name(b: Backend) {
    let app = app_with_bundle(&b);
    let voice = Form::new().file("voice_file", "anna.wav", standin_audio("ref_7s.wav"));
    app.post_form("/api/v1/voice", &voice).await.assert_ok();
    let tech = json!({"description": "Tech words", "entries": [
        {"grapheme": "nginx", "alias": "engine x"},
        {"grapheme": "SQL", "alias": "sequel", "case_sensitive": true, "phoneme": "ˈsiːkwəl"},
    ]});
    let stored = app.put_json("/api/v1/lexicon/tech", &tech).await.ok_json();
    assert_eq!(stored["replaced"], false);
    assert_eq!(stored["entries"], 2);
    let listed = app.get("/api/v1/lexicons").await.ok_json();
    assert_eq!(listed["lexicons"][0]["name"], "tech", "{listed}");
    assert_eq!(app.get("/api/v1/lexicon/tech").await.ok_json(), tech);

    let body = |lexicons: Value| {
        json!({"text": "Nginx talks SQL, not sql.", "reference_audio_filename": "anna",
               "temperature": 0, "to_lowercase": false, "lexicons": lexicons,
               "export_formats": ["wav"]})
    };
    let spoken = spoken_text(&b, &app, body(json!(["tech"]))).await;
    assert!(
        spoken.contains("engine x talks sequel, not sql."),
        "{spoken}"
    );
    let plain = spoken_text(&b, &app, body(json!([]))).await;
    assert!(plain.contains("Nginx talks SQL"), "{plain}");
    let unknown = app.post_json("/api/v1/tts", &body(json!(["nope"]))).await;
    let error = unknown.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["detail"]["param"], "lexicons");

    // The OpenAI dialect takes the same names as an extension field.
    let openai = app
        .post_json(
            "/v1/audio/speech",
            &json!({"model": "tts-1", "input": "Hi.", "voice": "alloy", "lexicons": ["nope"]}),
        )
        .await;
    assert_eq!(openai.status, 400, "{}", openai.text());
    assert_eq!(openai.json()["error"]["param"], "lexicons");
    let spoken = app
        .post_json(
            "/v1/audio/speech",
            &json!({"model": "tts-1", "input": "nginx", "voice": "alloy", "lexicons": ["tech"],
                    "response_format": "wav"}),
        )
        .await;
    assert_eq!(spoken.status, 200);

    // Malformed lexicons are refused, naming the entry; nothing is stored.
    let bad =
        json!({"entries": [{"grapheme": "ok", "alias": "fine"}, {"grapheme": "x", "alias": ""}]});
    let refused = app.put_json("/api/v1/lexicon/broken", &bad).await;
    assert_eq!(
        refused.assert_error(422, "VALIDATION_ERROR")["detail"]["param"],
        "entries[1].alias"
    );
    let typo = json!({"entries": [{"grapheme": "x", "alias": "y", "alais": "z"}]});
    assert_eq!(
        app.put_json("/api/v1/lexicon/broken", &typo).await.status,
        422
    );
    app.put_json("/api/v1/lexicon/..%2Fevil", &tech)
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert_eq!(
        stored_keys(b.store.as_ref(), "lexicons/").await,
        ["lexicons/tech.json"]
    );

    // Backups carry lexicons; a restore into an empty store brings them back.
    let archive = app.get("/api/v1/backup").await;
    let fresh = Backend::fs().await;
    let other = TestApp::new(&fresh);
    let restored = other
        .request(
            http::Request::post("/api/v1/restore")
                .header("content-type", "application/x-tar")
                .body(axum::body::Body::from(archive.body.clone()))
                .unwrap(),
        )
        .await
        .ok_json();
    assert!(
        restored["created"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "lexicons/tech.json"),
        "{restored}"
    );
    assert_eq!(other.get("/api/v1/lexicon/tech").await.ok_json(), tech);

    // Replace, then delete.
    let replaced = app
        .put_json("/api/v1/lexicon/tech", &json!({"entries": []}))
        .await
        .ok_json();
    assert_eq!(replaced["replaced"], true);
    app.delete("/api/v1/lexicon/tech").await.assert_ok();
    app.get("/api/v1/lexicon/tech")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    app.delete("/api/v1/lexicon/tech")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

for_each_persistent_backend!(lexicons_are_stored_and_applied_by_name);
