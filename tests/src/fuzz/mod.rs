//! A bounded, deterministic fuzz suite over every route of the API (native and OpenAI).
//!
//! A seeded xorshift generator builds malformed requests (unknown and absurd query
//! parameters, NaN / Infinity / `1e999` numbers, wrong JSON types for every field of the
//! TTS, VC, concat and OpenAI bodies, truncated JSON, wrong content types, broken
//! multipart forms, path traversal and odd names, invalid `Range` headers, unknown
//! methods, garbage and hostile audio) and sends them through the real router in-process.
//! For every answer it checks what a client and an operator rely on, whatever the input:
//! 1. no 500, and a 503 only for the operational states (`SERVER_BUSY`,
//!    `STORAGE_UNAVAILABLE`, `MODEL_NOT_INSTALLED`, `ENCODER_UNAVAILABLE`);
//! 2. no panic (each request runs on its own task, so a panic is reported, not fatal);
//! 3. every error is in its dialect's envelope (OpenAI's for `/v1/…` and `/audio/…`, the
//!    native one elsewhere, with the `x-request-id` header in the body), and `HEAD`
//!    answers carry no body;
//! 4. a refused request leaves the store exactly as it was (keys and sizes), and no write
//!    plan is left in `journal/` once any request has returned.
//!
//! Violations are collected and reported together as (method, path, body summary,
//! status, problem), so one run lists every distinct failure. The bulk runs on the memory
//! store; a smaller slice of the storage-touching routes runs on the filesystem store and
//! a real S3 server. `FUZZ_API_SEED=<n>` replays another sequence.
//!
//! This module holds the entry point ([`fuzz`]), the plans and the case types; the
//! generators are in `native`, `generation`, `openai` and `service` (built from the pools
//! in `values`, `audio` and `multipart`), the systematic cases in `corpus`, the checks in
//! `checks` and the sending, seeding and report in `runner`.

mod audio;
mod checks;
mod corpus;
mod generation;
mod multipart;
mod native;
mod openai;
mod rng;
mod runner;
mod service;
mod values;

use std::time::Instant;

use http::Method;

use crate::Backend;

pub use checks::{answer_problems, store_diff};
use generation::{gen_concat, gen_concat_mixed, gen_tts, gen_vc};
use native::{
    gen_delete_many, gen_delete_one, gen_download, gen_folders, gen_list, gen_metadata,
    gen_vc_input_upload, gen_voice_upload,
};
use openai::{gen_openai_models, gen_openai_speech, gen_openai_voices};
use rng::{Rng, suite_seed};
use runner::Fuzzer;
use service::{gen_admin, gen_docs, gen_unknown_route, gen_wrong_method};
use values::CONTENT_TYPES;

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

/// What a case must answer beyond the universal checks.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Any status the universal checks allow.
    Any,
    /// A 4xx: destructive requests built to be refused.
    Refused,
    /// Exactly one of these.
    OneOf(&'static [u16]),
    /// Any status, but no seeded object may go (deletes of hostile names with
    /// `confirm=true`, which may legitimately remove what an earlier fuzz upload created).
    SparesSeeds,
}

/// One generated request.
pub struct Case {
    /// The route family, for the per-route counts (`METHOD /template`).
    pub(crate) route: &'static str,
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) headers: Vec<(&'static str, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    /// What the body holds, for reports.
    pub(crate) note: String,
    pub(crate) expect: Expect,
}

