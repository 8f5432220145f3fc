//! The long-lived espeak-ng processes against one process per request: same phonemes over
//! many requests, several voices and threads; a killed or exiting process replaced without
//! the caller noticing; a hung one given up on in bounded time. Wrapper scripts stand in
//! for the program to log each start (and its process id) or to misbehave.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use models::ModelError;
use models::piper::{EspeakPhonemizer, Phonemizer};

/// Texts with punctuation, numbers, abbreviations, the one-shot path's sentinel word,
/// hostile input, long lines and several clauses per sentence.
const TEXTS: &[&str] = &[
    "Hello world.",
    "Hello, world! How are you today?",
    "It costs 3.5 dollars, or about 4 euros.",
    "Mr. Smith and Dr. Jones met at 10:30 in the morning.",
    "She said, \"I'll be there soon.\" Then she left.",
    "We need three things: bread, milk, and eggs; nothing else.",
    "Wait... what did you just say?",
    "e.g. this sentence starts with an abbreviation.",
    "Really?! That's amazing!",
    "qxqxq. Hello. qxqxq",
    "--help; $(rm -rf /) `id` | cat\u{0}\r\n-v fr. Done.",
    "...",
    "First paragraph.\n\nSecond paragraph, after a blank line.",
    "Café, naïve résumé — déjà vu.",
];

/// Texts for a second voice, to check that voices get their own processes.
const FRENCH: &[&str] = &["Bonjour, le monde. Ça va?", "Il fait beau aujourd'hui."];

/// A long text: its clause is broken into several input lines.
fn long_text() -> String {
    ["The quick brown fox jumps over the lazy dog"; 30].join(" and ") + "."
}

struct Scripts {
    _dir: tempfile::TempDir,
    /// Logs its process id, then becomes espeak-ng.
    logged: [(PathBuf, PathBuf); 3],
    /// Logs each start and forwards only 9 input lines: the 6 of the start-up handshake
    /// and 3 more, so every process dies in the middle of its second short request.
    short_lived: (PathBuf, PathBuf),
    /// Never answers.
    hung: PathBuf,
}

