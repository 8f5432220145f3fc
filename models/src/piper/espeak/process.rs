//! A long-lived `espeak-ng` process and the framing that keeps each request's output apart.
//!
//! Measured on espeak-ng 1.51 (Debian 12) with standard input a pipe: the program reads it
//! with `fgets` (1000-byte buffer), phonemises each line as a separate text and flushes
//! standard output after each line; every line gives at least one output line (one per
//! clause espeak finds, an empty line for a line without words), always complete, and
//! nothing is printed before the first line arrives. Output for a line therefore depends
//! only on that line, and arrives in input order. Start-up (process and dictionary load)
//! costs ~12 ms; a short line costs ~0.1-0.4 ms once the process is running (at the rate
//! [`super::ARGS`] sets).
//!
//! Framing: at start-up the process is given three random made-up words (a clause
//! separator and two end-of-request markers), each twice; both copies must come back as
//! identical single lines, and the three must differ, or the process is discarded. A
//! request is then its clauses' lines with the separator between clauses and an end marker
//! after the last, the two end markers alternating from one request to the next. Reading
//! stops at the end marker's phonemes, so a request consumes exactly its own output; if an
//! earlier request had ever stopped short, its leftover (which ends with the other marker)
//! would be seen and the process discarded rather than its lines handed to the wrong
//! request. The words are random per process so that no text can reproduce them on
//! purpose.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

use super::{ARGS, join_lines, push_lines};
use crate::piper::clauses::Clause;

/// An output line longer than this is taken for a broken process (a real one is the
/// phonemes of at most ~1000 input bytes).
const MAX_OUTPUT_LINE: u64 = 1 << 20;

/// Output lines as the reader thread hands them over (newline included).
type Lines = Receiver<io::Result<Vec<u8>>>;

/// Why a long-lived process could not answer a request. The process is discarded.
#[derive(Debug)]
pub(super) enum Failure {
    /// The program (or a helper thread) could not be started.
    Start(io::Error),
    /// No complete answer before the deadline.
    Timeout,
    /// The process closed its output (it exited or was killed).
    Closed,
    /// Reading its output failed.
    Read(io::Error),
    /// The output did not have the expected shape.
    Garbled(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start(e) => write!(f, "could not start espeak-ng: {e}"),
            Self::Timeout => f.write_str("espeak-ng did not answer before the timeout"),
            Self::Closed => f.write_str("espeak-ng closed its output"),
            Self::Read(e) => write!(f, "reading espeak-ng output: {e}"),
            Self::Garbled(why) => write!(f, "unexpected espeak-ng output: {why}"),
        }
    }
}

/// A made-up word and the single line of phonemes this process prints for it.
#[derive(Debug)]
struct Marker {
    word: String,
    phonemes: String,
}

/// A running `espeak-ng` with helper threads on its pipes. Dropping it kills the process.
#[derive(Debug)]
pub(super) struct EspeakProcess {
    child: Child,
    /// Bytes for the input thread to write: writing on the caller's thread could block for
    /// good if the program stopped reading.
    input: Sender<Vec<u8>>,
    /// Output lines from the reader thread; disconnected once the program's output closes.
    lines: Lines,
    separator: Marker,
    ends: [Marker; 2],
    /// Requests answered so far; picks the end marker.
    served: u64,
}

