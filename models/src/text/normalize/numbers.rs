//! Number words: cardinals, ordinals, decimals, years and digit-by-digit readings, plus the
//! scanner that reads a number (sign, thousands separators, decimals) off the front of a word.

/// Integers with more digits than this are read digit by digit: past the trillions nobody
/// says the number, and it is usually an identifier anyway.
pub(super) const MAX_CARDINAL_DIGITS: usize = 15;

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

const SCALES: [(u64, &str); 4] = [
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

/// A number as written: kept as digit strings so that long runs never overflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Number {
    /// A leading minus sign (`-` or `−`).
    pub negative: bool,
    /// The integer digits without separators; empty for ".5".
    pub int: String,
    /// The digits after the decimal point, when there is one.
    pub frac: Option<String>,
    /// Whether the integer part used thousands separators ("1,234").
    pub grouped: bool,
}

impl Number {
    /// The integer part as a value, when it is short enough to be read as a cardinal.
    pub fn int_value(&self) -> Option<u64> {
        if self.int.is_empty() || self.int.len() > MAX_CARDINAL_DIGITS {
            return None;
        }
        self.int.parse().ok()
    }

    /// A plain integer (no sign, decimals or separators) that fits a cardinal.
    pub fn plain_int(&self) -> Option<u64> {
        if self.negative || self.frac.is_some() || self.grouped {
            return None;
        }
        self.int_value()
    }

    /// Whether this is one or minus one, which take a singular unit ("1 kg", "$1",
    /// "-1°C"); "1.0" is plural, as it is said.
    pub fn is_one(&self) -> bool {
        self.frac.is_none() && self.int == "1"
    }

    /// The spoken form: "minus three point one four".
    pub fn words(&self) -> String {
        let mut out = String::new();
        if self.negative {
            out.push_str("minus ");
        }
        if !self.int.is_empty() {
            out.push_str(&integer_words(&self.int));
        }
        if let Some(frac) = &self.frac {
            if !self.int.is_empty() {
                out.push(' ');
            }
            out.push_str("point");
            if !frac.is_empty() {
                out.push(' ');
                out.push_str(&digit_words(frac));
            }
        }
        out
    }
}

/// Reads a number at the start of `s`: an optional minus sign, digits (with valid
/// `1,234,567` grouping) and an optional decimal part. Returns the number and the rest.
/// A dot only starts decimals when a digit follows it, so "3." leaves "." in the rest.
pub(super) fn scan_number(s: &str) -> Option<(Number, &str)> {
    let (negative, body) = if let Some(rest) = s.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = s.strip_prefix('−') {
        (true, rest)
    } else {
        (false, s)
    };
    let bytes = body.as_bytes();
    let lead = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut int = body[..lead].to_owned();
    let mut end = lead;
    let mut grouped = false;
    // Thousands separators only count in the 1,234 shape: one to three leading digits,
    // then groups of exactly three. "1,23" stops at the comma.
    if (1..=3).contains(&lead) {
        while bytes.get(end) == Some(&b',')
            && bytes.len() >= end + 4
            && bytes[end + 1..end + 4].iter().all(u8::is_ascii_digit)
            && !bytes.get(end + 4).is_some_and(u8::is_ascii_digit)
        {
            int.push_str(&body[end + 1..end + 4]);
            end += 4;
            grouped = true;
        }
    }
    let mut frac = None;
    if bytes.get(end) == Some(&b'.') {
        let digits = bytes[end + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 0 {
            frac = Some(body[end + 1..end + 1 + digits].to_owned());
            end += 1 + digits;
        }
    }
    if int.is_empty() && frac.is_none() {
        return None;
    }
    let number = Number {
        negative,
        int,
        frac,
        grouped,
    };
    Some((number, &body[end..]))
}

/// Reads an integer given as digits: a cardinal, or digit by digit when it has a leading
/// zero ("007", a code) or more than [`MAX_CARDINAL_DIGITS`] digits.
pub(super) fn integer_words(digits: &str) -> String {
    if (digits.len() > 1 && digits.starts_with('0')) || digits.len() > MAX_CARDINAL_DIGITS {
        return digit_words(digits);
    }
    match digits.parse::<u64>() {
        Ok(n) => cardinal(n),
        Err(_) => digit_words(digits),
    }
}

/// Each digit as a word: "404" becomes "four zero four". Other characters are skipped.
pub(super) fn digit_words(digits: &str) -> String {
    let words: Vec<&str> = digits
        .chars()
        .filter_map(|c| c.to_digit(10).map(|d| ONES[d as usize]))
        .collect();
    words.join(" ")
}

/// The American cardinal without "and": 1234 is "one thousand two hundred thirty-four".
pub(super) fn cardinal(n: u64) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut rest = n;
    for (scale, name) in SCALES {
        if rest >= scale {
            let count = rest / scale;
            rest %= scale;
            // Above the trillions the count itself is a cardinal ("one thousand trillion").
            parts.push(format!("{} {name}", cardinal(count)));
        }
    }
    if rest > 0 {
        parts.push(below_thousand(rest));
    }
    parts.join(" ")
}

