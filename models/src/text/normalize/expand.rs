//! The word pass: walks the words of the text once, lets the rules that need neighbours
//! (dates over several words, "7 a.m.", "10 kg", "in 1999", titles) look ahead or behind
//! by a word or two, and reads every other word on its own.

use super::abbrev::{expand_abbreviation, trail_after_dotted};
use super::dates_times::{
    day_month_words, is_full_month_name, meridiem, month_day_words, month_number, time_word,
    valid_day,
};
use super::money_units::{
    currency, is_prefix_currency, magnitude, money_words, unit_for, unit_name,
};
use super::numbers::{
    Number, cardinal, digit_words, fraction_words, is_year_like, scan_number, year_words,
};
use super::tokens::{Token, tokenize};
use super::web::{email_words, url_words};
use super::words::read_word;

/// Words after which a four-digit number from 1100 to 2099 is a year ("in 1999").
const YEAR_CUES: &[&str] = &[
    "in",
    "since",
    "by",
    "from",
    "until",
    "till",
    "during",
    "of",
    "circa",
    "year",
    "before",
    "after",
    "early",
    "late",
    "mid",
    "around",
    "between",
    "copyright",
    "©",
];

/// Words that continue a span of years ("from 1990 to 1995", "1999 and 2000").
const YEAR_LINKS: &[&str] = &["to", "and", "or", "until", "till", "through"];

/// Words after a number that make it a year ("1066 AD").
const ERAS: &[&str] = &["AD", "BC", "BCE", "CE", "A.D", "B.C"];

/// What a rule made of one or more words.
struct Expansion<'a> {
    spoken: String,
    /// How many words it used (at least one).
    used: usize,
    /// The punctuation after the last word used.
    trail: &'a str,
}

/// Rewrites every word of `text` into what should be said, keeping whitespace and
/// punctuation as written.
pub(super) fn expand(text: &str) -> String {
    let (tokens, tail) = tokenize(text);
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut i = 0;
    while i < tokens.len() {
        let first = tokens[i];
        let expansion = expand_at(&tokens, i);
        out.push_str(first.space);
        out.push_str(first.lead);
        out.push_str(&expansion.spoken);
        out.push_str(expansion.trail);
        i += expansion.used.max(1);
    }
    out.push_str(tail);
    out
}

fn expand_at<'a>(tokens: &[Token<'a>], i: usize) -> Expansion<'a> {
    let token = tokens[i];
    let single = |spoken: String| Expansion {
        spoken,
        used: 1,
        trail: token.trail,
    };
    if let Some(found) = date_phrase(tokens, i)
        .or_else(|| number_and_next(tokens, i))
        .or_else(|| context_year(tokens, i))
    {
        return found;
    }
    if let Some((spoken, trail)) = expand_abbreviation(tokens, i) {
        return Expansion {
            spoken,
            used: 1,
            trail,
        };
    }
    single(read_single(token.core).unwrap_or_else(|| token.core.to_owned()))
}

/// One word on its own: symbols, fractions, addresses, and anything with digits.
fn read_single(core: &str) -> Option<String> {
    match core {
        "&" => return Some("and".to_owned()),
        "" => return None,
        _ => {}
    }
    if let Some(number) = core.strip_prefix('#')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        return read_word(number).map(|n| format!("number {n}"));
    }
    if let Some(spoken) = vulgar_fraction(core) {
        return Some(spoken);
    }
    if core.contains('@') {
        if let Some(spoken) = email_words(core) {
            return Some(spoken);
        }
    } else if core.contains('.')
        && let Some(spoken) = url_words(core)
    {
        return Some(spoken);
    }
    read_word(core)
}

/// "½", "3¼": the single-character fractions, alone or after a whole number.
fn vulgar_fraction(core: &str) -> Option<String> {
    let last = core.chars().last()?;
    let (n, d) = match last {
        '½' => (1, 2),
        '⅓' => (1, 3),
        '⅔' => (2, 3),
        '¼' => (1, 4),
        '¾' => (3, 4),
        '⅛' => (1, 8),
        _ => return None,
    };
    let whole = &core[..core.len() - last.len_utf8()];
    let fraction = fraction_words(n, d);
    if whole.is_empty() {
        return Some(fraction);
    }
    let (number, rest) = scan_number(whole)?;
    rest.is_empty()
        .then(|| format!("{} and {fraction}", number.words()))
}

