//! Serving the app on a socket with graceful shutdown, shared by the `handler`
//! binary and `local-runner`.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::service::maintenance;
use crate::state::AppState;

/// Serves `app(state)` on `listener` until Ctrl-C or SIGTERM, with the cleanup
/// schedule running beside it. In-flight requests finish before it returns.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, storage = %state.store().describe(), "listening on http://{addr}");
    let scheduler = maintenance::spawn_scheduler(state.clone());
    // Jobs: this process's worker (resuming what a stopped process left) or the queue's
    // consumer.
    state.jobs().start(&state);
    let wyoming = match state.config().access.wyoming_port {
        Some(port) => {
            let wyoming = TcpListener::bind((addr.ip(), port)).await?;
            Some(tokio::spawn(crate::wyoming::serve(wyoming, state.clone())))
        }
        None => None,
    };
    let listener = without_nagle(listener);
    let result = axum::serve(listener, crate::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    scheduler.abort();
    if let Some(wyoming) = wyoming {
        wyoming.abort();
    }
    tracing::info!("shut down");
    result
}

/// Turns Nagle's algorithm off on every accepted connection. Audio answers end in a short
/// write (the last chunk of a body, or a small file after its headers); with Nagle on, that
/// write waits for the client's delayed acknowledgement of the previous one: measured on
/// loopback, a one-sentence WAV answer took ~11 ms longer end to end than the server spent
/// on it (docs/benchmarks.md), and streamed speech reaches the client in bursts.
pub fn without_nagle(
    listener: TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
    })
}

/// The router of the readiness port (`--health-port`): only `GET /ping`, 204 while the
/// engines load and 200 when ready, without authentication or logging noise.
pub fn readiness(state: AppState) -> axum::Router {
    axum::Router::new()
        .route(
            "/ping",
            axum::routing::get(
                |axum::extract::State(state): axum::extract::State<AppState>| async move {
                    if state.is_ready() {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                },
            ),
        )
        .with_state(state)
}

/// Resolves on Ctrl-C or SIGTERM (what container platforms send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Checks settings that are read from files or parsed from lists (API keys, voice
/// aliases), so a typo stops startup with its reason instead of failing requests.
pub fn check_settings(config: &crate::Config) -> Result<(), String> {
    crate::auth::ApiKeys::from_settings(&config.access)?;
    config.access.aliases()?;
    Ok(())
}

/// Fails with a readable message when the store cannot be reached, so a bad
/// endpoint, bucket or credential stops startup instead of failing every request.
pub async fn check_storage(state: &AppState) -> Result<(), storage::Error> {
    state
        .store()
        .list(
            &storage::KeyPrefix::root(),
            storage::ListOptions {
                max_keys: Some(1),
                ..Default::default()
            },
        )
        .await
        .map(|_| ())
}