impl EspeakProcess {
    /// Starts `program` with `voice` and learns its markers' phonemes, all by `deadline`.
    pub(super) fn start(program: &Path, voice: &str, deadline: Instant) -> Result<Self, Failure> {
        let mut child = Command::new(program)
            .args(ARGS)
            .arg(voice)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Nothing reads warnings from a long-lived process, and an unread pipe could
            // fill up and stall it; the one-shot fallback still reports stderr.
            .stderr(Stdio::null())
            .spawn()
            .map_err(Failure::Start)?;
        let (input, lines) = match pipe_threads(&mut child) {
            Ok(channels) => channels,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::Start(e));
            }
        };
        let [separator, first, second] = marker_words();
        // Built before the handshake so that any failure below kills the process (Drop).
        let mut process = Self {
            child,
            input,
            lines,
            separator: Marker {
                word: separator,
                phonemes: String::new(),
            },
            ends: [
                Marker {
                    word: first,
                    phonemes: String::new(),
                },
                Marker {
                    word: second,
                    phonemes: String::new(),
                },
            ],
            served: 0,
        };
        process.handshake(deadline)?;
        Ok(process)
    }

    /// The operating system's id of the process.
    pub(super) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends each marker word twice and keeps the phonemes, which must be one non-empty line
    /// per word, the same both times, and different for the three words.
    fn handshake(&mut self, deadline: Instant) -> Result<(), Failure> {
        let words = [&self.separator.word, &self.ends[0].word, &self.ends[1].word];
        let mut input = String::new();
        for word in words.iter().chain(&words) {
            input.push_str(word);
            input.push('\n');
        }
        self.send(input)?;
        let mut lines = Vec::with_capacity(6);
        for _ in 0..6 {
            lines.push(self.read_line(deadline)?);
        }
        let (first, again) = lines.split_at(3);
        if first != again {
            return Err(Failure::Garbled(
                "a marker word did not give one stable line",
            ));
        }
        if first.iter().any(String::is_empty)
            || first[0] == first[1]
            || first[0] == first[2]
            || first[1] == first[2]
        {
            return Err(Failure::Garbled("marker words not told apart"));
        }
        let [separator, end0, end1] = [0, 1, 2].map(|n| first[n].clone());
        self.separator.phonemes = separator;
        self.ends[0].phonemes = end0;
        self.ends[1].phonemes = end1;
        Ok(())
    }

    /// The phonemes of each clause, by `deadline`. Any error leaves the process in an
    /// unknown state: the caller must drop it.
    pub(super) fn request(
        &mut self,
        clauses: &[Clause],
        deadline: Instant,
    ) -> Result<Vec<String>, Failure> {
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let turn = usize::from(self.served % 2 == 1);
        let mut input = String::with_capacity(clauses.iter().map(|c| c.text.len() + 12).sum());
        for (n, clause) in clauses.iter().enumerate() {
            push_lines(&mut input, &clause.text);
            let marker = if n + 1 == clauses.len() {
                &self.ends[turn]
            } else {
                &self.separator
            };
            input.push_str(&marker.word);
            input.push('\n');
        }
        self.send(input)?;
        let groups = split_reply(
            &self.separator.phonemes,
            [&self.ends[turn].phonemes, &self.ends[1 - turn].phonemes],
            clauses.len(),
            || self.read_line(deadline),
        )?;
        self.served += 1;
        Ok(groups)
    }

    fn send(&self, input: String) -> Result<(), Failure> {
        // The input thread is gone only if writing failed, i.e. the process is gone.
        self.input
            .send(input.into_bytes())
            .map_err(|_| Failure::Closed)
    }

    /// The next output line, trimmed.
    fn read_line(&self, deadline: Instant) -> Result<String, Failure> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let line = match self.lines.recv_timeout(wait) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(Failure::Read(e)),
            Err(RecvTimeoutError::Timeout) => return Err(Failure::Timeout),
            Err(RecvTimeoutError::Disconnected) => return Err(Failure::Closed),
        };
        let line = String::from_utf8(line).map_err(|_| Failure::Garbled("invalid UTF-8"))?;
        Ok(line.trim().to_owned())
    }
}

impl Drop for EspeakProcess {
    fn drop(&mut self) {
        // Killing also ends the helper threads: the reader sees end of file, the writer a
        // broken pipe (or its channel closing once this struct is gone).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one request's output with `next_line` up to the `end` marker's line and splits it
/// into `clauses` groups at the `separator` lines. Meeting the `stale` end marker (an
/// earlier request's) or a separator count that does not fit is a framing error.
fn split_reply(
    separator: &str,
    [end, stale]: [&str; 2],
    clauses: usize,
    mut next_line: impl FnMut() -> Result<String, Failure>,
) -> Result<Vec<String>, Failure> {
    let mut groups = Vec::with_capacity(clauses);
    let mut current = Vec::new();
    loop {
        let line = next_line()?;
        if line == end {
            break;
        }
        if line == stale {
            return Err(Failure::Garbled("output left over from an earlier request"));
        }
        if line == separator {
            groups.push(join_lines(current.iter().map(String::as_str)));
            current.clear();
            if groups.len() >= clauses {
                return Err(Failure::Garbled("more clause separators than clauses"));
            }
        } else {
            current.push(line);
        }
    }
    groups.push(join_lines(current.iter().map(String::as_str)));
    if groups.len() != clauses {
        return Err(Failure::Garbled("fewer clause separators than clauses"));
    }
    Ok(groups)
}

/// Starts the threads that write the process's input and read its output lines.
fn pipe_threads(child: &mut Child) -> io::Result<(Sender<Vec<u8>>, Lines)> {
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(io::Error::other("espeak-ng pipes unavailable"));
    };
    let (input, to_write) = mpsc::channel();
    std::thread::Builder::new()
        .name("espeak-ng-input".into())
        .spawn(move || write_input(stdin, to_write))?;
    let (line_sender, lines) = mpsc::channel();
    std::thread::Builder::new()
        .name("espeak-ng-output".into())
        .spawn(move || read_output(stdout, line_sender))?;
    Ok((input, lines))
}

fn write_input(mut stdin: ChildStdin, to_write: Receiver<Vec<u8>>) {
    while let Ok(bytes) = to_write.recv() {
        if stdin
            .write_all(&bytes)
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return;
        }
    }
}