/// A day of the month: "5" or "5th".
fn day_value(core: &str) -> Option<u64> {
    let digits = core.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = core[digits..].to_ascii_lowercase();
    let ordinal_ok = matches!(suffix.as_str(), "" | "st" | "nd" | "rd" | "th");
    if !(1..=2).contains(&digits) || !ordinal_ok {
        return None;
    }
    core[..digits].parse().ok()
}

/// A year inside a date: four digits, 1000 to 2999.
fn date_year(core: &str) -> Option<u64> {
    let year: u64 = (core.len() == 4 && core.bytes().all(|b| b.is_ascii_digit()))
        .then(|| core.parse().ok())
        .flatten()?;
    (1000..=2999).contains(&year).then_some(year)
}

/// A month word that may be followed by more of the date: no punctuation after a full
/// name, an optional dot after an abbreviation.
fn month_word(token: &Token<'_>) -> Option<usize> {
    let month = month_number(token.core)?;
    let ok = token.trail.is_empty() || (token.trail == "." && !is_full_month_name(token.core));
    ok.then_some(month)
}

/// "March 5th, 2024", "March 5", "5 March 2024", "5 March", "March 2024".
fn date_phrase<'a>(tokens: &[Token<'a>], i: usize) -> Option<Expansion<'a>> {
    let token = tokens[i];
    let next = tokens.get(i + 1).filter(|t| t.lead.is_empty())?;
    let after = tokens.get(i + 2).filter(|t| t.lead.is_empty());
    if let Some(month) = month_word(&token) {
        if let Some(day) = day_value(next.core).filter(|d| valid_day(month, *d)) {
            let comma = next.trail == ",";
            if let Some(year_token) = after.filter(|_| next.trail.is_empty() || comma)
                && let Some(year) = date_year(year_token.core)
            {
                return Some(Expansion {
                    spoken: month_day_words(month, day, Some(year), comma),
                    used: 3,
                    trail: year_token.trail,
                });
            }
            return Some(Expansion {
                spoken: month_day_words(month, day, None, false),
                used: 2,
                trail: next.trail,
            });
        }
        if is_full_month_name(token.core)
            && let Some(year) = date_year(next.core)
        {
            return Some(Expansion {
                spoken: format!("{} {}", token.core, year_words(year)),
                used: 2,
                trail: next.trail,
            });
        }
        return None;
    }
    let day = day_value(token.core).filter(|_| token.trail.is_empty())?;
    let month = month_number(next.core).filter(|m| valid_day(*m, day))?;
    let month_trail_ok =
        next.trail.is_empty() || (next.trail == "." && !is_full_month_name(next.core));
    if month_trail_ok
        && let Some(year_token) = after
        && let Some(year) = date_year(year_token.core)
    {
        return Some(Expansion {
            spoken: day_month_words(day, month, Some(year)),
            used: 3,
            trail: year_token.trail,
        });
    }
    let trail = if is_full_month_name(next.core) {
        next.trail
    } else {
        next.trail.strip_prefix('.').unwrap_or(next.trail)
    };
    Some(Expansion {
        spoken: day_month_words(day, month, None),
        used: 2,
        trail,
    })
}

