//! Silence tokens (`(500ms)`, `(1.5s)`) and the concat file list they appear in.
//!
//! Grammar (the original's regex `^\((\d+(?:\.\d+)?)(ms|s)\)$`): parentheses, digits
//! with an optional decimal part, a lowercase unit, nothing else; 50 ms to 10 s
//! inclusive. Unlike the original, any item that *starts with `(` and ends with `)`*
//! is treated as a token attempt, so `(1 s)` or `(1S)` is a typed 422 naming the token
//! instead of a confusing "file not found", and decimals are converted exactly (the
//! original's `int(1.001 * 1000)` gave 1000).

use serde::Serialize;

use crate::AudioError;

/// Shortest silence a token may ask for, in ms.
pub const MIN_SILENCE_MS: u32 = 50;
/// Longest silence a token may ask for, in ms.
pub const MAX_SILENCE_MS: u32 = 10_000;

/// A parsed silence token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SilenceToken {
    /// Duration in whole milliseconds (sub-millisecond parts are truncated).
    pub duration_ms: u32,
    /// The token as written, e.g. `(1.5s)`.
    pub notation: String,
}

impl SilenceToken {
    /// Parses a string that must be a silence token (e.g. a mixed-concat `silence`
    /// segment's `source`).
    pub fn parse(item: &str) -> Result<Self, AudioError> {
        match Self::parse_attempt(item)? {
            Some(token) => Ok(token),
            None => Err(invalid(
                item,
                "a silence token looks like (500ms) or (1.5s)",
            )),
        }
    }

    /// `Ok(None)` when `item` is not a token attempt (does not start with `(` and end
    /// with `)`), so it is a file name; `Err` when it is an attempt but malformed.
    pub fn parse_attempt(item: &str) -> Result<Option<Self>, AudioError> {
        let Some(body) = item
            .strip_prefix('(')
            .and_then(|rest| rest.strip_suffix(')'))
        else {
            return Ok(None);
        };
        let number_end = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, unit) = body.split_at(number_end);
        if body.chars().any(char::is_whitespace) {
            return Err(invalid(
                item,
                "spaces are not allowed; write e.g. (500ms) or (1.5s)",
            ));
        }
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (number, None),
        };
        if whole.is_empty() || fraction.is_some_and(|f| f.is_empty() || f.contains('.')) {
            return Err(invalid(
                item,
                "expected a number followed by ms or s, e.g. (500ms) or (1.5s)",
            ));
        }
        let scale = match unit {
            "ms" => 1,
            "s" => 1000,
            "" => return Err(invalid(item, "missing unit; use ms or s")),
            other if matches!(other.to_ascii_lowercase().as_str(), "ms" | "s") => {
                return Err(invalid(item, "units are lowercase: use ms or s"));
            }
            other => {
                return Err(invalid(
                    item,
                    &format!("unknown unit '{other}'; use ms or s"),
                ));
            }
        };
        let out_of_range = || invalid(item, "silence must be between 50ms and 10s");
        // More than 6 integer digits is out of range whatever the unit; this also keeps
        // the arithmetic below far from overflow.
        let whole_value: u64 = if whole.trim_start_matches('0').len() > 6 {
            return Err(out_of_range());
        } else {
            whole.parse().map_err(|_| out_of_range())?
        };
        let mut ms = whole_value * scale;
        if scale == 1000 {
            // Exact decimal: the first three fraction digits are whole milliseconds.
            let digits: String = fraction
                .unwrap_or("")
                .chars()
                .chain(std::iter::repeat('0'))
                .take(3)
                .collect();
            ms += digits.parse::<u64>().map_err(|_| out_of_range())?;
        }
        if !(u64::from(MIN_SILENCE_MS)..=u64::from(MAX_SILENCE_MS)).contains(&ms) {
            return Err(out_of_range());
        }
        Ok(Some(Self {
            duration_ms: ms as u32,
            notation: item.to_owned(),
        }))
    }
}

/// One item of a concat file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A silence token.
    Silence(SilenceToken),
    /// Anything else: a file name for the caller to resolve.
    File(String),
}

