//! Splits text into clauses the way espeak-ng's own reader does, so that each clause can be
//! phonemised on its own line and its punctuation re-appended.
//!
//! Piper's Python package gets each clause's terminator from a patched espeak-ng
//! (`espeak_TextToPhonemesWithTerminator`); Debian's espeak-ng program prints clauses but
//! drops their punctuation. These rules reproduce the reader's decisions (checked against
//! piper-tts 1.8's bridge): a clause ends at `. , ! ? ; :`, an ellipsis or a spaced dash when
//! it is followed by whitespace (closing quotes and brackets may come between), the clause
//! already has a letter or digit, and, for a single dot, the next word does not start in
//! lowercase; a blank line ends a sentence.

/// One clause: its text (punctuation included, newlines made spaces) and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    /// The clause's text as espeak-ng should read it.
    pub text: String,
    /// The punctuation Piper re-appends: one of `. , ! ? ; :` or empty.
    pub terminator: &'static str,
    /// Whether the sentence ends with this clause.
    pub end_of_sentence: bool,
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '}' | '»')
}

/// The clauses of `text`, in order. Blank clauses are left out; text after the last
/// terminator is a final clause without one.
pub(crate) fn split_clauses(text: &str) -> Vec<Clause> {
    let chars: Vec<char> = text.chars().collect();
    let mut clauses = Vec::new();
    let mut start = 0;
    let mut any_alnum = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() {
            any_alnum = true;
            i += 1;
            continue;
        }
        if c == '\n' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() && chars[j] != '\n' {
                j += 1;
            }
            if chars.get(j) == Some(&'\n') {
                push(&mut clauses, &chars[start..i], "", true);
                start = j + 1;
                any_alnum = false;
                i = j + 1;
                continue;
            }
        }
        let Some((end, terminator, end_of_sentence)) = terminator_at(&chars, i) else {
            i += 1;
            continue;
        };
        if any_alnum {
            push(
                &mut clauses,
                &chars[start..end],
                terminator,
                end_of_sentence,
            );
            start = end;
            any_alnum = false;
        }
        i = end;
    }
    push(&mut clauses, &chars[start..], "", true);
    clauses
}

/// If a clause ends at `i`: the index just past its punctuation (and closers), the
/// terminator and whether it ends the sentence.
fn terminator_at(chars: &[char], i: usize) -> Option<(usize, &'static str, bool)> {
    let c = chars[i];
    let mut end = i + 1;
    let (terminator, end_of_sentence) = match c {
        '.' | '…' => {
            while end < chars.len() && matches!(chars[end], '.' | '…') {
                end += 1;
            }
            let dots: usize = chars[i..end]
                .iter()
                .map(|&d| if d == '…' { 3 } else { 1 })
                .sum();
            if dots >= 3 { ("", false) } else { (".", true) }
        }
        '!' | '?' => {
            while end < chars.len() && matches!(chars[end], '!' | '?') {
                end += 1;
            }
            (if c == '!' { "!" } else { "?" }, true)
        }
        ',' => (",", false),
        ';' => (";", false),
        ':' => (":", false),
        '–' | '—' => (";", false),
        _ => return None,
    };
    while end < chars.len() && is_closer(chars[end]) {
        end += 1;
    }
    if !chars.get(end).is_none_or(|n| n.is_whitespace()) {
        return None;
    }
    if terminator == "." {
        // espeak-ng reads a dot before a lowercase word as an abbreviation.
        let next = chars[end..].iter().find(|n| !n.is_whitespace());
        if next.is_some_and(|n| n.is_lowercase()) {
            return None;
        }
    }
    Some((end, terminator, end_of_sentence))
}

fn push(clauses: &mut Vec<Clause>, chars: &[char], terminator: &'static str, end: bool) {
    let text: String = chars
        .iter()
        .map(|&c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    clauses.push(Clause {
        text: text.to_owned(),
        terminator,
        end_of_sentence: end,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Vec<(String, &'static str, bool)> {
        split_clauses(text)
            .into_iter()
            .map(|c| (c.text, c.terminator, c.end_of_sentence))
            .collect()
    }

    fn c(text: &str, terminator: &'static str, end: bool) -> (String, &'static str, bool) {
        (text.to_owned(), terminator, end)
    }

    // Expected values are what piper-tts 1.8's espeak bridge returned for the same text.
    #[test]
    fn matches_the_espeak_reader() {
        assert_eq!(shape("hello. world."), [c("hello. world.", ".", true)]);
        assert_eq!(
            shape("Hello. World."),
            [c("Hello.", ".", true), c("World.", ".", true)]
        );
        assert_eq!(
            shape("It costs 3.5 dollars, ok?"),
            [c("It costs 3.5 dollars,", ",", false), c("ok?", "?", true)]
        );
        assert_eq!(
            shape("Wait... what?"),
            [c("Wait...", "", false), c("what?", "?", true)]
        );
        assert_eq!(
            shape("Wait… what?"),
            [c("Wait…", "", false), c("what?", "?", true)]
        );
        assert_eq!(shape("hmm.. ok"), [c("hmm.. ok", "", true)]);
        assert_eq!(
            shape("hmm.. Ok"),
            [c("hmm..", ".", true), c("Ok", "", true)]
        );
        assert_eq!(
            shape("He said \"hi.\" Then left."),
            [c("He said \"hi.\"", ".", true), c("Then left.", ".", true)]
        );
        assert_eq!(
            shape("a; b: c, d! e? f."),
            [
                c("a;", ";", false),
                c("b:", ":", false),
                c("c,", ",", false),
                c("d!", "!", true),
                c("e?", "?", true),
                c("f.", ".", true)
            ]
        );
        assert_eq!(
            shape("Really?! Yes"),
            [c("Really?!", "?", true), c("Yes", "", true)]
        );
        assert_eq!(
            shape("x - y — z"),
            [c("x - y —", ";", false), c("z", "", true)]
        );
        assert_eq!(
            shape("a—b 10:30 Hi.Bye."),
            [c("a—b 10:30 Hi.Bye.", ".", true)]
        );
        assert_eq!(
            shape("Is it? yes"),
            [c("Is it?", "?", true), c("yes", "", true)]
        );
        assert_eq!(
            shape("word ; spaced , out ."),
            [
                c("word ;", ";", false),
                c("spaced ,", ",", false),
                c("out .", ".", true)
            ]
        );
    }

    #[test]
    fn blank_lines_end_sentences_and_single_newlines_do_not() {
        assert_eq!(shape("Hello\nworld"), [c("Hello world", "", true)]);
        assert_eq!(
            shape("Hello\n \nworld"),
            [c("Hello", "", true), c("world", "", true)]
        );
    }

    #[test]
    fn punctuation_before_any_word_does_not_end_a_clause() {
        assert_eq!(shape(", . Hello."), [c(", . Hello.", ".", true)]);
        assert!(shape("  ").is_empty());
    }
}
