//! `local-runner`: the speech API on your machine, on 127.0.0.1:7860 over the embedded
//! filesystem store in `./data` by default, or over MinIO / S3 with `--storage s3://…`.

use anyhow::Context;
use clap::Parser;
use handler::telemetry::{self, LogArgs, LogFormat};
use handler::{AppState, Config};
use tokio::net::TcpListener;

/// Runs the speech API locally.
///
/// Every flag has an environment-variable twin (shown in brackets). Storage defaults to
/// the embedded filesystem store in ./data (relative to the working directory); use
/// --storage s3://bucket/prefix with --s3-endpoint for MinIO or another S3-compatible store.
#[derive(Debug, Parser)]
#[command(name = "local-runner", version, about, long_about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SPEECH_HOST", default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on (0 picks a free port and prints it).
    #[arg(long, env = "SPEECH_PORT", default_value_t = 7860)]
    port: u16,

    #[command(flatten)]
    config: Config,

    #[command(flatten)]
    log: LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    telemetry::init(&args.log, LogFormat::Pretty);
    handler::server::check_settings(&args.config).map_err(anyhow::Error::msg)?;
    let state = AppState::from_config(args.config)
        .await
        .context("cannot open the storage")?;
    handler::server::check_storage(&state)
        .await
        .with_context(|| format!("cannot reach the storage at {}", state.store().describe()))?;
    state
        .preload_if_configured()
        .await
        .context("cannot load the speech engines")?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    // One plain line on stdout, for scripts and tests that start us on port 0.
    let address = listener.local_addr()?;
    println!("local-runner listening on http://{address}");
    tracing::info!(
        "the studio is at http://{address}/ui/ and the API docs at http://{address}/docs"
    );
    handler::server::serve(listener, state)
        .await
        .context("server failed")
}
