//! Common abbreviations: titles before names ("Dr. Smith"), street words ("Main St."),
//! and Latin and reference forms ("e.g.", "etc.", "vs.", "No. 5").

use super::tokens::Token;

/// How an abbreviation is recognised and read.
struct Abbreviation {
    /// As written, without its final dot; compared case-insensitively unless `title`.
    word: &'static str,
    /// What is said.
    spoken: &'static str,
    /// Whether it is only an abbreviation with its dot ("No." but not "No").
    needs_dot: bool,
    /// Whether it may end a sentence, so that its dot is kept at the end of one.
    ends_sentence: bool,
}

const fn abbr(
    word: &'static str,
    spoken: &'static str,
    needs_dot: bool,
    ends: bool,
) -> Abbreviation {
    Abbreviation {
        word,
        spoken,
        needs_dot,
        ends_sentence: ends,
    }
}

/// Compared case-insensitively; the first letter's case is kept ("E.g." is "For example").
const LOWER: &[Abbreviation] = &[
    abbr("e.g", "for example", true, false),
    abbr("i.e", "that is", true, false),
    abbr("etc", "et cetera", false, true),
    abbr("vs", "versus", false, false),
    abbr("approx", "approximately", false, false),
    abbr("a.k.a", "also known as", true, false),
    abbr("incl", "including", true, false),
    abbr("cf", "compare", true, false),
];

/// Compared exactly (capitalised), and only before a capitalised word or with their dot.
const TITLES: &[Abbreviation] = &[
    abbr("Mr", "Mister", false, false),
    abbr("Mrs", "Missus", false, false),
    abbr("Ms", "Miz", false, false),
    abbr("Prof", "Professor", true, false),
    abbr("Mt", "Mount", true, false),
    abbr("Jr", "Junior", true, true),
    abbr("Sr", "Senior", true, true),
    abbr("Ave", "Avenue", true, true),
    abbr("Rd", "Road", true, true),
    abbr("Blvd", "Boulevard", true, true),
];

/// The spoken abbreviation at `i` and the punctuation to keep after it, or `None`.
///
/// "St." is "Saint" before a capitalised word and "Street" otherwise; "Dr." is "Drive"
/// after a capitalised word when no capitalised word follows ("Elm Dr."), and "Doctor"
/// otherwise. "No." is "number" only before a number.
pub(super) fn expand_abbreviation<'a>(tokens: &[Token<'a>], i: usize) -> Option<(String, &'a str)> {
    let token = tokens[i];
    let dotted = token.trail.starts_with('.');
    let next = tokens.get(i + 1);
    let next_capitalised = next.is_some_and(|t| t.lead.is_empty() && t.capitalised());
    let sentence_end = next.is_none_or(Token::capitalised);
    let after_dot = if dotted {
        &token.trail[1..]
    } else {
        token.trail
    };
    // Keeps the dot where the abbreviation plausibly ends the sentence.
    let trail = |ends: bool| {
        if ends && dotted && sentence_end {
            token.trail
        } else {
            after_dot
        }
    };
    match token.core {
        "St" if dotted || next_capitalised => {
            let saint = next_capitalised;
            let spoken = if saint { "Saint" } else { "Street" };
            return Some((spoken.to_owned(), trail(!saint)));
        }
        "Dr" if dotted || next_capitalised => {
            let prev_capitalised =
                i > 0 && tokens[i - 1].capitalised() && tokens[i - 1].trail.is_empty();
            let drive = prev_capitalised && !next_capitalised;
            let spoken = if drive { "Drive" } else { "Doctor" };
            return Some((spoken.to_owned(), trail(drive)));
        }
        "No" | "no"
            if dotted && next.is_some_and(|t| t.core.starts_with(|c: char| c.is_ascii_digit())) =>
        {
            let spoken = if token.core == "No" {
                "Number"
            } else {
                "number"
            };
            return Some((spoken.to_owned(), after_dot));
        }
        _ => {}
    }
    if let Some(a) = TITLES.iter().find(|a| a.word == token.core)
        && (dotted || (!a.needs_dot && next_capitalised))
    {
        return Some((a.spoken.to_owned(), trail(a.ends_sentence)));
    }
    let a = LOWER
        .iter()
        .find(|a| a.word.eq_ignore_ascii_case(token.core))?;
    if a.needs_dot && !dotted {
        return None;
    }
    let spoken = if token.capitalised() {
        capitalise(a.spoken)
    } else {
        a.spoken.to_owned()
    };
    Some((spoken, trail(a.ends_sentence)))
}

/// The text with its first letter in uppercase.
pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The punctuation to keep after "a.m."-style words: their dot goes unless the sentence
/// ends there.
pub(super) fn trail_after_dotted<'a>(tokens: &[Token<'a>], i: usize) -> &'a str {
    let token = tokens[i];
    let sentence_end = tokens.get(i + 1).is_none_or(Token::capitalised);
    match token.trail.strip_prefix('.') {
        Some(rest) if !sentence_end => rest,
        _ => token.trail,
    }
}
