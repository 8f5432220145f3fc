//! Optional API-key authentication for both API dialects: `Authorization: Bearer <key>`
//! checked against configured keys (kept only as SHA-256 digests). Each dialect's router
//! attaches its own guard (its envelope, its options); health, readiness and the API
//! documentation attach none, so load balancers and browsers can reach them.

use std::collections::HashSet;

use axum::Extension;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::config::AccessArgs;
use crate::error::Error;
use crate::openai::error::OpenAiError;
use crate::state::AppState;

/// The accepted keys, as SHA-256 digests; empty means authentication is off.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    digests: HashSet<[u8; 32]>,
    /// Set when the keys could not be read: every protected request is then refused
    /// (failing closed), and startup reports the reason.
    broken: Option<String>,
}

impl ApiKeys {
    /// Keys from the settings: the plain list and the digests file.
    pub fn from_settings(settings: &AccessArgs) -> Result<Self, String> {
        let mut digests: HashSet<[u8; 32]> = settings
            .api_keys
            .iter()
            .map(|k| k.expose().trim())
            .filter(|k| !k.is_empty())
            .map(digest)
            .collect();
        if let Some(path) = &settings.api_keys_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the API keys file {}: {e}", path.display()))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or_default().trim();
                // `sha256sum` prints "<hex>  -"; take the first word.
                let Some(hex) = line.split_whitespace().next() else {
                    continue;
                };
                digests.insert(parse_hex(hex).ok_or_else(|| {
                    format!(
                        "{} line {}: expected a SHA-256 hex digest (64 hex characters)",
                        path.display(),
                        number + 1
                    )
                })?);
            }
        }
        Ok(Self {
            digests,
            broken: None,
        })
    }

    /// Keys from the settings, or a set that refuses everything when they cannot be read.
    pub fn from_settings_or_closed(settings: &AccessArgs) -> Self {
        Self::from_settings(settings).unwrap_or_else(|reason| {
            tracing::error!(%reason, "API keys unusable; refusing every protected request");
            Self {
                digests: HashSet::new(),
                broken: Some(reason),
            }
        })
    }

    /// Whether authentication is on.
    pub fn enabled(&self) -> bool {
        !self.digests.is_empty() || self.broken.is_some()
    }

    /// Whether `key` is one of the accepted keys.
    pub fn accepts(&self, key: &str) -> bool {
        self.digests.contains(&digest(key))
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The bearer token of a request, if it carries one.
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Whether a request may see protected details: authentication is off, or it carries an
/// accepted key. Open routes (health) use it to decide how much to tell.
pub fn is_trusted(keys: &ApiKeys, headers: &axum::http::HeaderMap) -> bool {
    !keys.enabled() || bearer(headers).is_some_and(|key| keys.accepts(key))
}

/// The request's verdict: `None` to let it through, else why it is refused.
fn refusal(state: &AppState, request: &Request) -> Option<&'static str> {
    let keys = state.api_keys();
    // Preflights carry no credentials by design; the CORS layer answers them.
    if !keys.enabled() || request.method() == axum::http::Method::OPTIONS {
        return None;
    }
    match bearer(request.headers()) {
        Some(key) if keys.accepts(key) => None,
        Some(_) => Some("Incorrect API key provided."),
        None => Some("You didn't provide an API key. Provide it as Authorization: Bearer <key>."),
    }
}

/// Middleware of the native routes (and the SillyTavern ones): without an accepted key,
/// when keys are configured, a 401 in the native envelope. Each router attaches the guard
/// of its dialect; routes open to everyone (health, readiness, the docs) attach none.
pub async fn native_key(
    Extension(state): Extension<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match refusal(&state, &request) {
        None => next.run(request).await,
        Some(message) => Error::Unauthorized(message.to_owned()).into_response(),
    }
}

/// Middleware of the OpenAI routes: as [`native_key`], in OpenAI's envelope.
pub async fn openai_key(
    Extension(state): Extension<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match refusal(&state, &request) {
        None => next.run(request).await,
        Some(message) => openai_refusal(message),
    }
}

/// Middleware of the OpenAI model and voice lists: as [`openai_key`], except that with
/// `--public-lists` a `GET` needs no key (clients such as Open WebUI fetch them keyless).
pub async fn openai_list_key(
    Extension(state): Extension<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let public = state.config().access.public_lists && request.method() == axum::http::Method::GET;
    match refusal(&state, &request) {
        Some(message) if !public => openai_refusal(message),
        _ => next.run(request).await,
    }
}

fn openai_refusal(message: &str) -> Response {
    OpenAiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        message,
    )
    .code("invalid_api_key")
    .into_response()
}