fn below_thousand(n: u64) -> String {
    let hundreds = n / 100;
    let rest = n % 100;
    let mut out = String::new();
    if hundreds > 0 {
        out.push_str(ONES[hundreds as usize]);
        out.push_str(" hundred");
        if rest > 0 {
            out.push(' ');
        }
    }
    if rest > 0 {
        out.push_str(&below_hundred(rest));
    }
    out
}

fn below_hundred(n: u64) -> String {
    if n < 20 {
        return ONES[n as usize].to_owned();
    }
    let tens = TENS[(n / 10) as usize];
    match n % 10 {
        0 => tens.to_owned(),
        ones => format!("{tens}-{}", ONES[ones as usize]),
    }
}

/// The ordinal: 22 is "twenty-second", 103 is "one hundred third".
pub(super) fn ordinal(n: u64) -> String {
    ordinal_of_words(&cardinal(n))
}

/// Turns the last word of a cardinal into its ordinal ("twenty-one" → "twenty-first").
pub(super) fn ordinal_of_words(words: &str) -> String {
    let split = words.rfind([' ', '-']).map_or(0, |i| i + 1);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// The plural of a number's last word, for decades: "nineteen ninety" → "nineteen nineties".
pub(super) fn plural_of_words(words: &str) -> String {
    match words.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None if words.ends_with('x') => format!("{words}es"),
        None => format!("{words}s"),
    }
}

/// A year, read the way years are said. The convention: two pairs of digits
/// ("nineteen ninety-nine", "twenty ten", "twenty twenty-four"), "hundred" for round
/// centuries ("nineteen hundred"), "oh" for 01–09 ("nineteen oh five"), and the plain
/// cardinal for the first ten years of a millennium ("two thousand", "two thousand five").
pub(super) fn year_words(year: u64) -> String {
    if !(1000..=9999).contains(&year) || year % 1000 < 10 {
        return cardinal(year);
    }
    let high = cardinal(year / 100);
    match year % 100 {
        0 => format!("{high} hundred"),
        low @ 1..=9 => format!("{high} oh {}", ONES[low as usize]),
        low => format!("{high} {}", below_hundred(low)),
    }
}

/// Whether a plain integer may be read as a year where the context says it is one.
pub(super) fn is_year_like(n: &Number) -> Option<u64> {
    if n.int.len() != 4 {
        return None;
    }
    n.plain_int().filter(|y| (1100..=2099).contains(y))
}

/// The name of a fraction's denominator, singular and plural ("quarter", "quarters"),
/// for the denominators people say as fractions; others are read "over".
pub(super) fn denominator_words(d: u64) -> Option<(String, String)> {
    match d {
        2 => Some(("half".to_owned(), "halves".to_owned())),
        4 => Some(("quarter".to_owned(), "quarters".to_owned())),
        3 | 5..=16 | 20 | 32 | 64 | 100 => {
            let name = ordinal(d);
            let plural = format!("{name}s");
            Some((name, plural))
        }
        _ => None,
    }
}

/// A fraction "n/d": "one half", "three quarters", "five eighths", or "n over d" when the
/// denominator has no usual name.
pub(super) fn fraction_words(n: u64, d: u64) -> String {
    match denominator_words(d) {
        Some((one, many)) => {
            let name = if n == 1 { one } else { many };
            format!("{} {name}", cardinal(n))
        }
        None => format!("{} over {}", cardinal(n), cardinal(d)),
    }
}
