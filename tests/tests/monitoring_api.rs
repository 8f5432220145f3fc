//! Monitoring and resilience over HTTP: transient store failures retried with backoff
//! (a real S3 server answering `SlowDown` / `InternalError`), a lasting outage answered
//! 503 with `Retry-After`, the original's monitoring routes with their response keys, and
//! the Prometheus exposition read back by a real parser.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use storage::Key;
use tests::fixtures::wav;
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_store_failures_are_retried_and_an_outage_is_503() {
    let b = Backend::s3().await;
    let server = b.s3.as_ref().unwrap();
    let app = TestApp::new(&b);
    let clip = Bytes::from(wav());
    b.store
        .put(&Key::new("outputs/take.wav").unwrap(), clip.clone())
        .await
        .unwrap();

    // Two throttled answers in a row: the retries get past them and the client sees none.
    server.inject_failures(2, "SlowDown", 503);
    let read = app.get("/outputs/take.wav").await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.body, clip);
    assert_eq!(
        server.failures_left(),
        0,
        "both failures were met and retried"
    );

    // Server errors on a write: retried too, and the voice is stored once, whole.
    server.inject_failures(2, "InternalError", 500);
    let form = Form::new().file("voice_file", "steady.wav", wav());
    app.post_form("/api/v1/voice", &form).await.assert_ok();
    assert_eq!(server.failures_left(), 0);
    let stored = b
        .store
        .get(&Key::new("voices/steady.wav").unwrap())
        .await
        .unwrap();
    assert_eq!(stored, Bytes::from(wav()));

    // A lasting outage: the retry budget runs out, the client gets a 503 it can act on,
    // soon (not after a client timeout).
    server.inject_failures(1000, "SlowDown", 503);
    let started = Instant::now();
    let refused = app.get("/outputs/take.wav").await;
    let took = started.elapsed();
    refused.assert_error(503, "STORAGE_UNAVAILABLE");
    assert!(refused.header("retry-after").is_some());
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
    let attempts = 1000 - server.failures_left();
    assert!(
        (2..=4).contains(&attempts),
        "{attempts} attempts for one read"
    );

    // Once the store recovers, so does the service.
    server.inject_failures(0, "SlowDown", 503);
    assert_eq!(app.get("/outputs/take.wav").await.status, 200);
}

