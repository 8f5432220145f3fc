//! The Wyoming protocol (how Home Assistant talks to local speech services), opt-in on its
//! own TCP port (`--wyoming-port`, 10200 by convention): `describe` answers `info` with the
//! usable voices, `synthesize` is answered with `audio-start`, `audio-chunk`s of raw 16-bit
//! PCM and `audio-stop`, and the streaming variant (`synthesize-start`, `synthesize-chunk`,
//! `synthesize-stop`) starts speaking each sentence as soon as its text is complete.
//!
//! The protocol has no authentication: the port is off by default and belongs on a trusted
//! network. Nothing is stored; a client that goes away stops its synthesis.

pub mod protocol;
mod session;

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::state::AppState;

/// Serves Wyoming on `listener` until the process ends, one task per connection.
pub async fn serve(listener: TcpListener, state: AppState) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "Wyoming protocol on tcp://{addr}");
    }
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "Wyoming: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = session::run(stream, &state).await {
                log_end(peer, &e);
            }
        });
    }
}

fn log_end(peer: SocketAddr, error: &protocol::FrameError) {
    tracing::info!(%peer, error = %error, "Wyoming connection ended");
}
