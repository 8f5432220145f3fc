//! Long-form jobs over HTTP on the filesystem store and a real S3 server: a Markdown book
//! is accepted at once (202), spoken chapter by chapter in the background, reported with
//! per-chapter progress (and as Server-Sent Events), and leaves one output per chapter and
//! the joined book with captions, and no scratch parts; a cancelled job stops; bad requests
//! are 4xx with nothing stored. Resuming after a kill is in local-runner/tests/jobs_resume.rs.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use storage::Key;
use tests::fixtures::decode;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

const BOOK: &str = "# The Start\nIt was a bright cold day. The clocks were striking.\n\n\
## The Middle\nNothing happened for a while. Then it did.\n\n# The End\nAnd that was all.\n";

/// Polls a job until it is final (or 90 s pass).
async fn finished(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let job = app.get(&format!("/api/v1/jobs/{id}")).await.ok_json();
        if ["completed", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        assert!(Instant::now() < deadline, "job still {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_markdown_book_becomes_chapters_and_a_book(b: Backend) {
    let app = TestApp::new(&b);
    let accepted = app
        .post_json(
            "/api/v1/jobs",
            &json!({"title": "My Book", "text": BOOK, "format": "markdown",
                    "export_formats": ["wav"], "chapter_pause_ms": 1000}),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let accepted = accepted.json();
    let id = accepted["job_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted["status_url"], format!("/api/v1/jobs/{id}"));
    let titles: Vec<&str> = accepted["job"]["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["The Start", "The Middle", "The End"]);

    let job = finished(&app, &id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["progress"]["fraction"], 1.0);
    let total: u64 = job["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["chunks_done"], c["chunks_total"], "{job}");
            c["chunks_total"].as_u64().unwrap()
        })
        .sum();
    assert!(total >= 3);
    assert_eq!(
        job["chunks_written"].as_u64().unwrap(),
        total,
        "no chunk spoken twice"
    );
    assert!(job["lease"].is_null());

    // One output per chapter, then the book, in the job's folder, with captions.
    let outputs = job["outputs"].as_array().unwrap();
    let paths: Vec<&str> = outputs
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "jobs/my-book/my-book-01-the-start.wav",
            "jobs/my-book/my-book-02-the-middle.wav",
            "jobs/my-book/my-book-03-the-end.wav",
            "jobs/my-book/my-book.wav",
        ]
    );
    let seconds = |path: &str| {
        let path = path.to_owned();
        let store = b.store.clone();
        async move {
            let bytes = store
                .get(&Key::new(format!("outputs/{path}")).unwrap())
                .await
                .unwrap();
            let pcm = decode(&bytes, "wav");
            pcm.frames() as f64 / f64::from(pcm.sample_rate)
        }
    };
    let chapters: f64 = seconds(paths[0]).await + seconds(paths[1]).await + seconds(paths[2]).await;
    let book = seconds(paths[3]).await;
    assert!(
        (book - (chapters + 2.0)).abs() < 0.01,
        "{book} vs {chapters} + 2 pauses"
    );
    let captions = app
        .get("/api/v1/output/jobs%2Fmy-book%2Fmy-book.wav/captions?format=json")
        .await
        .ok_json();
    let texts: Vec<&str> = captions["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts.first(),
        Some(&"It was a bright cold day. The clocks were striking.")
    );
    assert_eq!(texts.last(), Some(&"And that was all."));
    assert_eq!(captions["level"], "word");
    let chapter_captions = app
        .get("/api/v1/output/jobs%2Fmy-book%2Fmy-book-02-the-middle.wav/captions?format=srt")
        .await;
    assert_eq!(chapter_captions.status, 200);
    assert!(chapter_captions.text().contains("Then it did."));
    // The scratch parts are gone; the job is listed.
    assert!(
        stored_keys(b.store.as_ref(), &format!("jobs/{id}/parts/"))
            .await
            .is_empty()
    );
    let listed = app.get("/api/v1/jobs").await.ok_json();
    assert_eq!(listed["jobs"][0]["id"], id.as_str());
}

async fn progress_streams_as_events(b: Backend) {
    let app = TestApp::new(&b);
    let id = app
        .post_json(
            "/api/v1/jobs",
            &json!({"chapters": [{"title": "A", "text": "One. Two. Three."}, {"text": "Four."}],
                    "export_formats": ["wav"]}),
        )
        .await
        .json()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = app.get(&format!("/api/v1/jobs/{id}/events")).await;
    assert_eq!(events.status, 200);
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    let text = events.text();
    assert!(text.contains("event: progress"), "{text}");
    let last = text.rsplit("event: ").next().unwrap();
    assert!(last.starts_with("done\n"), "{text}");
    let data: Value = serde_json::from_str(last.split_once("data: ").unwrap().1.trim()).unwrap();
    assert_eq!(data["status"], "completed");
    assert_eq!(data["chapters"][1]["title"], "Chapter 2");
}

async fn a_cancelled_job_stops(b: Backend) {
    let app = TestApp::new(&b);
    let chapters: Vec<Value> = (0..40)
        .map(|n| json!({"title": format!("Part {n}"), "text": "A sentence to speak. And another one here."}))
        .collect();
    let id = app
        .post_json(
            "/api/v1/jobs",
            &json!({"chapters": chapters, "export_formats": ["wav"]}),
        )
        .await
        .json()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancelled = app
        .post(&format!("/api/v1/jobs/{id}/cancel"))
        .await
        .ok_json();
    assert_eq!(cancelled["status"], "cancelled");
    let job = finished(&app, &id).await;
    assert_eq!(job["status"], "cancelled");
    // It stops after the chunk in flight, whose part the worker then removes (a loaded
    // machine may take a while over that chunk).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stored_keys(b.store.as_ref(), &format!("jobs/{id}/parts/"))
        .await
        .is_empty()
    {
        assert!(Instant::now() < deadline, "a cancelled job kept its parts");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = app.get(&format!("/api/v1/jobs/{id}")).await.ok_json();
    assert_eq!(job["status"], "cancelled");
    assert!(job["outputs"].as_array().unwrap().len() < 40, "{job}");
    // A typo on a destructive call is refused, not ignored.
    let typo = app
        .post(&format!("/api/v1/jobs/{id}/cancel?confrim=true"))
        .await;
    let error = typo.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["detail"]["param"], "confrim");
    // Cancelling again changes nothing.
    let again = app
        .post(&format!("/api/v1/jobs/{id}/cancel"))
        .await
        .ok_json();
    assert_eq!(again["status"], "cancelled");
}

async fn bad_jobs_are_refused_with_nothing_stored(b: Backend) {
    let app = TestApp::new(&b);
    for (body, status, param) in [
        (json!({"txt": "Hello."}), 422, "txt"),
        (
            json!({"text": "Hi.", "chapters": [{"text": "Hi."}]}),
            422,
            "chapters",
        ),
        (json!({}), 422, "text"),
        (
            json!({"text": "Hi.", "speed_factor": 9}),
            422,
            "speed_factor",
        ),
        (
            json!({"text": "Hi.", "chapter_pause_ms": 60000}),
            422,
            "chapter_pause_ms",
        ),
        (json!({"text": "Hi.", "export_formats": ["wma"]}), 400, ""),
        (
            json!({"text": "Hi.", "reference_audio_filename": "nobody"}),
            404,
            "",
        ),
        (
            json!({"text": "Hi.", "lexicons": ["missing"]}),
            422,
            "lexicons",
        ),
    ] {
        let response = app.post_json("/api/v1/jobs", &body).await;
        assert_eq!(response.status, status, "{body}: {}", response.text());
        if !param.is_empty() {
            let error = response.json();
            assert!(
                error["detail"]["param"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(param),
                "{body}: {error}"
            );
        }
    }
    assert!(stored_keys(b.store.as_ref(), "jobs/").await.is_empty());
    app.get("/api/v1/jobs/not-a-job")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    app.get("/api/v1/jobs/00000000-0000-4000-8000-000000000000")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn a_book_too_long_to_join_keeps_its_chapters(b: Backend) {
    let app = TestApp::with_config(&b, |c| c.limits.max_audio_seconds = 4);
    let id = app
        .post_json(
            "/api/v1/jobs",
            &json!({"chapters": [{"text": "The first chapter is short."}, {"text": "So is the second."}],
                    "export_formats": ["wav"], "chapter_pause_ms": 3000}),
        )
        .await
        .json()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = finished(&app, &id).await;
    assert_eq!(job["status"], "completed", "{job}");
    let kinds: Vec<&str> = job["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["chapter", "chapter"]);
    assert!(
        job["warnings"][0].as_str().unwrap().contains("not joined"),
        "{job}"
    );

    // A chapter longer than any output may be fails the job, naming the chapter.
    let long = app
        .post_json(
            "/api/v1/jobs",
            &json!({"text": "This single chapter goes on and on for a good deal longer than four seconds of speech.",
                    "export_formats": ["wav"]}),
        )
        .await
        .json()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = finished(&app, &long).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("chapter 1"),
        "{job}"
    );
    assert!(
        stored_keys(b.store.as_ref(), &format!("jobs/{long}/parts/"))
            .await
            .is_empty()
    );
}

for_each_persistent_backend!(
    a_book_too_long_to_join_keeps_its_chapters,
    a_markdown_book_becomes_chapters_and_a_book,
    progress_streams_as_events,
    a_cancelled_job_stops,
    bad_jobs_are_refused_with_nothing_stored,
);
