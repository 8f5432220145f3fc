//! Dates ("2024-03-05", "03/05/2024", month names) and clock times ("3:30pm", "15:45",
//! "7 a.m."), read the way they are said.

use super::numbers::{cardinal, ordinal, year_words};

/// Month names, in order.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Abbreviations that are read as a month only next to a day number.
const MONTH_ABBREVIATIONS: [(&str, usize); 12] = [
    ("Jan", 1),
    ("Feb", 2),
    ("Mar", 3),
    ("Apr", 4),
    ("Jun", 6),
    ("Jul", 7),
    ("Aug", 8),
    ("Sep", 9),
    ("Sept", 9),
    ("Oct", 10),
    ("Nov", 11),
    ("Dec", 12),
];

/// The month (1–12) a capitalised month name or abbreviation names. Lowercase words never
/// match, so the verb "may" and the word "march" stay words.
pub(super) fn month_number(word: &str) -> Option<usize> {
    if !word.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    if let Some(i) = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(word)) {
        return Some(i + 1);
    }
    MONTH_ABBREVIATIONS
        .iter()
        .find(|(abbr, _)| abbr.eq_ignore_ascii_case(word))
        .map(|(_, m)| *m)
}

/// Whether the word is a full month name rather than an abbreviation.
pub(super) fn is_full_month_name(word: &str) -> bool {
    MONTHS.iter().any(|m| m.eq_ignore_ascii_case(word))
}

/// The month's name; `month` must be 1–12 (anything else reads as January rather than
/// panicking).
pub(super) fn month_name(month: usize) -> &'static str {
    MONTHS
        .get(month.wrapping_sub(1))
        .copied()
        .unwrap_or(MONTHS[0])
}

/// Whether the day exists in the month (February allows the 29th).
pub(super) fn valid_day(month: usize, day: u64) -> bool {
    let max = match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return false,
    };
    (1..=max).contains(&day)
}

/// The American reading used for numeric and month-first dates: "March fifth, twenty
/// twenty-four" (`comma` chooses whether a comma separates the year).
pub(super) fn month_day_words(month: usize, day: u64, year: Option<u64>, comma: bool) -> String {
    let mut out = format!("{} {}", month_name(month), ordinal(day));
    if let Some(year) = year {
        out.push_str(if comma { ", " } else { " " });
        out.push_str(&year_words(year));
    }
    out
}

/// The day-first reading: "the fifth of March twenty twenty-four".
pub(super) fn day_month_words(day: u64, month: usize, year: Option<u64>) -> String {
    let mut out = format!("the {} of {}", ordinal(day), month_name(month));
    if let Some(year) = year {
        out.push(' ');
        out.push_str(&year_words(year));
    }
    out
}

/// A numeric date: ISO "2024-03-05" or "2024/03/05" (year, month, day) and US "03/05/2024"
/// or "3-5-2024" (month, day, year). Years need four digits; the day must exist.
pub(super) fn numeric_date(word: &str) -> Option<String> {
    let separator = if word.contains('-') { '-' } else { '/' };
    let parts: Vec<&str> = word.split(separator).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    if !parts
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let (year, month, day) = match (a.len(), b.len(), c.len()) {
        (4, 1..=2, 1..=2) => (*a, *b, *c),
        (1..=2, 1..=2, 4) => (*c, *a, *b),
        _ => return None,
    };
    let year: u64 = year.parse().ok()?;
    let month: usize = month.parse().ok()?;
    let day: u64 = day.parse().ok()?;
    if year < 1000 || !valid_day(month, day) {
        return None;
    }
    Some(month_day_words(month, day, Some(year), true))
}

/// The spoken form of "am"/"pm" in any of their spellings ("a.m", "PM"). Spelled out by
/// sound so that neither lowercasing nor a phonemizer turns them into the word "am".
pub(super) fn meridiem(word: &str) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    match lower.strip_suffix('.').unwrap_or(&lower) {
        "am" | "a.m" => Some("ay em"),
        "pm" | "p.m" => Some("pee em"),
        _ => None,
    }
}

/// A clock time written in one word: "3:30pm", "15:45", "12:05:30", "7am". A colon pair that
/// is not a valid time is a ratio ("16:9" is "sixteen to nine"). `None` when the word is
/// neither.
pub(super) fn time_word(word: &str) -> Option<String> {
    let split = word
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(word.len());
    let (clock, suffix) = word.split_at(split);
    let meridiem = if suffix.is_empty() {
        None
    } else {
        Some(meridiem(suffix)?)
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return ratio(&parts).filter(|_| meridiem.is_none());
    }
    let numbers: Vec<u64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    match (numbers.as_slice(), meridiem) {
        ([hour], Some(m)) if (1..=12).contains(hour) => Some(clock_words(*hour, 0, None, Some(m))),
        ([hour, minute], m) if valid_clock(*hour, parts[1], m.is_some()) => {
            Some(clock_words(*hour, *minute, None, m))
        }
        ([hour, minute, second], m)
            if valid_clock(*hour, parts[1], m.is_some()) && parts[2].len() == 2 && *second < 60 =>
        {
            Some(clock_words(*hour, *minute, Some(*second), m))
        }
        _ => ratio(&parts).filter(|_| meridiem.is_none()),
    }
}

/// Hours 0–23 (1–12 with am/pm) and two-digit minutes below 60.
fn valid_clock(hour: u64, minute: &str, twelve_hour: bool) -> bool {
    let hour_ok = if twelve_hour {
        (1..=12).contains(&hour)
    } else {
        hour <= 23
    };
    hour_ok && minute.len() == 2 && minute.parse::<u64>().is_ok_and(|m| m < 60)
}

/// "N:M" that is not a time, read as a ratio.
fn ratio(parts: &[&str]) -> Option<String> {
    let [a, b] = parts else {
        return None;
    };
    let valid = |p: &&str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    if !valid(a) || !valid(b) {
        return None;
    }
    let a: u64 = a.parse().ok()?;
    let b: u64 = b.parse().ok()?;
    Some(format!("{} to {}", cardinal(a), cardinal(b)))
}

/// A time of day. Minutes 01–09 take "oh" ("three oh five"); whole hours are "o'clock" on
/// the 12-hour clock, "hundred" on the 24-hour one ("fifteen hundred"), and bare before
/// am/pm ("seven ay em"). Seconds follow with "and".
pub(super) fn clock_words(
    hour: u64,
    minute: u64,
    second: Option<u64>,
    meridiem: Option<&str>,
) -> String {
    let mut out = cardinal(hour);
    match minute {
        0 if meridiem.is_some() => {}
        0 if (1..=12).contains(&hour) && second.is_none() => out.push_str(" o'clock"),
        0 => out.push_str(" hundred"),
        1..=9 => {
            out.push_str(" oh ");
            out.push_str(&cardinal(minute));
        }
        _ => {
            out.push(' ');
            out.push_str(&cardinal(minute));
        }
    }
    if let Some(second) = second {
        let unit = if second == 1 { "second" } else { "seconds" };
        out.push_str(&format!(" and {} {unit}", cardinal(second)));
    }
    if let Some(m) = meridiem {
        out.push(' ');
        out.push_str(m);
    }
    out
}
