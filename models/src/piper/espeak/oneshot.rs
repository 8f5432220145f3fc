//! The stateless path: one `espeak-ng` process per request, all clauses in one run separated
//! by sentinel lines. Used when long-lived processes are turned off, and as the last resort
//! when a long-lived process fails twice in a row on the same request.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{ARGS, join_lines, push_lines};
use crate::ModelError;
use crate::piper::clauses::Clause;

/// Marks clause boundaries in the batched input. The program reads standard input line by
/// line and phonemises each line on its own, so the sentinel's phonemes come out as a line
/// of their own between any two clauses, however many lines a clause produces.
const SENTINEL: &str = "qxqxq";

/// Phonemes of each clause: all clauses in one process, separated by sentinel lines.
pub(super) fn clause_phonemes(
    program: &Path,
    voice: &str,
    timeout: Duration,
    clauses: &[Clause],
) -> Result<Vec<String>, ModelError> {
    let mut input = String::with_capacity(clauses.iter().map(|c| c.text.len() + 8).sum());
    input.push_str(SENTINEL);
    input.push('\n');
    for clause in clauses {
        push_lines(&mut input, &clause.text);
        input.push_str(SENTINEL);
        input.push('\n');
    }
    let output = run(program, voice, timeout, &input)?;
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
            Ok(join_lines(run(program, voice, timeout, &input)?.lines()))
        })
        .collect()
}

/// The program's standard output for `input`, run with `voice`.
fn run(program: &Path, voice: &str, timeout: Duration, input: &str) -> Result<String, ModelError> {
    let mut child = Command::new(program)
        .args(ARGS)
        .arg(voice)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            ModelError::Phonemizer(format!("could not start {}: {e}", program.display()))
        })?;
    let result = collect(&mut child, timeout, input);
    if result.is_err() {
        // Already exited in the common case; the error below is the one that matters.
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

fn collect(child: &mut Child, timeout: Duration, input: &str) -> Result<String, ModelError> {
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(ModelError::Phonemizer("espeak-ng pipes unavailable".into()));
    };
    let input = input.to_owned();
    let thread_error = |e| ModelError::Phonemizer(format!("could not start a thread: {e}"));
    // Writing and reading happen on their own threads so a full pipe cannot deadlock.
    let writer = std::thread::Builder::new()
        .name("espeak-ng-input".into())
        .spawn(move || stdin.write_all(input.as_bytes()))
        .map_err(thread_error)?;
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("espeak-ng-output".into())
        .spawn(move || {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = stdout.read_to_end(&mut out);
            let read_err = stderr.read_to_end(&mut err);
            let _ = sender.send((read_out.and(read_err), out, err));
        })
        .map_err(thread_error)?;
    let (read, out, err) = receiver
        .recv_timeout(timeout)
        .map_err(|_| ModelError::Phonemizer(format!("espeak-ng timed out after {timeout:?}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_frame_clause_output() {
        let out = "S\na\nb\nS\n\nS\nc\nS\n";
        assert_eq!(split_at_sentinels(out, 3).unwrap(), ["a b", "", "c"]);
        assert!(split_at_sentinels(out, 2).is_none());
        assert!(split_at_sentinels("S\na\nS\nextra\n", 1).is_none());
    }
}