/// A number whose reading depends on the next word: "7 a.m.", "3:30 pm", "10 kg", "45 %",
/// "20 €", "$3.5 million", "1 1/2", "(555) 123-4567".
fn number_and_next<'a>(tokens: &[Token<'a>], i: usize) -> Option<Expansion<'a>> {
    let token = tokens[i];
    let next = tokens.get(i + 1).filter(|t| t.lead.is_empty())?;
    let pair = |spoken: String| Expansion {
        spoken,
        used: 2,
        trail: next.trail,
    };
    if token.lead == "(" && token.trail == ")" && token.core.len() == 3 {
        let phone = next.core.len() == 8 && next.core.as_bytes().get(3) == Some(&b'-');
        if phone
            && let Some(rest) =
                read_word(next.core).filter(|_| token.core.bytes().all(|b| b.is_ascii_digit()))
        {
            return Some(Expansion {
                spoken: format!("{}) {rest}", digit_words(token.core)),
                used: 2,
                trail: next.trail,
            });
        }
    }
    if !token.trail.is_empty()
        || !token
            .core
            .starts_with(|c: char| c.is_ascii_digit() || is_prefix_currency(c))
    {
        return None;
    }
    if let Some(m) = meridiem(next.core)
        && let Some(spoken) = time_word(&format!(
            "{}{}",
            token.core,
            if m == "ay em" { "am" } else { "pm" }
        ))
    {
        return Some(Expansion {
            spoken,
            used: 2,
            trail: trail_after_dotted(tokens, i + 1),
        });
    }
    if let Some(symbol) = token.core.chars().next().filter(|c| is_prefix_currency(*c)) {
        let (amount, rest) = scan_number(&token.core[symbol.len_utf8()..])?;
        let mag = magnitude(next.core).filter(|m| *m == next.core)?;
        let cur = currency(symbol)?;
        return (rest.is_empty() && !amount.negative)
            .then(|| pair(money_words(&amount, Some(mag), cur)));
    }
    let (number, rest) = scan_number(token.core)?;
    if !rest.is_empty() {
        return None;
    }
    let words = || number.words();
    if next.core == "%" {
        return Some(pair(format!("{} percent", words())));
    }
    if let Some(cur) = next
        .core
        .chars()
        .next()
        .and_then(currency)
        .filter(|_| next.core.chars().count() == 1)
    {
        return Some(pair(money_words(&number, None, cur)));
    }
    if let Some(unit) = unit_for(next.core, true) {
        return Some(pair(format!(
            "{} {}",
            words(),
            unit_name(unit, number.is_one())
        )));
    }
    mixed_fraction(&number, next.core).map(pair)
}

/// "1 1/2" is "one and one half" (a proper fraction after a whole number).
fn mixed_fraction(whole: &Number, next: &str) -> Option<String> {
    let whole_value = whole.plain_int()?;
    let (n, d) = next.split_once('/')?;
    let n: u64 = n.parse().ok()?;
    let d: u64 = d.parse().ok()?;
    (n > 0 && n < d && d <= 100)
        .then(|| format!("{} and {}", cardinal(whole_value), fraction_words(n, d)))
}

/// A four-digit number read as a year because of the word before ("in 1999", "since
/// 2010"), the word after ("1492 AD"), or its own parentheses, as in citations ("Smith
/// (1999) showed").
fn context_year<'a>(tokens: &[Token<'a>], i: usize) -> Option<Expansion<'a>> {
    let token = tokens[i];
    let (number, rest) = scan_number(token.core)?;
    let year = is_year_like(&number).filter(|_| rest.is_empty())?;
    let cue_before = i > 0 && {
        let prev = tokens[i - 1];
        prev.trail.is_empty()
            && token.lead.is_empty()
            && (YEAR_CUES.iter().any(|c| c.eq_ignore_ascii_case(prev.core))
                || (YEAR_LINKS.contains(&prev.core) && i > 1 && year_at(tokens, i - 2)))
    };
    let era_after =
        token.trail.is_empty() && tokens.get(i + 1).is_some_and(|t| ERAS.contains(&t.core));
    let cited = token.lead == "(" && token.trail.starts_with(')');
    (cue_before || era_after || cited).then(|| Expansion {
        spoken: year_words(year),
        used: 1,
        trail: token.trail,
    })
}

/// Whether the word at `i` is a bare four-digit year-like number.
fn year_at(tokens: &[Token<'_>], i: usize) -> bool {
    tokens[i].trail.is_empty()
        && scan_number(tokens[i].core)
            .is_some_and(|(n, rest)| rest.is_empty() && is_year_like(&n).is_some())
}
