//! Reads one word that holds digits or a currency sign: dates, times, money, percentages,
//! ordinals, decades, ranges, fractions, dimensions, numbers with units, phone numbers, and
//! a fallback that spells the digit runs inside any other word ("COVID-19", "mp3").

use super::dates_times::{numeric_date, time_word};
use super::money_units::{
    Currency, currency, is_prefix_currency, magnitude, money_words, unit_for, unit_name,
};
use super::numbers::{
    Number, cardinal, digit_words, fraction_words, is_year_like, ordinal, plural_of_words,
    scan_number, year_words,
};
use super::web::ip_words;

/// The spoken form of a word with digits or a leading currency sign; `None` when the word
/// has neither (it is left as written).
pub(super) fn read_word(word: &str) -> Option<String> {
    let has_digit = word.bytes().any(|b| b.is_ascii_digit());
    if !has_digit {
        return None;
    }
    if let Some(spoken) = numeric_date(word)
        .or_else(|| time_word(word))
        .or_else(|| ip_words(word))
        .or_else(|| phone_words(word))
        .or_else(|| money_word(word))
        .or_else(|| number_word(word))
    {
        return Some(spoken);
    }
    Some(spell_numbers(word))
}

/// Money with the symbol first: "$3.50", "-$5", "$3.5M", "$10-20", "$10-$20", "£1.99".
fn money_word(word: &str) -> Option<String> {
    let (negative, body) = match word.strip_prefix(['-', '−']) {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let symbol = body.chars().next().filter(|c| is_prefix_currency(*c))?;
    let cur = currency(symbol)?;
    let (mut first, rest) = scan_number(&body[symbol.len_utf8()..])?;
    if first.negative {
        return None;
    }
    first.negative = negative;
    let (first_mag, rest) = split_magnitude(rest);
    if rest.is_empty() {
        return Some(money_words(&first, first_mag, cur));
    }
    let second = rest.strip_prefix(['-', '–'])?;
    let second = second.strip_prefix(symbol).unwrap_or(second);
    let (last, rest) = scan_number(second)?;
    let (last_mag, rest) = split_magnitude(rest);
    if !rest.is_empty() || last.negative {
        return None;
    }
    Some(money_range(&first, first_mag, &last, last_mag, cur))
}

/// "$10-20" is "ten to twenty dollars"; "$1.50-2" keeps both amounts whole.
fn money_range(
    first: &Number,
    first_mag: Option<&str>,
    last: &Number,
    last_mag: Option<&str>,
    cur: &Currency,
) -> String {
    let last_words = money_words(last, last_mag, cur);
    if first.frac.is_none() && (first_mag.is_none() || first_mag == last_mag) {
        let first_words = match first_mag {
            Some(mag) if last_mag.is_none() => format!("{} {mag}", first.words()),
            _ => first.words(),
        };
        return format!("{first_words} to {last_words}");
    }
    format!("{} to {last_words}", money_words(first, first_mag, cur))
}

/// A magnitude suffix written right after an amount ("3.5M"), and what follows it.
fn split_magnitude(rest: &str) -> (Option<&'static str>, &str) {
    let letters = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    match magnitude(&rest[..letters]) {
        Some(mag) if letters > 0 => (Some(mag), &rest[letters..]),
        _ => (None, rest),
    }
}

/// A word that starts with a number: what follows the number decides the reading.
fn number_word(word: &str) -> Option<String> {
    let (number, rest) = scan_number(word)?;
    if rest.is_empty() {
        return Some(number.words());
    }
    if rest == "%" {
        return Some(format!("{} percent", number.words()));
    }
    if let Some(spoken) = ordinal_or_decade(&number, rest) {
        return Some(spoken);
    }
    if let Some(cur) = rest.chars().next().and_then(currency)
        && rest.chars().count() == 1
    {
        return Some(money_words(&number, None, cur));
    }
    if let Some(unit) = unit_for(rest, false) {
        return Some(format!(
            "{} {}",
            number.words(),
            unit_name(unit, number.is_one())
        ));
    }
    if let Some(second) = rest.strip_prefix(['-', '–']) {
        return range_word(&number, second);
    }
    if let Some(denominator) = rest.strip_prefix('/') {
        return fraction_word(&number, denominator);
    }
    if let Some(other) = rest.strip_prefix(['x', '×']) {
        let (other, tail) = scan_number(other)?;
        return tail
            .is_empty()
            .then(|| format!("{} by {}", number.words(), other.words()));
    }
    None
}

/// "1st", "22nd", "103rd"; decades "1990s", "80s" (also written "1990's").
fn ordinal_or_decade(number: &Number, rest: &str) -> Option<String> {
    let lower = rest.to_ascii_lowercase();
    let value = number.plain_int().or_else(|| {
        // "1,000th" has separators but is still an ordinal.
        (!number.negative && number.frac.is_none())
            .then(|| number.int_value())
            .flatten()
    });
    if matches!(lower.as_str(), "st" | "nd" | "rd" | "th") {
        return value.map(ordinal);
    }
    if !matches!(lower.as_str(), "s" | "'s" | "’s") || number.grouped {
        return None;
    }
    let value = number.plain_int()?;
    if let Some(year) = is_year_like(number).filter(|y| y % 10 == 0) {
        return Some(plural_of_words(&year_words(year)));
    }
    (number.int.len() == 2 && value % 10 == 0).then(|| plural_of_words(&cardinal(value)))
}

/// "10-20" is "ten to twenty", with a percent sign or unit after the second number
/// ("10-20%", "5-10km"); two years are read as years ("1990-1995").
fn range_word(first: &Number, second: &str) -> Option<String> {
    if !second.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (last, rest) = scan_number(second)?;
    if let (Some(a), Some(b)) = (is_year_like(first), is_year_like(&last))
        && rest.is_empty()
    {
        return Some(format!("{} to {}", year_words(a), year_words(b)));
    }
    let head = format!("{} to {}", first.words(), last.words());
    if rest.is_empty() {
        return Some(head);
    }
    if rest == "%" {
        return Some(format!("{head} percent"));
    }
    let unit = unit_for(rest, false)?;
    Some(format!("{head} {}", unit_name(unit, false)))
}

/// "1/2" is "one half", "3/4" "three quarters"; "24/7" is said "twenty-four seven".
fn fraction_word(number: &Number, denominator: &str) -> Option<String> {
    let numerator = number.plain_int()?;
    let (den, rest) = scan_number(denominator)?;
    let den = den.plain_int()?;
    if !rest.is_empty() || den == 0 {
        return None;
    }
    if (numerator, den) == (24, 7) {
        return Some("twenty-four seven".to_owned());
    }
    Some(fraction_words(numerator, den))
}

/// Phone-like digit groups, read digit by digit with a pause between groups:
/// "555-1234", "555-123-4567", "+1-555-123-4567", "555.123.4567".
fn phone_words(word: &str) -> Option<String> {
    let (plus, body) = match word.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let separator = if body.contains('-') { '-' } else { '.' };
    let groups: Vec<&str> = body.split(separator).collect();
    if groups
        .iter()
        .any(|g| g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let total: usize = lengths.iter().sum();
    let phone = match lengths.as_slice() {
        [3, 4] => separator == '-',
        [_, _, ..] if plus => total >= 7,
        // "555-123-4567": groups of two to four digits, the first of three or more and the
        // last of four, so that "2024-13-45" and "1-2-3" are not phone numbers.
        [first, .., last] if lengths.len() >= 3 => {
            total >= 7 && *first >= 3 && *last == 4 && lengths.iter().all(|l| (2..=4).contains(l))
        }
        _ => false,
    };
    if !phone {
        return None;
    }
    let spoken: Vec<String> = groups.iter().map(|g| digit_words(g)).collect();
    let prefix = if plus { "plus " } else { "" };
    Some(format!("{prefix}{}", spoken.join(", ")))
}

/// Any other word with digits: each digit run is read as a number (with decimals), set
/// apart from neighbouring letters by spaces; slashes are said. "COVID-19" is
/// "COVID-nineteen", "mp3" "mp three", "v1.2.3" "v one point two point three".
pub(super) fn spell_numbers(word: &str) -> String {
    let mut out = String::with_capacity(word.len() * 2);
    let mut rest = word;
    let mut after_number = false;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            let (number, tail) = match scan_number(rest) {
                Some(found) => found,
                None => break,
            };
            if out.ends_with(char::is_alphanumeric) {
                out.push(' ');
            }
            out.push_str(&number.words());
            rest = tail;
            after_number = true;
            if rest.starts_with(char::is_alphabetic) {
                out.push(' ');
            }
            continue;
        }
        if c == '.' && after_number {
            let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                out.push_str(" point ");
                out.push_str(&digit_words(&rest[1..1 + digits]));
                rest = &rest[1 + digits..];
                continue;
            }
        }
        after_number = false;
        if c == '/' {
            out.push_str(" slash ");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(rest);
    out
}
