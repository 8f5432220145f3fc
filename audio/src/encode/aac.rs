//! AAC-LC in ADTS framing, encoded by the `ffmpeg` program's native (LGPL) `aac` encoder
//! running as a subprocess.
//!
//! No AAC encoder is linked into this crate (see `docs/decisions/audio-codecs.md`): the
//! samples go to `ffmpeg -f f32le -i pipe:0 -c:a aac -f adts pipe:1` on its standard input
//! and the ADTS frames come back on its standard output. One subprocess serves one file or
//! one stream. A thread writes the samples (so a caller waits for a stalled ffmpeg only up
//! to [`WRITE_TIMEOUT`]), another drains standard output into a shared buffer that
//! `AacProcess::push` hands out progressively, and a third keeps the start of standard
//! error for the error message. `AacProcess::finish` closes standard input and waits up
//! to [`FINISH_TIMEOUT`] for the rest.
//!
//! Which program runs is the caller's setting ([`super::Encoders`], `ffmpeg` on `PATH` by
//! default), never process-wide state. A program that cannot be started or an ffmpeg that
//! fails is [`AudioError::EncoderUnavailable`].

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{clamp_unit, codec_rate, conform};
use crate::{AudioError, Pcm};

/// The service's setting naming the ffmpeg program (for the error message).
const FFMPEG_SETTING: &str = "--ffmpeg / SPEECH_FFMPEG";

/// Longest wait for ffmpeg to take one block of samples before the encode is abandoned.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait, once standard input is closed, for ffmpeg to write its last frames and exit.
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Sample rates AAC (ADTS sampling-frequency index) can carry.
pub(super) const AAC_RATES: [u32; 12] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 64_000, 88_200, 96_000,
];

/// Bitrates a client may ask for, in kbit/s (ffmpeg caps what a rate can carry itself).
pub(super) const AAC_KBPS: std::ops::RangeInclusive<u16> = 8..=320;

/// Samples per block written to ffmpeg by the one-shot encoder.
const CHUNK_SAMPLES: usize = 1 << 15;

/// Bytes of ffmpeg's standard error kept for the error message.
const STDERR_KEEP: usize = 4096;

/// One-shot: `pcm` as an ADTS file (rate conformed to [`AAC_RATES`], more than two
/// channels mixed to mono). Returns the bytes, the rate and the channel count written.
pub(super) fn encode(
    pcm: &Pcm,
    bitrate_kbps: u16,
    ffmpeg: &Path,
) -> Result<(Vec<u8>, u32, u16), AudioError> {
    let pcm = conform(pcm, &AAC_RATES)?;
    let mut process = AacProcess::spawn(ffmpeg, pcm.sample_rate, pcm.channels, bitrate_kbps)?;
    let mut out = Vec::new();
    let chunk = CHUNK_SAMPLES * usize::from(pcm.channels);
    for block in pcm.samples.chunks(chunk) {
        out.extend(process.push(block)?);
    }
    out.extend(process.finish()?);
    Ok((out, pcm.sample_rate, pcm.channels))
}

/// An ffmpeg subprocess turning f32 samples into ADTS frames.
pub(super) struct AacProcess {
    program: PathBuf,
    child: Child,
    /// Blocks for the writer thread; dropped to close ffmpeg's standard input.
    blocks: Option<SyncSender<Vec<u8>>>,
    /// The writer thread's answer per block: `Err` once a write failed.
    written: Receiver<Result<(), String>>,
    /// ADTS bytes read so far and not yet handed out.
    output: Arc<Mutex<Vec<u8>>>,
    threads: Vec<JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Whether any sample was written (an empty stream skips ffmpeg's answer).
    wrote: bool,
    /// Set once the child was waited for, so `Drop` leaves it alone.
    done: bool,
}

impl AacProcess {
    /// The coded rate for an input at `rate` (the input is resampled to it when they differ).
    pub(super) fn coded_rate(rate: u32) -> u32 {
        codec_rate(rate, &AAC_RATES)
    }

