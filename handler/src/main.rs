//! The deployable `handler` binary: the speech API on `0.0.0.0:$PORT` with JSON logs,
//! for container platforms. `handler openapi` prints the OpenAPI document.

use anyhow::Context;
use clap::{Parser, Subcommand};
use handler::telemetry::{self, LogArgs, LogFormat};
use handler::{AppState, Config};
use tokio::net::TcpListener;

/// The stateless speech API handler.
#[derive(Debug, Parser)]
#[command(name = "handler", version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on.
    #[arg(long, env = "SPEECH_HOST", default_value = "0.0.0.0")]
    host: String,

    /// Port to listen on (container platforms set PORT).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,

    #[command(flatten)]
    config: Config,

    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the OpenAPI document (the source of docs/openapi.json) and exit.
    Openapi,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Openapi) = args.command {
        print!("{}", handler::openapi::document_json());
        return Ok(());
    }
    telemetry::init(&args.log, LogFormat::Json);
    handler::server::check_settings(&args.config).map_err(anyhow::Error::msg)?;
    let state = AppState::from_config(args.config)
        .await
        .context("cannot open the storage")?;
    handler::server::check_storage(&state)
        .await
        .with_context(|| format!("cannot reach the storage at {}", state.store().describe()))?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    handler::server::serve(listener, state)
        .await
        .context("server failed")
}
