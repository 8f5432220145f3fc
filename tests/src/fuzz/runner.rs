//! The suite's state over one backend: seeding the store, sending each case on its own
//! task, checking the answer and the store after it, and the printed report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;

use crate::fixtures::wav;
use crate::multipart::Form;
use crate::{Backend, TestApp};

use super::checks::{Violation, answer_problems, snapshot, store_diff};
use super::corpus::corpus;
use super::rng::Rng;
use super::{Case, Expect, Generator, Seeds, summarize};

/// Longest a single request may take before it is reported as hung.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// Seeds one voice, one VC input and one output (two formats, with sidecars) in `keep/`.
async fn seed_store(app: &TestApp) -> Seeds {
    app.post_form(
        "/api/v1/voice",
        &Form::new()
            .file("voice_file", "narrator.wav", wav())
            .text("folder_path", "keep")
            .text("overwrite", "true"),
    )
    .await
    .assert_ok();
    app.post_form(
        "/api/v1/vc_input",
        &Form::new()
            .file("vc_input_file", "line.wav", wav())
            .text("folder_path", "keep")
            .text("text", "Keep me.")
            .text("overwrite", "true"),
    )
    .await
    .assert_ok();
    let tts = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &json!({"text": "Keep me.", "project": "keep", "export_formats": ["wav", "flac"]}),
        )
        .await
        .ok_json();
    let outputs = tts["output_files"]
        .as_array()
        .expect("output_files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_owned())
        .collect();
    Seeds {
        voice: "keep/narrator.wav".into(),
        vc_input: "keep/line.wav".into(),
        outputs,
    }
}

/// The suite's state over one backend.
pub(crate) struct Fuzzer {
    label: &'static str,
    backend: Backend,
    app: Arc<TestApp>,
    rng: Rng,
    seeds: Seeds,
    snapshot: BTreeMap<String, u64>,
    per_route: BTreeMap<String, usize>,
    statuses: BTreeMap<u16, usize>,
    violations: Vec<Violation>,
    reseeds: usize,
    sent: usize,
    /// `FUZZ_API_TRACE=1` prints every request and answer.
    trace: bool,
}

impl Fuzzer {
    pub(crate) async fn new(label: &'static str, backend: Backend, seed: u64) -> Self {
        // Small upload limits, so bodies over them cost little to build and send.
        let app = TestApp::with_config(&backend, |c| {
            c.limits.max_voice_upload_mb = 1;
            c.limits.max_vc_input_upload_mb = 1;
            c.limits.max_concat_upload_mb = 2;
        });
        let seeds = seed_store(&app).await;
        let snapshot = snapshot(backend.store.as_ref()).await;
        for key in seeds.keys() {
            assert!(
                snapshot.contains_key(&key),
                "seeding wrote {key}: {snapshot:?}"
            );
        }
        Self {
            label,
            backend,
            app: Arc::new(app),
            rng: Rng::new(seed),
            seeds,
            snapshot,
            per_route: BTreeMap::new(),
            statuses: BTreeMap::new(),
            violations: Vec::new(),
            reseeds: 0,
            sent: 0,
            trace: std::env::var_os("FUZZ_API_TRACE").is_some(),
        }
    }

    /// Runs the systematic corpus, then `plan` (generator, count) in a shuffled, seeded order.
    pub(crate) async fn run(&mut self, plan: &[(Generator, usize)], full: bool) {
        let systematic = corpus(&mut self.rng, &self.seeds, full);
        for case in systematic {
            self.send(case).await;
        }
        let mut schedule: Vec<Generator> = plan
            .iter()
            .flat_map(|(generator, count)| std::iter::repeat_n(*generator, *count))
            .collect();
        self.rng.shuffle(&mut schedule);
        for generator in schedule {
            let case = generator(&mut self.rng, &self.seeds);
            self.send(case).await;
        }
    }

