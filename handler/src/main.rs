//! The deployable `handler` binary. One binary, three ways to run, chosen at start:
//! - on AWS Lambda (when `AWS_LAMBDA_RUNTIME_API` is set): invocations through
//!   `lambda_http`, buffered or, with `SPEECH_LAMBDA_STREAMING=true`, streamed;
//! - otherwise an HTTP server on `0.0.0.0:$PORT` with JSON logs (containers, Kubernetes,
//!   GPU platforms), plus a readiness listener on `$PORT_HEALTH` when it is set;
//! - `handler self-check` proves the installation works; `handler openapi` prints the
//!   OpenAPI document.
//!
//! Every mode serves the same `app(state)`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use handler::lambda::{self, Mode};
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

    /// A second port that answers only `GET /ping` (204 while the engines load, 200 when
    /// ready), for platforms that probe readiness on their own port (RunPod load-balancing
    /// endpoints set PORT_HEALTH).
    #[arg(long, env = "PORT_HEALTH")]
    health_port: Option<u16>,

    /// On Lambda, answer with response streaming (the function URL must use
    /// `InvokeMode: RESPONSE_STREAM`); buffered answers otherwise (6 MB limit).
    #[arg(long, env = "SPEECH_LAMBDA_STREAMING", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    lambda_streaming: bool,

    #[command(flatten)]
    config: Config,

    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the OpenAPI document (the source of docs/openapi.json) and exit.
    Openapi,
    /// Check the installation (ONNX Runtime, the built-in voice and espeak-ng, ffmpeg,
    /// Chatterbox when installed, the store) and exit non-zero when something is broken.
    /// Takes the same settings (flags and environment) as serving.
    SelfCheck {
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    match args.command {
        Some(Command::Openapi) => {
            print!("{}", handler::openapi::document_json());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::SelfCheck { config }) => Ok(self_check(*config).await),
        None => serve(args).await.map(|()| ExitCode::SUCCESS),
    }
}

async fn self_check(config: Config) -> ExitCode {
    // Warnings carry the details a check's message leaves out (the paths tried).
    let log = LogArgs {
        log_format: Some(LogFormat::Pretty),
        log: "warn".into(),
    };
    telemetry::init(&log, LogFormat::Pretty);
    let checks = handler::selfcheck::run(config).await;
    for check in &checks {
        println!("{}", check.line());
    }
    if checks.iter().all(|c| c.outcome.is_ok()) {
        println!("self-check passed");
        ExitCode::SUCCESS
    } else {
        println!("self-check failed");
        ExitCode::FAILURE
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    telemetry::init(&args.log, LogFormat::Json);
    handler::server::check_settings(&args.config).map_err(anyhow::Error::msg)?;
    let state = AppState::from_config(args.config)
        .await
        .context("cannot open the storage")?;
    handler::server::check_storage(&state)
        .await
        .with_context(|| format!("cannot reach the storage at {}", state.store().describe()))?;

    if lambda::detected() {
        // Preloading here runs inside Lambda's init phase, before the first invocation.
        state
            .preload_if_configured()
            .await
            .context("cannot load the speech engines")?;
        let mode = if args.lambda_streaming {
            Mode::Streaming
        } else {
            Mode::Buffered
        };
        tracing::info!(?mode, storage = %state.store().describe(), "serving Lambda invocations");
        return lambda::run(state, mode)
            .await
            .map_err(|e| anyhow::anyhow!("Lambda runtime failed: {e}"));
    }

    let health = match args.health_port {
        Some(port) => Some(
            TcpListener::bind((args.host.as_str(), port))
                .await
                .with_context(|| format!("cannot listen on {}:{port}", args.host))?,
        ),
        None => None,
    };
    if let Some(listener) = health {
        let readiness = handler::server::readiness(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(handler::server::without_nagle(listener), readiness).await {
                tracing::error!(error = %e, "the readiness listener stopped");
            }
        });
    }
    state
        .preload_if_configured()
        .await
        .context("cannot load the speech engines")?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    handler::server::serve(listener, state)
        .await
        .context("server failed")
}