/// Parses a `/concat` `files` list, enforcing the original's list rules: at least one
/// audio file, and at least two when there is no silence token.
pub fn parse_entries<S: AsRef<str>>(items: &[S]) -> Result<Vec<Entry>, AudioError> {
    let entries = items
        .iter()
        .map(|item| {
            let item = item.as_ref();
            Ok(match SilenceToken::parse_attempt(item)? {
                Some(token) => Entry::Silence(token),
                None => Entry::File(item.to_owned()),
            })
        })
        .collect::<Result<Vec<_>, AudioError>>()?;
    let files = entries
        .iter()
        .filter(|e| matches!(e, Entry::File(_)))
        .count();
    if files == 0 {
        return Err(AudioError::param(
            "files",
            "at least one audio file is required",
        ));
    }
    if files < 2 && files == entries.len() {
        return Err(AudioError::param(
            "files",
            "at least two audio files are required when no silence token is given",
        ));
    }
    Ok(entries)
}

fn invalid(token: &str, reason: &str) -> AudioError {
    AudioError::InvalidSilenceToken {
        token: token.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u32 {
        SilenceToken::parse(s).unwrap().duration_ms
    }

    #[test]
    fn valid_tokens() {
        assert_eq!(ms("(500ms)"), 500);
        assert_eq!(ms("(1.5s)"), 1500);
        assert_eq!(ms("(50ms)"), 50);
        assert_eq!(ms("(10s)"), 10_000);
        assert_eq!(ms("(10000ms)"), 10_000);
        assert_eq!(ms("(0.05s)"), 50);
        assert_eq!(
            ms("(1.001s)"),
            1001,
            "exact decimal, unlike int(1.001*1000)"
        );
        assert_eq!(ms("(1.0009s)"), 1000, "sub-millisecond digits truncate");
        assert_eq!(ms("(99.9ms)"), 99);
        assert_eq!(ms("(007s)"), 7000);
        assert_eq!(SilenceToken::parse("(2s)").unwrap().notation, "(2s)");
    }

    #[test]
    fn malformed_tokens_are_typed_errors_naming_the_token() {
        for (item, reason) in [
            ("(1 s)", "spaces"),
            ("(abc)", "expected a number"),
            ("(1S)", "lowercase"),
            ("(1MS)", "lowercase"),
            ("(20s)", "between 50ms and 10s"),
            ("(10ms)", "between 50ms and 10s"),
            ("(49ms)", "between 50ms and 10s"),
            ("(10.001s)", "between 50ms and 10s"),
            ("(1.s)", "expected a number"),
            ("(.5s)", "expected a number"),
            ("(1.2.3s)", "expected a number"),
            ("(-1s)", "expected a number"),
            ("(500)", "missing unit"),
            ("(5min)", "unknown unit"),
            ("()", "expected a number"),
            ("(99999999999999999999s)", "between 50ms and 10s"),
        ] {
            match SilenceToken::parse_attempt(item) {
                Err(AudioError::InvalidSilenceToken { token, reason: why }) => {
                    assert_eq!(token, item);
                    assert!(why.contains(reason), "{item}: {why}");
                }
                other => panic!("{item}: {other:?}"),
            }
        }
    }

    #[test]
    fn anything_else_is_a_file_name() {
        for item in ["take1.wav", "(1s", "1s)", " (1s)", "dir/(1s).wav", ""] {
            assert_eq!(SilenceToken::parse_attempt(item).unwrap(), None, "{item}");
        }
        assert!(SilenceToken::parse("take1.wav").is_err());
    }

    #[test]
    fn list_rules() {
        let entries = parse_entries(&["a.wav", "(1s)", "b.wav"]).unwrap();
        assert_eq!(
            entries[1],
            Entry::Silence(SilenceToken {
                duration_ms: 1000,
                notation: "(1s)".into()
            })
        );
        assert_eq!(entries[2], Entry::File("b.wav".into()));
        assert!(
            parse_entries(&["a.wav", "(1s)"]).is_ok(),
            "one file is enough with a silence"
        );
        assert!(
            parse_entries(&["a.wav"]).is_err(),
            "one file alone is not a concatenation"
        );
        assert!(parse_entries(&["(1s)", "(2s)"]).is_err(), "no audio");
        assert!(matches!(
            parse_entries(&["a.wav", "(1S)"]),
            Err(AudioError::InvalidSilenceToken { .. })
        ));
        assert!(parse_entries::<&str>(&[]).is_err());
    }
}
