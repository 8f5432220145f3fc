//! Driving the real router in-process with `tower::ServiceExt::oneshot`.

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use handler::{AppState, Config};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::Backend;
use crate::multipart::Form;

/// The application over one backend, called without a socket.
pub struct TestApp {
    router: Router,
    /// The state the router was built with (its store wraps the backend's as in production).
    pub state: AppState,
}

impl TestApp {
    /// The app with default settings over `backend`.
    pub fn new(backend: &Backend) -> Self {
        Self::with_config(backend, |_| {})
    }

    /// The app over `backend` with settings adjusted by `adjust`.
    pub fn with_config(backend: &Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config =
            Config::with_storage(backend.url.parse().expect("storage url")).expect("config");
        // The engines' assets, wherever the test runs from (the setup step's folder by default).
        if std::env::var_os("SPEECH_MODELS_DIR").is_none() {
            config.engines.models_dir = crate::engines::workspace_root().join(".cache/models");
        }
        // No Chatterbox unless a test installs the stand-ins (a developer's real bundle must
        // not change what the tests see).
        config.engines.chatterbox_dir =
            Some(std::env::temp_dir().join("speech-api-tests-no-chatterbox"));
        adjust(&mut config);
        // The same store stack as production (S3 gets the listing cache).
        let state = AppState::with_store(config, backend.store.clone());
        Self {
            router: handler::app(state.clone()),
            state,
        }
    }

    /// Sends any request.
    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// `POST uri` with a JSON body.
    pub async fn post_json(&self, uri: &str, body: &Value) -> TestResponse {
        self.send(
            Method::POST,
            uri,
            Some("application/json"),
            Body::from(body.to_string()),
        )
        .await
    }

    /// Sends a request and returns the response without reading its body, for tests that
    /// time when the body's pieces arrive.
    pub async fn request_streaming(&self, request: Request<Body>) -> axum::response::Response {
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible")
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(Method::GET, uri, None, Body::empty()).await
    }

    /// `GET uri` with extra headers.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut builder = Request::builder().method(Method::GET).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.request(builder.body(Body::empty()).expect("request"))
            .await
    }

    /// `DELETE uri`.
    pub async fn delete(&self, uri: &str) -> TestResponse {
        self.send(Method::DELETE, uri, None, Body::empty()).await
    }

    /// `POST uri` with no body.
    pub async fn post(&self, uri: &str) -> TestResponse {
        self.send(Method::POST, uri, None, Body::empty()).await
    }

    /// `PUT uri` with a JSON body.
    pub async fn put_json(&self, uri: &str, body: &Value) -> TestResponse {
        self.send(
            Method::PUT,
            uri,
            Some("application/json"),
            Body::from(body.to_string()),
        )
        .await
    }

    /// `PUT uri` with a raw body and content type.
    pub async fn put_raw(&self, uri: &str, content_type: &str, body: &'static str) -> TestResponse {
        self.send(Method::PUT, uri, Some(content_type), Body::from(body))
            .await
    }

    /// `POST uri` with a multipart form.
    pub async fn post_form(&self, uri: &str, form: &Form) -> TestResponse {
        self.post_form_with(uri, form, &[]).await
    }

    /// `POST uri` with a multipart body and extra headers (an API key, say).
    pub async fn post_form_with(
        &self,
        uri: &str,
        form: &Form,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let (content_type, body) = form.encode();
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(http::header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.request(builder.body(Body::from(body)).expect("request"))
            .await
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
        }
        self.request(builder.body(body).expect("request")).await
    }
}

/// A buffered response.
#[derive(Debug)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as (lossy) text, for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a success status (any body).
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status.is_success(),
            "expected success, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Asserts a success status and returns the JSON body.
    pub fn ok_json(&self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts an error in the native envelope with this status and code; returns the body.
    pub fn assert_error(&self, status: u16, code: &str) -> Value {
        let body = self.json();
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {body}"
        );
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error_code"], code, "{body}");
        assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(
            body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{body}"
        );
        let id = body["request_id"].as_str().expect("request_id");
        assert_eq!(
            Some(id),
            self.header("x-request-id"),
            "request id in body and header differ"
        );
        body
    }
}
