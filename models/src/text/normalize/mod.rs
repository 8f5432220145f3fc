//! Text normalisation for speech: turns written English into the words a voice should say
//! ("$3.5M" → "three point five million dollars", "Dr. Smith" → "Doctor Smith"), and strips
//! chat Markdown and emoji. Applied before both engines: Piper's espeak-ng reads some of this
//! itself but badly in places, and Chatterbox reads the raw text.
//!
//! [`normalize`] is pure, never panics, and runs in linear time: hand-written scanners over
//! the text and its words, with at most two words of look-ahead and one of look-behind.
//!
//! Conventions (American English):
//! - cardinals without "and" ("one hundred twenty-three"), "minus" for negatives, decimals
//!   digit by digit ("three point one four"); integers with a leading zero or more than 15
//!   digits are read digit by digit;
//! - years as pairs ("nineteen ninety-nine", "twenty ten", "nineteen oh five"), except for
//!   2000–2009 ("two thousand five"). A bare four-digit number from 1100 to
//!   2099 is a year only in a year context: after "in", "since", "by", "from", "until",
//!   "during", "of", "year"… (and "to"/"and" after another year), before "AD"/"BC", alone in
//!   parentheses ("(1999)"), in a date, in a year range ("1990-1995") or as a decade
//!   ("1990s"); otherwise it is a cardinal ("1999 people");
//! - dates month first: "2024-03-05", "03/05/2024" (US month/day) and "March 5th, 2024" are
//!   "March fifth, twenty twenty-four"; day-first "5 March 2024" is "the fifth of March
//!   twenty twenty-four";
//! - times: "3:30pm" is "three thirty pee em", "15:45" "fifteen forty-five", "15:00"
//!   "fifteen hundred", "3:00" "three o'clock", "7 a.m." "seven ay em" (am/pm spelled by
//!   sound so that lowercasing cannot turn them into the word "am");
//! - money: "three dollars and fifty cents", "one dollar", "fifty cents", "three point five
//!   million dollars"; units with American spelling ("kilometers"), singular only for 1.

mod abbrev;
mod dates_times;
mod expand;
mod markup;
mod money_units;
mod numbers;
mod tokens;
mod web;
mod words;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_generated;

/// Which passes [`normalize`] runs; the default runs them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Normalise at all. Off, [`normalize`] returns the text unchanged, for callers who
    /// send text that is already written the way it should be said.
    pub enabled: bool,
    /// Remove Markdown (headings, emphasis, code backticks, links, images, lists, quotes,
    /// tables), keeping the words.
    pub strip_markdown: bool,
    /// Remove emoji and other pictographs.
    pub strip_emoji: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            strip_markdown: true,
            strip_emoji: true,
        }
    }
}

/// Rewrites `text` into what should be spoken: Markdown and emoji are stripped (as the
/// options say), then numbers, dates, times, money, percentages, units, abbreviations,
/// web and e-mail addresses, ranges, fractions and phone numbers are written out as words.
/// Spaces and tabs collapse to one space and lines are trimmed; line breaks stay (a blank
/// line still separates paragraphs). Words that no rule knows are kept as written.
pub fn normalize(text: &str, options: &NormalizeOptions) -> String {
    if !options.enabled {
        return text.to_owned();
    }
    let mut text = text.to_owned();
    // Emoji first: one used as a bullet ("✅ - done") would otherwise hide the Markdown
    // after it, and a second pass would strip what the first one kept.
    if options.strip_emoji {
        text = markup::strip_emoji(&text);
    }
    if options.strip_markdown {
        text = markup::strip_markdown(&text);
    }
    tidy_whitespace(&expand::expand(&text))
}

/// Collapses runs of spaces and tabs, trims every line, keeps at most one blank line
/// between paragraphs, and trims the ends.
fn tidy_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.split('\n') {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&words.join(" "));
    }
    out
}
