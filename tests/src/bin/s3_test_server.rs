//! `s3-test-server`: a real S3-compatible server (s3s-fs: SigV4 auth, path-style,
//! objects as files under a root directory) for tests and for local development
//! without Docker. Listens on loopback; port 0 picks a free port, printed on stdout.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

/// Serves an S3-compatible API over a directory.
#[derive(Debug, Parser)]
#[command(name = "s3-test-server", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Access key clients must sign with.
    #[arg(long, default_value = "speechtest")]
    access_key: String,

    /// Secret key clients must sign with.
    #[arg(long, default_value = "speechtest-secret")]
    secret_key: String,

    /// Buckets to create at startup (each is a directory under the root).
    #[arg(long)]
    bucket: Vec<String>,

    /// Directory holding the buckets.
    root: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.root)
        .with_context(|| format!("cannot create {}", args.root.display()))?;
    for bucket in &args.bucket {
        std::fs::create_dir_all(args.root.join(bucket))
            .with_context(|| format!("cannot create bucket {bucket}"))?;
    }
    let fs = s3s_fs::FileSystem::new(&args.root)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e:?}", args.root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(
        args.access_key.clone(),
        args.secret_key.clone(),
    ));
    let service = builder.build();

    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .context("cannot listen")?;
    println!(
        "s3-test-server listening on http://{}",
        listener.local_addr()?
    );
    let server = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let connection = server
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}
