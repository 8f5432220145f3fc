//! The processes the service benchmark talks to: our release binary, piper-tts's HTTP
//! server and busy loops, each started on loopback and killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The release `local-runner`: `BENCH_LOCAL_RUNNER`, else built here (a no-op when fresh,
/// and never a stale binary measured by mistake).
pub(crate) fn local_runner(root: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("BENCH_LOCAL_RUNNER") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--quiet", "--release", "-p", "local-runner"])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building local-runner failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("release/local-runner")
}

/// A server process, killed when dropped; its output is drained so it never blocks.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) _storage: Option<tempfile::TempDir>,
}

impl Server {
    /// `local-runner --port 0 --storage file://<tmp> <extra>`, from the workspace root so
    /// the default `./.cache/models` is found. Settings that would change the defaults
    /// through the environment are removed.
    pub(crate) fn ours(runner: &Path, root: &Path, extra: &[&str]) -> Self {
        let (child, address, storage, _) = spawn_runner(runner, root, extra);
        Self {
            child,
            base: address,
            _storage: Some(storage),
        }
    }

    /// `python -m piper.http_server -m <voice> --host 127.0.0.1 --port <free>`, ready once
    /// `GET /info` answers.
    pub(crate) async fn piper(client: &reqwest::Client, python: &str, voice: &Path) -> Self {
        let (child, base) = spawn_piper(python, voice);
        first_ok(client, &format!("{base}/info"), Instant::now()).await;
        Self {
            child,
            base,
            _storage: None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns our binary; returns it with its address once it prints it, its storage folder,
/// and when it was spawned.
pub(crate) fn spawn_runner(
    runner: &Path,
    root: &Path,
    extra: &[&str],
) -> (Child, String, tempfile::TempDir, Instant) {
    let storage = tempfile::tempdir().unwrap();
    let mut command = Command::new(runner);
    command
        .current_dir(root)
        .args(["--port", "0", "--storage"])
        .arg(format!("file://{}", storage.path().display()))
        .args(extra)
        .env_remove("SPEECH_INFERENCE_THREADS")
        .env_remove("SPEECH_MAX_CONCURRENT_GENERATIONS")
        .env_remove("SPEECH_PRELOAD")
        .env_remove("SPEECH_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", runner.display()));
    drain(child.stderr.take().unwrap());
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.trim().to_owned());
                break;
            }
        }
        for _ in lines {}
    });
    let address = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("local-runner did not print its address within 120 s");
    (child, address, storage, spawned)
}

/// Spawns piper-tts's server on a free port (it cannot report one chosen by the kernel).
pub(crate) fn spawn_piper(python: &str, voice: &Path) -> (Child, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(python)
        .args(["-m", "piper.http_server", "-m"])
        .arg(voice)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python} -m piper.http_server: {e}"));
    drain(child.stdout.take().unwrap());
    drain(child.stderr.take().unwrap());
    (child, format!("http://127.0.0.1:{port}"))
}

pub(crate) fn drain(mut pipe: impl Read + Send + 'static) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut pipe, &mut std::io::sink());
    });
}

/// A busy loop at normal priority (the shell's `:` is a builtin: no child processes).
pub(crate) fn hog() -> Child {
    Command::new("nice")
        .args(["-n", "0", "sh", "-c", "while :; do :; done"])
        .stdin(Stdio::null())
        .spawn()
        .expect("start a busy loop")
}

/// Polls `url` every 2 ms until it answers 200; the time since `since`.
pub(crate) async fn first_ok(client: &reqwest::Client, url: &str, since: Instant) -> Duration {
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            response.bytes().await.unwrap();
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(120),
            "{url} did not answer"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