/// Writes every script before any test of this file starts a process: a script still open
/// for writing in this process while another thread forks cannot be executed (ETXTBSY).
fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| {
        assert!(
            std::process::Command::new("espeak-ng")
                .arg("--version")
                .output()
                .is_ok(),
            "espeak-ng not found on PATH: run ./scripts/test.sh once"
        );
        // Under the target directory: a static is never dropped, so the folder outlives the
        // run, and there it is cleaned with the build.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let logged = |name: &str| {
            let log = dir.path().join(format!("{name}.log"));
            let body = format!("echo $$ >> '{}'\nexec espeak-ng \"$@\"\n", log.display());
            (script(dir.path(), name, &body), log)
        };
        let logged = [logged("sequential"), logged("killed"), logged("threads")];
        let log = dir.path().join("short_lived.log");
        let body = format!(
            "echo $$ >> '{}'\nn=0\nwhile IFS= read -r line; do\n  printf '%s\\n' \"$line\"\n  \
             n=$((n + 1))\n  [ \"$n\" -ge 9 ] && exit 0\ndone | espeak-ng \"$@\"\n",
            log.display()
        );
        let short_lived = (script(dir.path(), "short_lived", &body), log);
        let hung = script(dir.path(), "hung", "exec sleep 60\n");
        Scripts {
            _dir: dir,
            logged,
            short_lived,
            hung,
        }
    })
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("{name}.sh"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The process ids a wrapper script logged, one per start.
fn starts(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What one fresh process per request gives.
fn one_shot(voice: &str, text: &str) -> Vec<String> {
    EspeakPhonemizer::new()
        .with_long_lived_processes(false)
        .phonemize(voice, text)
        .unwrap()
}

#[test]
fn many_sequential_requests_match_one_process_per_request() {
    let (program, log) = &scripts().logged[0];
    let long = long_text();
    let english: Vec<&str> = TEXTS.iter().copied().chain([long.as_str()]).collect();
    let expected: Vec<Vec<String>> = english.iter().map(|t| one_shot("en-us", t)).collect();
    let french: Vec<Vec<String>> = FRENCH.iter().map(|t| one_shot("fr-fr", t)).collect();
    assert_ne!(
        expected[0],
        one_shot("fr-fr", TEXTS[0]),
        "voices must differ"
    );
    let phonemizer = EspeakPhonemizer::new().with_program(program);
    for round in 0..4 {
        for (text, expected) in english.iter().zip(&expected) {
            let ours = phonemizer.phonemize("en-us", text).unwrap();
            assert_eq!(&ours, expected, "round {round}: {text:?}");
        }
        // Interleaved with another voice, which must not disturb the first one's process.
        for (text, expected) in FRENCH.iter().zip(&french) {
            assert_eq!(&phonemizer.phonemize("fr-fr", text).unwrap(), expected);
        }
    }
    assert_eq!(
        phonemizer.phonemize("en-us", "").unwrap(),
        Vec::<String>::new()
    );
    // One process per voice served every request.
    assert_eq!(starts(log).len(), 2, "{:?}", starts(log));
}

#[test]
fn a_killed_process_is_replaced_transparently() {
    let (program, log) = &scripts().logged[1];
    let text = TEXTS[1];
    let expected = one_shot("en-us", text);
    let phonemizer = EspeakPhonemizer::new().with_program(program);
    assert_eq!(phonemizer.phonemize("en-us", text).unwrap(), expected);
    let first = starts(log);
    assert_eq!(first.len(), 1);
    // The idle process dies between requests; the next request must not notice.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &first[0]])
        .status()
        .unwrap();
    assert!(killed.success());
    for _ in 0..3 {
        assert_eq!(phonemizer.phonemize("en-us", text).unwrap(), expected);
    }
    let now = starts(log);
    assert_eq!(now.len(), 2, "one replacement, then reused: {now:?}");
    assert_ne!(now[0], now[1]);
}

#[test]
fn a_process_exiting_mid_request_is_replaced_and_the_request_retried() {
    let (program, log) = &scripts().short_lived;
    let text = "Hello world.";
    let expected = one_shot("en-us", text);
    let phonemizer = EspeakPhonemizer::new().with_program(program);
    for _ in 0..6 {
        assert_eq!(phonemizer.phonemize("en-us", text).unwrap(), expected);
    }
    // Each process answers one request and dies in the next, whose retry starts the next
    // process: one start per request, so no request needed the one-shot fallback.
    assert_eq!(starts(log).len(), 6);
}

#[test]
fn concurrent_requests_get_their_own_results() {
    let (program, _) = &scripts().logged[2];
    let expected: Vec<Vec<String>> = TEXTS.iter().map(|t| one_shot("en-us", t)).collect();
    let phonemizer = EspeakPhonemizer::new().with_program(program);
    std::thread::scope(|scope| {
        for thread in 0..6 {
            let (phonemizer, expected) = (&phonemizer, &expected);
            scope.spawn(move || {
                for n in 0..20 {
                    // Each thread walks the texts from its own offset, so requests running
                    // at the same moment differ.
                    let case = (thread * 5 + n) % TEXTS.len();
                    let ours = phonemizer.phonemize("en-us", TEXTS[case]).unwrap();
                    assert_eq!(ours, expected[case], "thread {thread}: {:?}", TEXTS[case]);
                }
            });
        }
    });
}

#[test]
fn a_hung_program_is_given_up_on_in_bounded_time() {
    let phonemizer = EspeakPhonemizer::new()
        .with_program(&scripts().hung)
        .with_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let error = phonemizer.phonemize("en-us", "Hello world.").unwrap_err();
    assert!(matches!(error, ModelError::Phonemizer(_)), "{error}");
    // Long-lived process, fresh process, one-shot run: three timeouts at most.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
