//! Text → IPA phonemes per sentence, with the `espeak-ng` program as a subprocess,
//! reproducing piper's clause handling (see [`super::clauses`]).
//!
//! Starting the program costs ~12 ms (process and dictionary load), more than phonemising a
//! short sentence, so each voice keeps long-lived processes ([`process`], [`pool`]) that
//! answer request after request over their pipes. A process that fails in any way is
//! killed and the request retried once on a fresh one; if that fails too, the request runs
//! the stateless way, one process for the request ([`oneshot`]), which also reports the
//! program's own error message.

mod oneshot;
mod pool;
mod process;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use unicode_normalization::UnicodeNormalization;

use super::clauses::{Clause, split_clauses};
use crate::ModelError;
use pool::Pool;
use process::{EspeakProcess, Failure};

/// Turns text into phonemes, one string per sentence (Unicode NFD, clause punctuation
/// included), ready for [`super::phoneme_ids`].
pub trait Phonemizer: Send + Sync + std::fmt::Debug {
    /// Phonemises `text` with the named voice.
    fn phonemize(&self, voice: &str, text: &str) -> Result<Vec<String>, ModelError>;
}

/// The program's arguments, the voice name following: quiet (no audio), line-by-line input
/// as UTF-8, IPA phonemes on standard output, at 449 words per minute. Even with `-q` the
/// program synthesises each line's audio (and throws it away), so its cost grows with the
/// audio's length: at 449 (the fastest rate before espeak-ng switches to its sonic
/// speed-up, which costs more again) a sentence is phonemised in about half the time of the
/// default 175 (2.2 -> 1.0 ms for a nine-word sentence on espeak-ng 1.51). The phonemes do
/// not depend on the rate: identical for 1,868 lines of prose in en-us, en-gb, de, fr and es.
const ARGS: [&str; 7] = ["-q", "-b", "1", "--ipa", "-s", "449", "-v"];
/// Lines longer than this are broken at spaces before they are sent: the program reads
/// standard input in fixed-size pieces (1000 bytes) and would otherwise cut a word (or a
/// UTF-8 character) in two.
const MAX_LINE_BYTES: usize = 480;

/// The `espeak-ng` program, run as `espeak-ng -q -b 1 --ipa -s 449 -v <voice>` with the text on
/// standard input (never through a shell). Clones share their idle processes.
#[derive(Debug, Clone)]
pub struct EspeakPhonemizer {
    program: PathBuf,
    timeout: Duration,
    long_lived: bool,
    pool: Arc<Pool>,
}

impl Default for EspeakPhonemizer {
    fn default() -> Self {
        Self {
            program: PathBuf::from("espeak-ng"),
            timeout: Duration::from_secs(30),
            long_lived: true,
            pool: Arc::default(),
        }
    }
}

impl EspeakPhonemizer {
    /// Runs `espeak-ng` from `PATH` with a 30 s timeout, keeping long-lived processes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses another program path (idle processes of the old one are let go).
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self.pool = Arc::default();
        self
    }

    /// Gives up on a process (killing it) when a request takes longer than `timeout`. A
    /// request can try up to three processes (its long-lived one, a fresh one, a one-shot
    /// run), so a program that hangs costs it up to three times `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to keep long-lived processes (the default). `false` starts one process per
    /// request: slower, but nothing outlives a request.
    pub fn with_long_lived_processes(mut self, long_lived: bool) -> Self {
        self.long_lived = long_lived;
        self
    }

    /// Phonemes of each clause, from a long-lived process if possible.
    fn clause_phonemes(&self, voice: &str, clauses: &[Clause]) -> Result<Vec<String>, ModelError> {
        if self.long_lived {
            match self.ask_long_lived(voice, clauses) {
                Ok(phonemes) => return Ok(phonemes),
                Err(failure) => tracing::warn!(
                    %failure,
                    "espeak-ng failed twice as a long-lived process; running it for this request only"
                ),
            }
        }
        oneshot::clause_phonemes(&self.program, voice, self.timeout, clauses)
    }

    /// An idle process (or a new one); on any failure it is killed and a fresh one tried.
    fn ask_long_lived(&self, voice: &str, clauses: &[Clause]) -> Result<Vec<String>, Failure> {
        match self.attempt(voice, self.pool.take(voice), clauses) {
            Ok(phonemes) => Ok(phonemes),
            Err(failure) => {
                tracing::debug!(%failure, "espeak-ng process dropped; retrying with a fresh one");
                self.attempt(voice, None, clauses)
            }
        }
    }

    /// One try on `process` (or a process started for it), which goes back to the pool
    /// only if it answered properly; otherwise dropping it kills it.
    fn attempt(
        &self,
        voice: &str,
        process: Option<EspeakProcess>,
        clauses: &[Clause],
    ) -> Result<Vec<String>, Failure> {
        let deadline = deadline_after(self.timeout);
        let mut process = match process {
            Some(process) => process,
            None => {
                let process = EspeakProcess::start(&self.program, voice, deadline)?;
                tracing::debug!(pid = process.id(), voice, "espeak-ng process started");
                process
            }
        };
        let phonemes = process.request(clauses, deadline)?;
        self.pool.give_back(voice, process);
        Ok(phonemes)
    }
}