fn keys_of(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn the_original_monitoring_routes_keep_their_keys(b: Backend) {
    let app = TestApp::new(&b);
    let tts = json!({"text": "Counting this one.", "export_formats": ["wav"], "project": "book"});
    app.post_json("/api/v1/tts", &tts).await.assert_ok();
    // Two kinds of refusal, to be grouped.
    app.post_json("/api/v1/tts", &json!({"text": "x", "speed_factor": 9}))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    app.get("/api/v1/voices/none/such").await;

    let metrics = app.get("/api/v1/metrics").await.ok_json();
    assert_eq!(
        keys_of(&metrics),
        ["performance", "scope", "system", "timestamp"]
    );
    assert_eq!(metrics["scope"], "process");
    let system = &metrics["system"];
    assert_eq!(
        keys_of(system),
        ["cpu_percent", "disk", "file_counts", "memory"]
    );
    assert_eq!(keys_of(&system["memory"]), ["percent", "rss_mb", "vms_mb"]);
    assert!(
        system["memory"]["rss_mb"].as_f64().unwrap() > 1.0,
        "{system}"
    );
    assert_eq!(keys_of(&system["disk"]), ["free_gb", "usage_percent"]);
    // Free space is known for the filesystem store, not for S3.
    assert_eq!(
        system["disk"]["free_gb"].is_number(),
        b.url.starts_with("file://")
    );
    assert_eq!(system["file_counts"]["outputs"], 1, "{system}");
    let performance = &metrics["performance"];
    assert_eq!(performance["time_window_minutes"], 60);
    assert_eq!(
        keys_of(&performance["processing_times"]),
        ["avg_ms", "count", "max_ms", "min_ms"]
    );
    assert_eq!(performance["processing_times"]["count"], 1);
    assert!(performance["response_times"]["count"].as_u64().unwrap() >= 3);
    assert_eq!(
        keys_of(&performance["sample_count"]),
        ["processing_times", "response_times"]
    );

    let summary = app.get("/api/v1/errors/summary").await.ok_json();
    for key in [
        "total_errors",
        "by_category",
        "by_severity",
        "by_operation",
        "most_frequent",
        "unresolved_count",
        "recent_errors",
    ] {
        assert!(summary.get(key).is_some(), "{key} missing: {summary}");
    }
    assert_eq!(summary["total_errors"], 2, "{summary}");
    assert_eq!(summary["by_category"]["permanent"], 2);
    assert_eq!(summary["by_severity"]["low"], 2);
    assert_eq!(summary["by_operation"]["POST /api/v1/tts"], 1);
    assert_eq!(summary["by_operation"]["GET unmatched"], 1);

    let recent = app.get("/api/v1/errors/recent?count=1").await.ok_json();
    assert_eq!(recent["total_stored"], 2);
    let record = &recent["recent_errors"][0];
    assert_eq!(
        keys_of(record),
        [
            "category",
            "context",
            "error_message",
            "error_type",
            "operation",
            "resolution_timestamp",
            "resolved",
            "retry_count",
            "severity",
            "timestamp"
        ]
    );
    assert_eq!(record["error_type"], "ROUTE_NOT_FOUND", "newest first");
    let too_many = app.get("/api/v1/errors/recent?count=51").await;
    let body = too_many.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(body["detail"]["param"], "count");
    assert!(
        body["error"].as_str().unwrap().contains("between 1 and 50"),
        "{body}"
    );

    let health = app.get("/api/v1/health").await.ok_json();
    assert_eq!(
        keys_of(&health["system_info"]),
        ["cpu_percent", "disk", "file_counts", "memory"]
    );
    // The two refusals above and the out-of-range count.
    assert_eq!(health["error_summary"]["total_errors"], 3, "{health}");
    let root = app.get("/").await.ok_json();
    for key in [
        "api_docs",
        "health_check",
        "metrics",
        "tts_generation",
        "voice_conversion",
    ] {
        assert!(root["endpoints"][key].is_string(), "{key}: {root}");
    }
}

/// Parses the text exposition's samples: `name{labels} value` lines.
fn samples(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name.to_owned(), labels.trim_end_matches('}').to_owned()),
                None => (series.to_owned(), String::new()),
            };
            (name, labels, value.parse().unwrap())
        })
        .collect()
}