    /// Starts `program` encoding `channels` interleaved channels at `rate` Hz (one of
    /// [`AAC_RATES`]) at `bitrate_kbps`.
    pub(super) fn spawn(
        program: &Path,
        rate: u32,
        channels: u16,
        bitrate_kbps: u16,
    ) -> Result<Self, AudioError> {
        let mut child = Command::new(program)
            .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
            .args(["-f", "f32le", "-ar", &rate.to_string()])
            .args(["-ac", &channels.to_string(), "-i", "pipe:0"])
            .args(["-c:a", "aac", "-b:a", &format!("{bitrate_kbps}k")])
            // Each frame leaves as soon as it is encoded, not when a 32 KiB buffer fills.
            .args(["-flush_packets", "1", "-f", "adts", "pipe:1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| unavailable(program, &format!("could not be started ({e})")))?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(AudioError::encode("aac", "ffmpeg's pipes were not opened"));
                }
            };
        let output = Arc::new(Mutex::new(Vec::new()));
        let stderr_kept = Arc::new(Mutex::new(Vec::new()));
        let (blocks, block_rx) = sync_channel::<Vec<u8>>(1);
        let (written_tx, written) = sync_channel::<Result<(), String>>(1);
        let mut threads = Vec::with_capacity(3);
        let spawned = [
            std::thread::Builder::new()
                .name("ffmpeg-stdin".into())
                .spawn(move || write_blocks(stdin, block_rx, written_tx)),
            {
                let output = Arc::clone(&output);
                std::thread::Builder::new()
                    .name("ffmpeg-stdout".into())
                    .spawn(move || drain(stdout, &output, usize::MAX))
            },
            {
                let kept = Arc::clone(&stderr_kept);
                std::thread::Builder::new()
                    .name("ffmpeg-stderr".into())
                    .spawn(move || drain(stderr, &kept, STDERR_KEEP))
            },
        ];
        let mut process = Self {
            program: program.to_owned(),
            child,
            blocks: Some(blocks),
            written,
            output,
            threads: Vec::new(),
            stderr: stderr_kept,
            wrote: false,
            done: false,
        };
        for handle in spawned {
            match handle {
                Ok(handle) => threads.push(handle),
                // Dropping `process` kills ffmpeg, which ends the threads already started.
                Err(e) => {
                    return Err(AudioError::encode(
                        "aac",
                        format!("no thread for ffmpeg: {e}"),
                    ));
                }
            }
        }
        process.threads = threads;
        Ok(process)
    }

    /// Sends `samples` (interleaved, clamped to `[-1, 1]`) to ffmpeg and returns the ADTS
    /// bytes it has produced so far.
    pub(super) fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        if !samples.is_empty() {
            let mut bytes = Vec::with_capacity(samples.len() * 4);
            for &s in samples {
                bytes.extend_from_slice(&clamp_unit(s).to_le_bytes());
            }
            self.wrote = true;
            self.send(bytes)?;
        }
        Ok(self.take_output())
    }

    /// Closes ffmpeg's standard input and returns the remaining frames once it exits.
    pub(super) fn finish(mut self) -> Result<Vec<u8>, AudioError> {
        self.blocks = None;
        if !self.wrote {
            // Nothing to encode: an empty ADTS stream is no bytes at all.
            self.stop();
            return Ok(Vec::new());
        }
        let status = self.wait(FINISH_TIMEOUT)?;
        self.join_threads();
        if !status.success() {
            return Err(self.failed(&format!("it exited with {status}")));
        }
        Ok(self.take_output())
    }