fn read_output(stdout: ChildStdout, lines: Sender<io::Result<Vec<u8>>>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let read = (&mut reader)
            .take(MAX_OUTPUT_LINE)
            .read_until(b'\n', &mut line);
        let message = match read {
            Ok(0) => return,
            Ok(_) if line.last() == Some(&b'\n') => Ok(line),
            // End of file inside a line: whatever came is not a whole answer.
            Ok(n) if (n as u64) < MAX_OUTPUT_LINE => return,
            Ok(_) => Err(io::Error::other("output line too long")),
            Err(e) => Err(e),
        };
        let stop = message.is_err();
        if lines.send(message).is_err() || stop {
            return;
        }
    }
}

/// Three different made-up words (consonant-vowel syllables, which espeak-ng reads as one
/// word rather than spelling them, so they stay cheap), random for every process.
fn marker_words() -> [String; 3] {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    const CONSONANTS: &[u8] = b"bdfgklmnprstvz";
    const VOWELS: &[u8] = b"aeiou";
    // `RandomState` is seeded from the operating system's randomness; the counter and the
    // clock make every call differ.
    let random = RandomState::new();
    let mut hasher = random.build_hasher();
    hasher.write_u64(STARTED.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let mut words: [String; 3] = Default::default();
    let mut n = 0;
    while n < 3 {
        hasher.write_usize(n);
        let mut bits = hasher.finish();
        let mut word = String::with_capacity(10);
        for _ in 0..5 {
            let syllables = (CONSONANTS.len() * VOWELS.len()) as u64;
            let pick = (bits % syllables) as usize;
            bits /= syllables;
            word.push(char::from(CONSONANTS[pick / VOWELS.len()]));
            word.push(char::from(VOWELS[pick % VOWELS.len()]));
        }
        if !words[..n].contains(&word) {
            words[n] = word;
            n += 1;
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `lines` to [`split_reply`] with separator `S`, end `E` and stale end `F`.
    fn split(lines: &[&str], clauses: usize) -> Result<Vec<String>, Failure> {
        let mut lines = lines.iter().map(|l| (*l).to_owned());
        split_reply("S", ["E", "F"], clauses, || {
            lines.next().ok_or(Failure::Closed)
        })
    }

    #[test]
    fn replies_split_at_separators_up_to_the_end_marker() {
        assert_eq!(
            split(&["a", "b", "S", "", "S", "c", "E"], 3).unwrap(),
            ["a b", "", "c"]
        );
        assert_eq!(split(&["E"], 1).unwrap(), [""]);
    }

    #[test]
    fn misframed_replies_are_rejected() {
        let garbled = |r: Result<Vec<String>, Failure>| matches!(r, Err(Failure::Garbled(_)));
        assert!(garbled(split(&["a", "S", "b", "E"], 1)));
        assert!(garbled(split(&["a", "E"], 2)));
        assert!(garbled(split(&["old", "F", "a", "E"], 1)));
        assert!(matches!(split(&["a", "S"], 2), Err(Failure::Closed)));
    }

    #[test]
    fn marker_words_differ_within_and_across_calls() {
        let [a, b, c] = marker_words();
        assert!(a != b && b != c && a != c);
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|b| b.is_ascii_lowercase()));
        assert_ne!(marker_words()[0], a);
    }
}