/// `timeout` from now; a timeout too large to represent waits for a year instead.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

impl Phonemizer for EspeakPhonemizer {
    fn phonemize(&self, voice: &str, text: &str) -> Result<Vec<String>, ModelError> {
        let clauses = split_clauses(text);
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let phonemes = self.clause_phonemes(voice, &clauses)?;
        Ok(assemble_sentences(&clauses, &phonemes))
    }
}

/// Piper's assembly: drop `(xx)` language switches, re-append the terminator (with a
/// space after `, ; :`), NFD, and cut after each sentence-ending clause. Empty sentences
/// are left out (piper skips them when synthesising).
pub(crate) fn assemble_sentences(clauses: &[Clause], phonemes: &[String]) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut sentence = String::new();
    for (clause, phonemes) in clauses.iter().zip(phonemes) {
        let mut text = remove_language_switches(phonemes);
        text.push_str(clause.terminator);
        if matches!(clause.terminator, "," | ";" | ":") {
            text.push(' ');
        }
        sentence.extend(text.nfd());
        if clause.end_of_sentence && !sentence.is_empty() {
            sentences.push(std::mem::take(&mut sentence));
        }
    }
    if !sentence.is_empty() {
        sentences.push(sentence);
    }
    sentences
}

/// Removes `(en)`-style markers (piper's `\([^)]+\)`).
fn remove_language_switches(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close) if close > 0 => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Appends `text` as one or more lines, breaking at spaces so no line exceeds
/// [`MAX_LINE_BYTES`] unless a single word does.
fn push_lines(input: &mut String, text: &str) {
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > MAX_LINE_BYTES {
            input.push('\n');
            line_len = 0;
        }
        if line_len > 0 {
            input.push(' ');
            line_len += 1;
        }
        input.push_str(word);
        line_len += word.len();
    }
    input.push('\n');
}

fn join_lines<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut joined = String::new();
    for line in lines.map(str::trim).filter(|line| !line.is_empty()) {
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line);
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_language_switch_markers() {
        assert_eq!(remove_language_switches("(fr)bɔ̃ʒuʁ(en) hi"), "bɔ̃ʒuʁ hi");
        assert_eq!(remove_language_switches("a () b (c"), "a () b (c");
    }

    #[test]
    fn assembles_sentences_like_piper() {
        let clauses = split_clauses("Hi, there. Yes");
        let phonemes = ["hˈaɪ".to_owned(), "ðɛɹ".to_owned(), "jˈɛs".to_owned()];
        assert_eq!(
            assemble_sentences(&clauses, &phonemes),
            ["hˈaɪ, ðɛɹ.", "jˈɛs"]
        );
    }

    #[test]
    fn applies_nfd() {
        let clauses = split_clauses("x");
        assert_eq!(
            assemble_sentences(&clauses, &["ç".to_owned()]),
            ["c\u{327}"]
        );
    }

    #[test]
    fn long_lines_are_broken_at_spaces() {
        let text = vec!["word"; 300].join(" ");
        let mut input = String::new();
        push_lines(&mut input, &text);
        assert!(input.lines().all(|line| line.len() <= MAX_LINE_BYTES));
        assert_eq!(input.split_whitespace().count(), 300);
    }
}
