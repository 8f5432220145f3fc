//! What every answer is held to (status, envelope, `HEAD` bodies) and how the store is
//! compared before and after a request; a [`Violation`] records one problem found.

use std::collections::BTreeMap;

use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use super::{Case, Expect, summarize};

/// One problem with one answer.
pub(crate) struct Violation {
    pub(crate) route: &'static str,
    pub(crate) method: Method,
    pub(crate) uri: String,
    /// The headers the case set (content type, range, origin, ...), for reproducing it.
    pub(crate) headers: String,
    pub(crate) note: String,
    pub(crate) status: String,
    pub(crate) problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uri: String = self.uri.chars().take(160).collect();
        write!(
            f,
            "{} {uri} | headers [{}] | body {} | -> {} | {}",
            self.method,
            self.headers,
            if self.note.is_empty() {
                "(none)"
            } else {
                &self.note
            },
            self.status,
            self.problem
        )
    }
}

/// The dialect whose envelope a path's errors use (the handler's rule).
fn is_openai_path(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/v1" || path.starts_with("/audio/")
}

/// 503 codes that are operational answers, not faults.
const OPERATIONAL_503: &[&str] = &[
    "SERVER_BUSY",
    "STORAGE_UNAVAILABLE",
    "MODEL_NOT_INSTALLED",
    "ENCODER_UNAVAILABLE",
];

/// Problems with one answer's status and body (the store is checked separately).
pub fn answer_problems(
    case: &Case,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<String> {
    let mut problems = Vec::new();
    let path = case.uri.split('?').next().unwrap_or_default();
    let openai = is_openai_path(path);
    let parsed: Option<Value> = serde_json::from_slice(body).ok();

    if status.is_server_error() {
        let code = parsed.as_ref().and_then(|v| {
            if openai {
                v["error"]["code"]
                    .as_str()
                    .map(str::to_ascii_uppercase)
                    .or_else(|| {
                        v["error"]["message"]
                            .as_str()
                            .filter(|m| m.starts_with("Storage is unavailable"))
                            .map(|_| "STORAGE_UNAVAILABLE".to_owned())
                    })
            } else {
                v["error_code"].as_str().map(str::to_owned)
            }
        });
        let operational = status == StatusCode::SERVICE_UNAVAILABLE
            && code
                .as_deref()
                .is_some_and(|c| OPERATIONAL_503.contains(&c));
        if !operational {
            problems.push(format!(
                "server error {} (code {code:?}): {}",
                status.as_u16(),
                summarize(body, 300)
            ));
        }
    }

    match case.expect {
        Expect::Any => {}
        Expect::Refused if status.is_client_error() => {}
        Expect::Refused => problems.push(format!(
            "a destructive request built to be refused answered {}",
            status.as_u16()
        )),
        Expect::OneOf(allowed) if allowed.contains(&status.as_u16()) => {}
        Expect::OneOf(allowed) => problems.push(format!(
            "expected one of {allowed:?}, got {}",
            status.as_u16()
        )),
        Expect::SparesSeeds => {}
    }

    if case.method == Method::HEAD {
        if !body.is_empty() {
            problems.push(format!(
                "HEAD answer has a {}-byte body: {}",
                body.len(),
                summarize(body, 120)
            ));
        }
        return problems;
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return problems;
    }
    let header_id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    if header_id.is_none() {
        problems.push("error answer without an x-request-id header".into());
    }
    let Some(value) = parsed else {
        problems.push(format!(
            "error body is not JSON (content-type {:?}): {}",
            headers.get("content-type"),
            summarize(body, 200)
        ));
        return problems;
    };
    if openai {
        let error = &value["error"];
        let well_formed = value.as_object().is_some_and(|o| o.len() == 1)
            && error["message"].as_str().is_some_and(|m| !m.is_empty())
            && error["type"].as_str().is_some_and(|t| !t.is_empty())
            && error
                .get("param")
                .is_some_and(|p| p.is_null() || p.is_string())
            && error
                .get("code")
                .is_some_and(|c| c.is_null() || c.is_string());
        if !well_formed {
            problems.push(format!(
                "not the OpenAI error envelope: {}",
                summarize(body, 300)
            ));
        }
    } else {
        let well_formed = value["success"] == json!(false)
            && value["error"].as_str().is_some_and(|m| !m.is_empty())
            && value["error_code"].as_str().is_some_and(|c| !c.is_empty())
            && value.get("detail").is_some()
            && value["timestamp"].as_str().is_some();
        if !well_formed {
            problems.push(format!(
                "not the native error envelope: {}",
                summarize(body, 300)
            ));
        } else if value["request_id"].as_str() != header_id {
            problems.push(format!(
                "request_id {} differs from the x-request-id header {header_id:?}",
                value["request_id"]
            ));
        }
    }
    problems
}

/// Every object in the store with its size.
pub(crate) async fn snapshot(store: &dyn storage::ObjectStore) -> BTreeMap<String, u64> {
    storage::list_all(store, &storage::KeyPrefix::root(), false)
        .await
        .expect("listing the store")
        .objects
        .into_iter()
        .map(|o| (o.key.to_string(), o.size))
        .collect()
}

/// How the store differs, ignoring `journal/` (checked on its own) and `stats/` (usage
/// statistics, which a streamed generation updates after its answer ended, so they may
/// land while a later request runs).
pub fn store_diff(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Option<String> {
    let outside_journal = |k: &&String| !k.starts_with("journal/") && !k.starts_with("stats/");
    let added: Vec<&String> = after
        .keys()
        .filter(outside_journal)
        .filter(|k| !before.contains_key(*k))
        .collect();
    let removed: Vec<&String> = before
        .keys()
        .filter(outside_journal)
        .filter(|k| !after.contains_key(*k))
        .collect();
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, size)| outside_journal(k) && before.get(*k).is_some_and(|b| b != *size))
        .map(|(k, _)| k)
        .collect();
    if added.is_empty() && removed.is_empty() && changed.is_empty() {
        None
    } else {
        Some(format!(
            "added {added:?}, removed {removed:?}, resized {changed:?}"
        ))
    }
}