impl Case {
    /// A bodiless request to `uri`, counted under `route`, held to the universal checks.
    pub fn new(route: &'static str, method: Method, uri: String) -> Self {
        Self {
            route,
            method,
            uri,
            headers: Vec::new(),
            body: Vec::new(),
            note: String::new(),
            expect: Expect::Any,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body_bytes(mut self, body: Vec<u8>, note: String) -> Self {
        self.body = body;
        self.note = note;
        self
    }

    /// A JSON-ish body with a (usually JSON) content type.
    pub(crate) fn json(self, rng: &mut Rng, body: Vec<u8>) -> Self {
        let content_type = if rng.chance(80) {
            "application/json"
        } else {
            *rng.pick(CONTENT_TYPES)
        };
        let note = format!("[{content_type}] {}", summarize(&body, 160));
        let case = self.body_bytes(body, note);
        if content_type.is_empty() {
            case
        } else {
            case.header("content-type", content_type)
        }
    }

    pub(crate) fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The same request, held to `expect` as well.
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }
}

/// A short, quoted, lossy rendering of `bytes` for reports: at most `max` characters, then
/// the full length.
pub(crate) fn summarize(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut short: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        short.push_str(&format!("… ({} B)", bytes.len()));
    }
    format!("{short:?}")
}

/// The objects the suite seeds, by path relative to their area.
#[derive(Debug, Clone)]
pub(crate) struct Seeds {
    pub(crate) voice: String,
    pub(crate) vc_input: String,
    pub(crate) outputs: Vec<String>,
}

impl Seeds {
    /// Every key the seeds occupy (objects and sidecars).
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut add = |area: &str, path: &str| {
            keys.push(format!("{area}/{path}"));
            keys.push(format!("{area}/{path}.json"));
        };
        add("voices", &self.voice);
        add("vc_inputs", &self.vc_input);
        for output in &self.outputs {
            add("outputs", output);
        }
        keys
    }
}

/// Builds one case from the generator's state and the seeded objects.
pub(crate) type Generator = fn(&mut Rng, &Seeds) -> Case;

// ---------------------------------------------------------------------------------------
// Plans and the entry point
// ---------------------------------------------------------------------------------------

/// A weighted list of generators: each runs its count of times, in a seeded shuffled order.
/// (A newtype, so the generators and their argument types stay private to the suite.)
#[derive(Clone, Copy)]
pub struct Plan(&'static [(Generator, usize)]);

/// Every route family, weighted for the memory store (fast): over 500 requests.
pub const MEMORY_PLAN: Plan = Plan(&[
    (gen_list, 70),
    (gen_folders, 15),
    (gen_metadata, 50),
    (gen_delete_one, 45),
    (gen_delete_many, 45),
    (gen_voice_upload, 45),
    (gen_vc_input_upload, 30),
    (gen_download, 60),
    (gen_tts, 90),
    (gen_vc, 45),
    (gen_concat, 60),
    (gen_concat_mixed, 50),
    (gen_admin, 30),
    (gen_docs, 15),
    (gen_openai_speech, 90),
    (gen_openai_models, 25),
    (gen_openai_voices, 35),
    (gen_wrong_method, 40),
    (gen_unknown_route, 20),
]);

/// The storage-touching routes, for the filesystem store and the S3 server.
pub const PERSISTENT_PLAN: Plan = Plan(&[
    (gen_list, 8),
    (gen_metadata, 10),
    (gen_delete_one, 10),
    (gen_delete_many, 10),
    (gen_voice_upload, 10),
    (gen_vc_input_upload, 6),
    (gen_download, 12),
    (gen_concat, 8),
    (gen_concat_mixed, 6),
    (gen_admin, 4),
    (gen_openai_voices, 4),
]);

/// Runs the suite over `backend`: seeds the store, sends the systematic corpus (all of it
/// with `full`, else the storage-touching slice) and then `plan`, prints the counts and
/// fails with every violation found, or when fewer than `minimum` requests were sent.
/// `label` names the backend in the report.
pub async fn fuzz(label: &'static str, backend: Backend, plan: Plan, full: bool, minimum: usize) {
    let started = Instant::now();
    let seed = suite_seed();
    let mut fuzzer = Fuzzer::new(label, backend, seed).await;
    fuzzer.run(plan.0, full).await;
    fuzzer.report(started, seed, minimum);
}
