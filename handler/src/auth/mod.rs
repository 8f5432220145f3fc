//! Optional API-key authentication for both API dialects: `Authorization: Bearer <key>`
//! checked against configured keys (kept only as SHA-256 digests), each with a name, the
//! scopes it grants (read, generate, admin) and an optional request rate. Each dialect's
//! router attaches its own guard (its envelope, its options); health, readiness and the API
//! documentation attach none, so load balancers and browsers can reach them.

mod keys;
mod rate_limit;

use axum::Extension;
use axum::extract::{FromRequestParts, Request};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::openai::error::OpenAiError;
use crate::state::AppState;

pub use keys::{ApiKeys, KeyRecord, Rate, Scope};
pub use rate_limit::{Decision, RateLimiter};

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

/// Who is calling, as the key guard found it (a request extension on guarded routes).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's record; `None` when authentication is off (everything is allowed).
    pub key: Option<KeyRecord>,
}

impl Caller {
    /// Whether the caller may do what `scope` covers.
    pub fn allows(&self, scope: Scope) -> bool {
        self.key.as_ref().is_none_or(|key| key.allows(scope))
    }

    /// The key's name for logs and metrics (`anonymous` when authentication is off).
    pub fn name(&self) -> &str {
        self.key
            .as_ref()
            .map_or("anonymous", |key| key.name.as_str())
    }

    /// `Ok` when the caller has `scope`, else the 403 naming the key and the scope.
    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        if self.allows(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "the API key {:?} does not have the {} scope this call needs",
                self.name(),
                scope.as_str()
            )))
        }
    }
}

/// The scope a request needs by its method: reading is `read`, deleting is `admin`,
/// anything else `generate`. Routes that need more (cleanup, backup, restore) ask for
/// [`AdminAccess`] as well.
fn scope_of(method: &Method) -> Scope {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => Scope::Read,
        Method::DELETE => Scope::Admin,
        _ => Scope::Generate,
    }
}

/// Extractor for the routes that need the `admin` scope whatever their method (cleanup,
/// backup, restore): a 403 for a key without it. Without authentication every caller passes.
#[derive(Debug, Clone)]
pub struct AdminAccess;

impl<S: Send + Sync> FromRequestParts<S> for AdminAccess {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        match parts.extensions.get::<Caller>() {
            Some(caller) => caller.require(Scope::Admin).map(|()| Self),
            // A route without a key guard has no caller: only when authentication is off.
            None => match parts.extensions.get::<AppState>() {
                Some(state) if state.api_keys().enabled() => Err(Error::Forbidden(
                    "this call needs an API key with the admin scope".into(),
                )),
                _ => Ok(Self),
            },
        }
    }
}

/// What the guard decided about a request.
enum Verdict {
    /// Let it through as `Caller`, with the key's rate decision for the response headers.
    Pass(Caller, Option<Decision>),
    /// Refused with this error (and the rate decision when that is the reason).
    Refuse(Error, Option<Decision>),
}

/// The request's verdict: its key, its scope and its key's rate.
fn judge(state: &AppState, request: &Request) -> Verdict {
    let keys = state.api_keys();
    // Preflights carry no credentials by design; the CORS layer answers them.
    if !keys.enabled() || request.method() == Method::OPTIONS {
        return Verdict::Pass(Caller { key: None }, None);
    }
    let record = match bearer(request.headers()) {
        Some(key) => match keys.find(key) {
            Some(record) => record.clone(),
            None => {
                return Verdict::Refuse(
                    Error::Unauthorized("Incorrect API key provided.".into()),
                    None,
                );
            }
        },
        None => {
            return Verdict::Refuse(
                Error::Unauthorized(
                    "You didn't provide an API key. Provide it as Authorization: Bearer <key>."
                        .into(),
                ),
                None,
            );
        }
    };
    tracing::Span::current().record("api_key", record.name.as_str());
    let caller = Caller { key: Some(record) };
    if let Err(refused) = caller.require(scope_of(request.method())) {
        return Verdict::Refuse(refused, None);
    }
    let decision = caller.key.as_ref().and_then(|key| {
        key.rate
            .map(|rate| state.rate_limiter().take(&key.name, rate))
    });
    match decision {
        Some(decision) if !decision.allowed => {
            state.monitor().record_rate_limited(caller.name());
            Verdict::Refuse(
                Error::RateLimited {
                    key: caller.name().to_owned(),
                    retry_after_seconds: decision.retry_after_seconds(),
                },
                Some(decision),
            )
        }
        _ => Verdict::Pass(caller, decision),
    }
}

/// Runs the guard: refusals are rendered by `render`; passed requests get their
/// [`Caller`]; for keys with a rate, the answer carries the `x-ratelimit-*` headers.
async fn guard(
    state: &AppState,
    mut request: Request,
    next: Next,
    render: fn(Error) -> Response,
) -> Response {
    let (mut response, decision) = match judge(state, &request) {
        Verdict::Pass(caller, decision) => {
            request.extensions_mut().insert(caller);
            (next.run(request).await, decision)
        }
        Verdict::Refuse(error, decision) => (render(error), decision),
    };
    if let Some(decision) = decision {
        decision.write_headers(response.headers_mut());
    }
    response
}

/// Middleware of the native routes (and the SillyTavern ones): without an accepted key,
/// when keys are configured, a 401 in the native envelope; a key without the scope the
/// method needs, a 403; over its rate, a 429 with `Retry-After`. Each router attaches the
/// guard of its dialect; routes open to everyone (health, readiness, the docs) attach none.
pub async fn native_key(
    Extension(state): Extension<AppState>,
    request: Request,
    next: Next,
) -> Response {
    guard(&state, request, next, IntoResponse::into_response).await
}

/// Middleware of the OpenAI routes: as [`native_key`], in OpenAI's envelope.
pub async fn openai_key(
    Extension(state): Extension<AppState>,
    request: Request,
    next: Next,
) -> Response {
    guard(&state, request, next, openai_refusal).await
}

/// Middleware of the OpenAI model and voice lists: as [`openai_key`], except that with
/// `--public-lists` a `GET` needs no key (clients such as Open WebUI fetch them keyless).
pub async fn openai_list_key(
    Extension(state): Extension<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.config().access.public_lists && request.method() == Method::GET {
        return next.run(request).await;
    }
    guard(&state, request, next, openai_refusal).await
}

fn openai_refusal(error: Error) -> Response {
    OpenAiError::from(error).into_response()
}
