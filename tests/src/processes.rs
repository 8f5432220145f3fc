//! Child processes the tests run for real: the S3 server and `local-runner`, each on
//! a free loopback port, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use storage::S3Settings;

/// Finds a binary of the `tests` package next to the running test executable
/// (`target/<profile>/deps/<test>` -> `target/<profile>/<name>`), building it first when a
/// test of another package runs without it (`cargo test -p local-runner`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    if !path.exists() {
        static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = BUILD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !path.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "-p", "tests", "--bin", name]);
            if dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "building {name} failed");
        }
    }
    path
}

/// Starts `command`, waits for the stdout line containing `marker` and returns the
/// child with the address that follows the marker.
fn spawn_and_wait(mut command: Command, marker: &str) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    wait_for_marker(command, child, stdout, marker)
}

/// [`spawn_and_wait`] for a program that reports its address on stderr.
pub(crate) fn spawn_and_wait_stderr(mut command: Command, marker: &str) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let stderr = child.stderr.take().expect("stderr");
    wait_for_marker(command, child, stderr, marker)
}

fn wait_for_marker(
    command: Command,
    mut child: Child,
    stdout: impl std::io::Read + Send + 'static,
    marker: &str,
) -> (Child, String) {
    let (tx, rx) = mpsc::channel();
    let marker = marker.to_owned();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(rest) = line.split(&marker).nth(1) {
                let _ = tx.send(rest.trim().to_owned());
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe; its lines go to the
        // test's stderr, which the test runner shows when the test fails.
        for line in lines.map_while(Result::ok) {
            eprintln!("[child] {line}");
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(address) => (child, address),
        Err(_) => {
            let _ = child.kill();
            panic!("{command:?} did not report its address within 60 s");
        }
    }
}

/// A running `s3-test-server` (s3s-fs) with one bucket, on a free port.
pub struct S3Server {
    child: Child,
    endpoint: String,
    paused: bool,
    /// The server's `--faults` file (see [`S3Server::inject_failures`]).
    faults: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// The bucket every test server has.
    pub const BUCKET: &'static str = "speech-test";
    /// Access key of the test server.
    pub const ACCESS_KEY: &'static str = "speechtest";
    /// Secret key of the test server.
    pub const SECRET_KEY: &'static str = "speechtest-secret";

    /// Starts a server over a fresh temporary directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let faults = dir.path().join("faults");
        let data = dir.path().join("data");
        let mut command = Command::new(workspace_bin("s3-test-server"));
        command
            .args([
                "--port",
                "0",
                "--access-key",
                Self::ACCESS_KEY,
                "--secret-key",
                Self::SECRET_KEY,
            ])
            .args(["--bucket", Self::BUCKET])
            .arg("--faults")
            .arg(&faults)
            .arg(&data);
        let (child, endpoint) = spawn_and_wait(command, "listening on ");
        Self {
            child,
            endpoint,
            paused: false,
            faults,
            _dir: dir,
        }
    }

    /// Makes the next `count` requests fail with the S3 error `code` and HTTP `status`
    /// (e.g. `SlowDown`, 503), as an overloaded or failing S3 would.
    pub fn inject_failures(&self, count: u64, code: &str, status: u16) {
        std::fs::write(&self.faults, format!("{count} {code} {status}")).expect("write faults");
    }

    /// How many injected failures are still to come.
    pub fn failures_left(&self) -> u64 {
        std::fs::read_to_string(&self.faults)
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Client settings for this server.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            path_style: true,
            access_key_id: Some(Self::ACCESS_KEY.into()),
            secret_access_key: Some(Self::SECRET_KEY.into()),
            timeouts: storage::StoreTimeouts::default(),
        }
    }

    /// `local-runner` flags that point at this server.
    pub fn runner_args(&self) -> Vec<String> {
        [
            "--s3-endpoint",
            &self.endpoint,
            "--s3-region",
            "us-east-1",
            "--s3-access-key-id",
            Self::ACCESS_KEY,
            "--s3-secret-access-key",
            Self::SECRET_KEY,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    /// Stops the server with SIGSTOP (a stalled server: connections are accepted by the
    /// kernel, nothing is answered) until [`S3Server::resume`].
    pub fn pause(&mut self) {
        self.signal("-STOP");
        self.paused = true;
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&mut self) {
        self.signal("-CONT");
        self.paused = false;
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Kills the server now (outage tests).
    pub fn kill(&mut self) {
        if self.paused {
            // A stopped process is killed all the same, but resuming first keeps
            // waiting on it from depending on that.
            let _ = Command::new("kill")
                .args(["-CONT", &self.child.id().to_string()])
                .status();
            self.paused = false;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client for talking to a [`LocalRunner`]: a 60 s timeout, so a hung server
/// fails the test instead of hanging it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// A running `local-runner` binary on a free port.
pub struct LocalRunner {
    child: Child,
    base: String,
    /// Its working directory.
    pub workdir: tempfile::TempDir,
}

impl LocalRunner {
    /// Starts the `local-runner` binary at `binary` (its tests pass
    /// `env!("CARGO_BIN_EXE_local-runner")`) with `--port 0 <args>` in a fresh working directory.
    pub fn start(binary: &str, args: &[String]) -> Self {
        let workdir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(binary);
        command
            .current_dir(workdir.path())
            .args(["--port", "0", "--cleanup-interval-hours", "0"])
            .args(args);
        // Warnings only, unless SPEECH_TEST_CHILD_LOG asks for more (debugging a test).
        let level = std::env::var("SPEECH_TEST_CHILD_LOG").unwrap_or_else(|_| "warn".into());
        command.env_remove("RUST_LOG").env("SPEECH_LOG", level);
        let (child, base) = spawn_and_wait(command, "listening on ");
        Self {
            child,
            base,
            workdir,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for a clean exit, returning whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for LocalRunner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
