//! `<say-as>`: rewrites the element's text into a form that
//! [`normalize`](crate::text::normalize::normalize) (or a voice reading it raw) speaks the
//! way `interpret-as` asks. The normaliser exposes no per-kind entry points, so the
//! output is plain text: spaced characters, bare digits, "3rd", ISO dates, spaced digits.

use super::SsmlError;

/// The `interpret-as` values accepted.
pub(super) const INTERPRETATIONS: [&str; 7] = [
    "characters",
    "spell-out",
    "cardinal",
    "number",
    "ordinal",
    "date",
    "telephone",
];

fn bad(content: &str, reason: &str, pos: usize) -> SsmlError {
    SsmlError::BadContent {
        tag: "say-as".into(),
        content: content.into(),
        reason: reason.into(),
        pos,
    }
}

/// Renders `content` as `interpret` says; `format` is used for dates only.
pub(super) fn render(
    interpret: &str,
    format: Option<&str>,
    content: &str,
    pos: usize,
) -> Result<String, SsmlError> {
    let text = content.trim();
    match interpret {
        "characters" | "spell-out" => characters(text, pos),
        "cardinal" | "number" => cardinal(text, pos),
        "ordinal" => ordinal(text, pos),
        "date" => date(text, format, pos),
        "telephone" => telephone(text, pos),
        _ => Err(bad(text, "unknown interpret-as", pos)),
    }
}

/// "abc" → "A B C": every non-space character on its own, letters upper-cased.
fn characters(text: &str, pos: usize) -> Result<String, SsmlError> {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    if out.is_empty() {
        return Err(bad(text, "interpret-as=\"characters\" needs text", pos));
    }
    Ok(out)
}

/// "1,234" → "1234"; "-3.5" stays; anything else is refused.
fn cardinal(text: &str, pos: usize) -> Result<String, SsmlError> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' '))
        .collect();
    let unsigned = cleaned.strip_prefix('-').unwrap_or(&cleaned);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return Err(bad(
            text,
            "interpret-as=\"cardinal\" needs a number like 1,234 or -3.5",
            pos,
        ));
    }
    Ok(cleaned)
}

/// "3" → "3rd", "11" → "11th", "22nd" stays.
fn ordinal(text: &str, pos: usize) -> Result<String, SsmlError> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' ' | '.'))
        .collect();
    let lower = cleaned.to_ascii_lowercase();
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| lower.strip_suffix(s))
        .unwrap_or(&lower);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            text,
            "interpret-as=\"ordinal\" needs a whole number like 3 or 3rd",
            pos,
        ));
    }
    let bytes = digits.as_bytes();
    let last = bytes[bytes.len() - 1];
    let tens = if bytes.len() > 1 {
        bytes[bytes.len() - 2]
    } else {
        b'0'
    };
    let suffix = match (tens, last) {
        (b'1', _) => "th",
        (_, b'1') => "st",
        (_, b'2') => "nd",
        (_, b'3') => "rd",
        _ => "th",
    };
    Ok(format!("{digits}{suffix}"))
}

/// Three numeric fields in `format` order (separated by `-`, `/` or `.`) → "YYYY-MM-DD".
fn date(text: &str, format: Option<&str>, pos: usize) -> Result<String, SsmlError> {
    let reason = "interpret-as=\"date\" needs three numbers like 2024-03-05 in the format order";
    let fields: Vec<&str> = text.split(['-', '/', '.']).map(str::trim).collect();
    let [a, b, c] = fields.as_slice() else {
        return Err(bad(text, reason, pos));
    };
    let numeric = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !numeric(a) || !numeric(b) || !numeric(c) {
        return Err(bad(text, reason, pos));
    }
    let format = format.unwrap_or(if a.len() == 4 { "ymd" } else { "mdy" });
    let (y, m, d) = match format {
        "dmy" => (c, b, a),
        "ymd" => (a, b, c),
        _ => (c, a, b),
    };
    let parse = |s: &str| s.parse::<u32>().unwrap_or(0);
    let (year, month, day) = (parse(y), parse(m), parse(d));
    if y.len() != 4 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        let reason =
            format!("not a valid date in {format} order (four-digit year, month 1-12, day 1-31)");
        return Err(bad(text, &reason, pos));
    }
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

/// "+1 (555) 010-0100" → "plus 1, 5 5 5, 0 1 0, 0 1 0 0".
fn telephone(text: &str, pos: usize) -> Result<String, SsmlError> {
    let reason = "interpret-as=\"telephone\" accepts digits, spaces, +, -, ., ( and )";
    let mut groups: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut plus = false;
    for (i, c) in text.chars().enumerate() {
        match c {
            '0'..='9' => {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push(c);
            }
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' => {
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
            }
            _ => return Err(bad(text, reason, pos)),
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    if groups.is_empty() {
        return Err(bad(text, "interpret-as=\"telephone\" needs digits", pos));
    }
    let joined = groups.join(", ");
    Ok(if plus {
        format!("plus {joined}")
    } else {
        joined
    })
}
