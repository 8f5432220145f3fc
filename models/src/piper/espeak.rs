//! Text → IPA phonemes per sentence, with the `espeak-ng` program as a subprocess (one
//! process per request), reproducing piper's clause handling (see [`super::clauses`]).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use unicode_normalization::UnicodeNormalization;

use super::clauses::{Clause, split_clauses};
use crate::ModelError;

/// Turns text into phonemes, one string per sentence (Unicode NFD, clause punctuation
/// included), ready for [`super::phoneme_ids`].
pub trait Phonemizer: Send + Sync + std::fmt::Debug {
    /// Phonemises `text` with the named voice.
    fn phonemize(&self, voice: &str, text: &str) -> Result<Vec<String>, ModelError>;
}

/// Marks clause boundaries in the batched input. The program reads standard input line by
/// line and phonemises each line on its own, so the sentinel's phonemes come out as a line
/// of their own between any two clauses, however many lines a clause produces.
const SENTINEL: &str = "qxqxq";
/// Lines longer than this are broken at spaces before they are sent: the program reads
/// standard input in fixed-size pieces and would otherwise cut a word (or a UTF-8
/// character) in two.
const MAX_LINE_BYTES: usize = 480;

/// The `espeak-ng` program, run as `espeak-ng -q -b 1 --ipa -v <voice>` with the text on
/// standard input (never through a shell).
#[derive(Debug, Clone)]
pub struct EspeakPhonemizer {
    program: PathBuf,
    timeout: Duration,
}

impl Default for EspeakPhonemizer {
    fn default() -> Self {
        Self {
            program: PathBuf::from("espeak-ng"),
            timeout: Duration::from_secs(30),
        }
    }
}

impl EspeakPhonemizer {
    /// Runs `espeak-ng` from `PATH` with a 30 s timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses another program path.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// Gives up (killing the process) after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The program's standard output for `input`, run with `voice`.
    fn run(&self, voice: &str, input: &str) -> Result<String, ModelError> {
        let mut child = Command::new(&self.program)
            .args(["-q", "-b", "1", "--ipa", "-v", voice])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                ModelError::Phonemizer(format!("could not start {}: {e}", self.program.display()))
            })?;
        let result = self.collect(&mut child, input);
        if result.is_err() {
            // Already exited in the common case; the error below is the one that matters.
            let _ = child.kill();
            let _ = child.wait();
        }
        result
    }

    fn collect(&self, child: &mut Child, input: &str) -> Result<String, ModelError> {
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ModelError::Phonemizer("espeak-ng pipes unavailable".into()));
        };
        let input = input.to_owned();
        // Writing and reading happen on their own threads so a full pipe cannot deadlock.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = stdout.read_to_end(&mut out);
            let read_err = stderr.read_to_end(&mut err);
            let _ = sender.send((read_out.and(read_err), out, err));
        });
        let (read, out, err) = receiver.recv_timeout(self.timeout).map_err(|_| {
            ModelError::Phonemizer(format!("espeak-ng timed out after {:?}", self.timeout))
        })?;
        let stderr_text = String::from_utf8_lossy(&err).trim().to_owned();
        let status = child
            .wait()
            .map_err(|e| ModelError::Phonemizer(format!("waiting for espeak-ng: {e}")))?;
        let written = writer
            .join()
            .map_err(|_| ModelError::Phonemizer("espeak-ng input writer panicked".into()))?;
        if !status.success() {
            return Err(ModelError::Phonemizer(format!(
                "espeak-ng exited with {status}: {stderr_text}"
            )));
        }
        read.map_err(|e| ModelError::Phonemizer(format!("reading espeak-ng output: {e}")))?;
        written.map_err(|e| ModelError::Phonemizer(format!("writing to espeak-ng: {e}")))?;
        String::from_utf8(out).map_err(|_| {
            ModelError::Phonemizer(format!("espeak-ng printed invalid UTF-8: {stderr_text}"))
        })
    }

    /// Phonemes of each clause: all clauses in one process, separated by sentinel lines.
    fn clause_phonemes(&self, voice: &str, clauses: &[Clause]) -> Result<Vec<String>, ModelError> {
        let mut input = String::with_capacity(clauses.iter().map(|c| c.text.len() + 8).sum());
        input.push_str(SENTINEL);
        input.push('\n');
        for clause in clauses {
            push_lines(&mut input, &clause.text);
            input.push_str(SENTINEL);
            input.push('\n');
        }
        let output = self.run(voice, &input)?;
        if let Some(groups) = split_at_sentinels(&output, clauses.len()) {
            return Ok(groups);
        }
        // A clause printed the sentinel's own phonemes: fall back to one process per clause.
        tracing::debug!("espeak-ng output not aligned; phonemising clause by clause");
        clauses
            .iter()
            .map(|clause| {
                let mut input = String::new();
                push_lines(&mut input, &clause.text);
                Ok(join_lines(self.run(voice, &input)?.lines()))
            })
            .collect()
    }
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

/// Clause outputs between sentinel lines; `None` unless exactly `clauses + 1` sentinels
/// frame the output.
fn split_at_sentinels(output: &str, clauses: usize) -> Option<Vec<String>> {
    let mut lines = output.lines().map(str::trim);
    let sentinel = lines.next().filter(|line| !line.is_empty())?;
    let mut groups = Vec::with_capacity(clauses);
    let mut current: Vec<&str> = Vec::new();
    let mut closed = 0;
    for line in lines {
        if line == sentinel {
            groups.push(join_lines(current.drain(..)));
            closed += 1;
        } else {
            current.push(line);
        }
    }
    let trailing = current.iter().any(|line| !line.is_empty());
    (closed == clauses && groups.len() == clauses && !trailing).then_some(groups)
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
    fn sentinels_frame_clause_output() {
        let out = "S\na\nb\nS\n\nS\nc\nS\n";
        assert_eq!(split_at_sentinels(out, 3).unwrap(), ["a b", "", "c"]);
        assert!(split_at_sentinels(out, 2).is_none());
        assert!(split_at_sentinels("S\na\nS\nextra\n", 1).is_none());
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