async fn prometheus_counts_requests_generations_and_the_store(b: Backend) {
    let app = TestApp::new(&b);
    let tts = json!({"text": "Measure me.", "export_formats": ["wav"]});
    app.post_json("/api/v1/tts", &tts).await.assert_ok();
    app.get("/api/v1/voices").await.assert_ok();
    app.get("/api/v1/voices").await.assert_ok();
    let scrape = app.get("/metrics").await;
    assert_eq!(scrape.status, 200);
    assert!(
        scrape
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{:?}",
        scrape.header("content-type")
    );
    let text = scrape.text();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics-style end marker");
    let all = samples(&text);
    let value = |name: &str, labels: &[&str]| -> f64 {
        all.iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|want| l.contains(want)))
            .map(|(_, _, v)| *v)
            .sum()
    };
    assert_eq!(
        value(
            "speech_http_requests_total",
            &[
                "route=\"/api/v1/voices\"",
                "method=\"GET\"",
                "status=\"200\""
            ]
        ),
        2.0
    );
    assert_eq!(
        value(
            "speech_http_request_duration_seconds_count",
            &["route=\"/api/v1/tts\""]
        ),
        1.0
    );
    assert_eq!(
        value(
            "speech_generations_total",
            &["kind=\"tts\"", "engine=\"piper\""]
        ),
        1.0
    );
    assert!(
        value(
            "speech_generated_audio_seconds_total",
            &["engine=\"piper\""]
        ) > 0.3
    );
    assert_eq!(
        value(
            "speech_time_to_first_audio_seconds_count",
            &["engine=\"piper\"", "mode=\"file\""]
        ),
        1.0
    );
    assert_eq!(
        value("speech_real_time_factor_count", &["engine=\"piper\""]),
        1.0
    );
    assert_eq!(
        value("speech_generation_queue_depth", &["engine=\"piper\""]),
        0.0
    );
    assert!(value("speech_engine_load_seconds", &["engine=\"piper\""]) > 0.0);
    assert!(
        value(
            "speech_store_operation_duration_seconds_count",
            &["operation=\"put\""]
        ) >= 2.0
    );
    assert!(value("speech_memory_budget_bytes", &["state=\"limit\""]) > 0.0);
    // Every histogram's buckets grow and end at +Inf with the count.
    let buckets: Vec<f64> = all
        .iter()
        .filter(|(n, l, _)| {
            n == "speech_http_request_duration_seconds_bucket"
                && l.contains("route=\"/api/v1/voices\"")
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(buckets.last().copied(), Some(2.0));
    // Unmatched paths share one label value, so scanners cannot grow the series.
    for n in 0..5 {
        app.get(&format!("/random-{n}")).await;
    }
    let text = app.get("/metrics").await.text();
    let unmatched: f64 = samples(&text)
        .iter()
        .filter(|(n, l, _)| {
            n == "speech_http_requests_total"
                && l.contains("route=\"unmatched\"")
                && l.contains("status=\"404\"")
        })
        .map(|(_, _, v)| *v)
        .sum();
    assert_eq!(unmatched, 5.0);
    assert!(!text.contains("random-"));
}

async fn usage_statistics_are_exact_across_replicas(b: Backend) {
    // Two replicas over one bucket, generating at the same time.
    let one = TestApp::with_config(&b, |c| c.engines.max_concurrent_generations = 2);
    let two = TestApp::with_config(&b, |c| c.engines.max_concurrent_generations = 2);
    let body = |project: &str| json!({"text": "Usage counts.", "export_formats": ["wav", "mp3"], "project": project, "response_mode": "url"});
    let requests = (0..6).map(|n| {
        let app = if n % 2 == 0 { &one } else { &two };
        let project = if n < 4 { "book" } else { "podcast" };
        let body = body(project);
        async move { app.post_json("/api/v1/tts", &body).await }
    });
    let answers = futures::future::join_all(requests).await;
    let mut bytes = 0;
    for answer in &answers {
        let json = answer.ok_json();
        bytes += json["output_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["size_bytes"].as_u64().unwrap())
            .sum::<u64>();
    }
    // Either replica reports the same, exact figures: they are the bucket's.
    for app in [&one, &two] {
        let stats = app.get("/api/v1/stats").await.ok_json();
        assert_eq!(stats["source"], "store");
        assert_eq!(stats["days"], 30);
        assert_eq!(stats["totals"]["count"], 6, "{stats}");
        assert_eq!(stats["totals"]["bytes"], bytes, "{stats}");
        assert!(stats["totals"]["seconds"].as_f64().unwrap() > 3.0);
        assert_eq!(stats["by_type"]["tts"]["count"], 6);
        assert_eq!(stats["by_project"]["book"]["count"], 4);
        assert_eq!(stats["by_project"]["podcast"]["count"], 2);
        assert_eq!(stats["by_engine"]["piper"]["count"], 6);
        assert_eq!(stats["by_day"].as_array().unwrap().len(), 1);
    }
    let podcast = one
        .get("/api/v1/stats?days=7&project=podcast")
        .await
        .ok_json();
    assert_eq!(podcast["totals"]["count"], 2, "{podcast}");
    one.get("/api/v1/stats?days=0")
        .await
        .assert_error(422, "VALIDATION_ERROR");
    one.get("/api/v1/stats?day=7")
        .await
        .assert_error(422, "VALIDATION_ERROR");
}

for_each_persistent_backend!(
    the_original_monitoring_routes_keep_their_keys,
    prometheus_counts_requests_generations_and_the_store,
    usage_statistics_are_exact_across_replicas,
);