    fn violation(&mut self, case: &Case, status: String, problem: String) {
        self.violations.push(Violation {
            route: case.route,
            method: case.method.clone(),
            headers: case
                .headers
                .iter()
                .map(|(name, value)| format!("{name}: {}", summarize(value, 60)))
                .collect::<Vec<_>>()
                .join(", "),
            uri: case.uri.clone(),
            note: case.note.clone(),
            status,
            problem,
        });
    }

    async fn send(&mut self, mut case: Case) {
        self.sent += 1;
        *self
            .per_route
            .entry(format!("{:<8} {}", case.method.as_str(), case.route))
            .or_default() += 1;
        let mut builder = Request::builder()
            .method(case.method.clone())
            .uri(case.uri.as_str());
        // Request ids: none, a plain one (echoed), or ones the server must replace.
        builder = match self.sent % 4 {
            0 => builder,
            1 => builder.header("x-request-id", format!("fuzz-{}", self.sent)),
            2 => builder.header("x-request-id", format!("not acceptable {}", self.sent)),
            _ => builder.header("x-request-id", "r".repeat(300)),
        };
        // Now and then a stranger's web page or a hostile header, except where the case
        // expects one exact status (an origin refusal would answer 403 first).
        if !matches!(case.expect, Expect::OneOf(_)) && self.rng.chance(6) {
            let (name, value): (&'static str, &[u8]) = *self.rng.pick(&[
                ("origin", &b"null"[..]),
                ("origin", b"http://evil.example"),
                ("origin", b"file://"),
                ("origin", b"http://\xff"),
                ("origin", b"\xff\xfe"),
                ("x-request-id", b"\xff\xfe"),
                ("authorization", b"Bearer \xff"),
                ("content-length", b"99999999999"),
                ("accept", b"application/x-nonsense"),
                ("accept-encoding", b"gzip;q=NaN"),
            ]);
            if !case.headers.iter().any(|(n, _)| *n == name) {
                case.headers.push((name, value.to_vec()));
            }
        }
        for (name, value) in &case.headers {
            builder = builder.header(
                *name,
                HeaderValue::from_bytes(value).expect("test bug: header value"),
            );
        }
        let request = builder
            .body(Body::from(Bytes::from(case.body.clone())))
            .unwrap_or_else(|e| panic!("test bug: cannot build {} {}: {e}", case.method, case.uri));