    /// Hands one block to the writer thread and waits until it is written.
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), AudioError> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let sent = match &self.blocks {
            Some(blocks) => blocks.send(bytes).is_ok(),
            None => false,
        };
        let answer = if sent {
            self.written
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        } else {
            Err(RecvTimeoutError::Disconnected)
        };
        match answer {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => {
                // Usually a broken pipe: ffmpeg exited; its status and message say why.
                let status = self.wait(Duration::from_secs(5)).ok();
                let why = match status {
                    Some(status) => format!("it exited with {status} ({reason})"),
                    None => reason,
                };
                Err(self.failed(&why))
            }
            Err(RecvTimeoutError::Timeout) => {
                self.stop();
                Err(AudioError::encode(
                    "aac",
                    format!(
                        "ffmpeg took no samples for {} s and was stopped",
                        WRITE_TIMEOUT.as_secs()
                    ),
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.wait(Duration::from_secs(5)).ok();
                Err(self.failed(&match status {
                    Some(status) => format!("it exited with {status}"),
                    None => "its input closed".to_owned(),
                }))
            }
        }
    }

    /// Waits up to `timeout` for ffmpeg to exit; kills it when the time is up.
    fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, AudioError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.done = true;
                    return Ok(status);
                }
                Ok(None) if Instant::now() >= deadline => {
                    self.stop();
                    return Err(AudioError::encode(
                        "aac",
                        format!(
                            "ffmpeg did not finish within {} s and was stopped",
                            timeout.as_secs()
                        ),
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => {
                    self.stop();
                    return Err(AudioError::encode(
                        "aac",
                        format!("waiting for ffmpeg: {e}"),
                    ));
                }
            }
        }
    }

    /// Closes ffmpeg's input, kills it (if still running) and reaps it.
    fn stop(&mut self) {
        self.blocks = None;
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.done = true;
        }
    }

    /// Joins the pipe threads (they end once ffmpeg has exited and its pipes closed).
    fn join_threads(&mut self) {
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }

    fn take_output(&self) -> Vec<u8> {
        std::mem::take(&mut *self.output.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The error for an ffmpeg that failed, with what it wrote on standard error.
    fn failed(&mut self, why: &str) -> AudioError {
        self.stop();
        self.join_threads();
        let stderr = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        let message = String::from_utf8_lossy(&stderr);
        let message = message.trim();
        if message.is_empty() {
            unavailable(&self.program, &format!("failed: {why}"))
        } else {
            unavailable(&self.program, &format!("failed: {why}: {message}"))
        }
    }
}

impl Drop for AacProcess {
    /// An abandoned stream (client gone, generation failed) must not leave ffmpeg running.
    fn drop(&mut self) {
        self.stop();
    }
}

/// [`AudioError::EncoderUnavailable`] for `program`, with how to fix it.
fn unavailable(program: &Path, what: &str) -> AudioError {
    AudioError::EncoderUnavailable {
        format: "aac",
        reason: format!(
            "the ffmpeg program '{}' {what}; install it with the setup step (ensure_runtime_assets \
             in scripts/lib/assets.sh, run by ./scripts/test.sh) or point {FFMPEG_SETTING} \
             at an ffmpeg with the native aac encoder",
            program.display()
        ),
    }
}

/// The writer thread: writes each block, answers per block, closes standard input when the
/// sender is dropped (or after the first failed write).
fn write_blocks(
    mut stdin: ChildStdin,
    blocks: Receiver<Vec<u8>>,
    written: SyncSender<Result<(), String>>,
) {
    for block in blocks {
        let result = stdin.write_all(&block).map_err(|e| match e.kind() {
            ErrorKind::BrokenPipe => "it stopped reading its input".to_owned(),
            _ => format!("writing to it: {e}"),
        });
        let failed = result.is_err();
        if written.send(result).is_err() || failed {
            return;
        }
    }
}

/// Reads `from` to the end, appending to `into` while it holds fewer than `keep` bytes.
fn drain(mut from: impl Read, into: &Mutex<Vec<u8>>, keep: usize) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => {
                let mut into = into.lock().unwrap_or_else(PoisonError::into_inner);
                let room = keep.saturating_sub(into.len()).min(n);
                into.extend_from_slice(&buffer[..room]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