        // Each request on its own task: a panic in the handler is a JoinError, reported.
        let app = self.app.clone();
        let mut task = tokio::spawn(async move {
            let response = app.request_streaming(request).await;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .map_err(|e| e.to_string());
            (parts.status, parts.headers, body)
        });
        let outcome = tokio::time::timeout(REQUEST_DEADLINE, &mut task).await;
        let (status, headers, body) = match outcome {
            Err(_) => {
                task.abort();
                self.violation(
                    &case,
                    "-".into(),
                    format!("no answer within {REQUEST_DEADLINE:?}"),
                );
                return self.check_store(&case, None).await;
            }
            Ok(Err(join)) => {
                let message = if join.is_panic() {
                    let payload = join.into_panic();
                    payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "(non-string payload)".into())
                } else {
                    join.to_string()
                };
                self.violation(&case, "-".into(), format!("panic: {message}"));
                return self.check_store(&case, None).await;
            }
            Ok(Ok(answer)) => answer,
        };
        *self.statuses.entry(status.as_u16()).or_default() += 1;
        if self.trace {
            let uri: String = case.uri.chars().take(200).collect();
            eprintln!(
                "{} {uri} | {} -> {} {}",
                case.method,
                case.note,
                status.as_u16(),
                summarize(&body.clone().unwrap_or_default(), 200)
            );
        }
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                self.violation(
                    &case,
                    status.as_u16().to_string(),
                    format!("the body failed mid-stream: {e}"),
                );
                Bytes::new()
            }
        };
        for problem in answer_problems(&case, status, &headers, &body) {
            let status = status.as_u16().to_string();
            self.violation(&case, status, problem);
        }
        self.check_store(&case, Some(status)).await;
    }

    /// After every answer: no write plan is left; a refused request changed nothing; the
    /// seeds are back if a successful request moved or replaced them.
    async fn check_store(&mut self, case: &Case, status: Option<StatusCode>) {
        let after = snapshot(self.backend.store.as_ref()).await;
        let status_text = status.map_or("-".into(), |s| s.as_u16().to_string());
        let journal: Vec<&String> = after.keys().filter(|k| k.starts_with("journal/")).collect();
        if !journal.is_empty() {
            let problem = format!("write plans left behind: {journal:?}");
            self.violation(case, status_text.clone(), problem);
        }
        let refused = status.is_none_or(|s| s.is_client_error() || s.is_server_error());
        if refused && let Some(diff) = store_diff(&self.snapshot, &after) {
            self.violation(
                case,
                status_text,
                format!("a refused request changed the store: {diff}"),
            );
        }
        let gone: Vec<String> = self
            .seeds
            .keys()
            .into_iter()
            .filter(|k| !after.contains_key(k))
            .collect();
        if !gone.is_empty() && matches!(case.expect, Expect::Refused | Expect::SparesSeeds) {
            let problem = format!("a delete that names no seeded object removed {gone:?}");
            self.violation(
                case,
                status.map_or("-".into(), |s| s.as_u16().to_string()),
                problem,
            );
        }
        self.snapshot = after;
        if !gone.is_empty() {
            self.reseeds += 1;
            self.seeds = seed_store(&self.app).await;
            self.snapshot = snapshot(self.backend.store.as_ref()).await;
        }
    }

    /// Prints the counts and fails with every violation, readable, when there is one.
    pub(crate) fn report(&self, started: Instant, seed: u64, minimum: usize) {
        eprintln!(
            "\n== fuzz_api [{}] seed {seed:#x}: {} requests in {:.1} s ({} re-seeds) ==",
            self.label,
            self.sent,
            started.elapsed().as_secs_f64(),
            self.reseeds
        );
        eprintln!("-- requests per route --");
        for (route, count) in &self.per_route {
            eprintln!("{count:>5}  {route}");
        }
        eprintln!("-- statuses --");
        for (status, count) in &self.statuses {
            eprintln!("{count:>5}  {status}");
        }
        // The same fault seen many times reads as one line: route, status and the problem's
        // first words (its tail holds request ids and timestamps).
        let mut distinct: BTreeMap<String, usize> = BTreeMap::new();
        for v in &self.violations {
            let problem: String = v.problem.chars().take(100).collect();
            *distinct
                .entry(format!(
                    "{} {} -> {}: {problem}",
                    v.method, v.route, v.status
                ))
                .or_default() += 1;
        }
        let summary: Vec<String> = distinct
            .iter()
            .map(|(line, n)| format!("{n:>4}× {line}"))
            .collect();
        if !self.violations.is_empty() {
            eprintln!(
                "-- {} violations ({} distinct) --",
                self.violations.len(),
                distinct.len()
            );
            for violation in &self.violations {
                eprintln!("{violation}");
            }
            eprintln!("-- distinct --\n{}", summary.join("\n"));
        }
        assert!(
            self.sent >= minimum,
            "[{}] only {} requests were sent; the suite promises at least {minimum}",
            self.label,
            self.sent
        );
        if !self.violations.is_empty() {
            let shown: Vec<String> = self
                .violations
                .iter()
                .take(60)
                .map(ToString::to_string)
                .collect();
            panic!(
                "[{}] {} violations in {} requests (seed {seed:#x}; FUZZ_API_SEED replays).\n\
                 Distinct:\n{}\n\nRequests (method uri | headers | body | -> status | problem):\n{}{}",
                self.label,
                self.violations.len(),
                self.sent,
                summary.join("\n"),
                shown.join("\n"),
                if self.violations.len() > shown.len() {
                    format!(
                        "\n… and {} more (all printed above)",
                        self.violations.len() - shown.len()
                    )
                } else {
                    String::new()
                }
            );
        }
    }
}
