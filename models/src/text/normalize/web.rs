//! Web addresses, e-mail addresses and IP addresses, read the way people say them:
//! "example dot com slash a b", "jane dot doe at example dot org".

use super::numbers::digit_words;

/// Top-level domains that make a bare "name.tld" an address. Kept to common ones so that
/// "file.txt" or "end.Next" are not read as domains.
const TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "io", "dev", "ai", "app", "co", "uk", "us", "de", "fr",
    "eu", "ca", "au", "in", "info", "biz", "me", "tv", "ly", "gg", "xyz", "tech", "cloud", "nl",
    "es", "it", "jp", "ch", "se", "no", "fi", "dk", "pl", "be", "at", "nz", "ie", "br",
];

/// A URL read aloud. The scheme and "www." are dropped, and so are the query and fragment
/// (nobody listens to "?utm_source="); dots are "dot", slashes "slash", and hyphens and
/// underscores in the path are spaces. Bare domains count only with a known top-level
/// domain ("example.com/docs").
pub(super) fn url_words(word: &str) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    let scheme = ["https://", "http://", "ftp://"]
        .iter()
        .find(|s| lower.starts_with(*s))
        .map_or(0, |s| s.len());
    let mut rest = &word[scheme..];
    let www = rest
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("www."));
    if www {
        rest = &rest[4..];
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = &rest[..end];
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !valid_host(host) || host.contains('@') {
        return None;
    }
    if scheme == 0 && !www && !has_known_tld(host) {
        return None;
    }
    let mut out = host_words(host);
    let path = path.trim_matches('/');
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push_str(" slash ");
        out.push_str(&path_words(segment));
    }
    Some(out)
}

/// An e-mail address: "jane.doe@example.org" is "jane dot doe at example dot org".
pub(super) fn email_words(word: &str) -> Option<String> {
    let (local, host) = word.split_once('@')?;
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    if !local_ok || !valid_host(host) || !host.contains('.') {
        return None;
    }
    Some(format!("{} at {}", spell(local, "dot"), host_words(host)))
}

/// An IPv4 address, each part digit by digit: "one nine two dot one six eight dot zero dot
/// one".
pub(super) fn ip_words(word: &str) -> Option<String> {
    let parts: Vec<&str> = word.split('.').collect();
    let valid = parts.len() == 4
        && parts.iter().all(|p| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        });
    if !valid {
        return None;
    }
    let words: Vec<String> = parts.iter().map(|p| digit_words(p)).collect();
    Some(words.join(" dot "))
}

/// Host names: dot-separated labels of letters, digits and hyphens, with an optional port.
fn valid_host(host: &str) -> bool {
    let name = host.split_once(':').map_or(host, |(name, port)| {
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            ""
        }
    });
    !name.is_empty()
        && name.contains('.')
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

fn has_known_tld(host: &str) -> bool {
    let name = host.split(':').next().unwrap_or(host);
    name.rsplit('.')
        .next()
        .is_some_and(|tld| TLDS.iter().any(|t| t.eq_ignore_ascii_case(tld)))
}

/// "api.example.com:8080" is "api dot example dot com colon eight zero eight zero".
fn host_words(host: &str) -> String {
    match host.split_once(':') {
        Some((name, port)) => format!("{} colon {}", spell(name, "dot"), digit_words(port)),
        None => spell(host, "dot"),
    }
}

/// A path segment: hyphens, underscores, pluses and %-escapes are word breaks.
fn path_words(segment: &str) -> String {
    let mut cleaned = String::with_capacity(segment.len());
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' | '_' | '+' => cleaned.push(' '),
            '%' => {
                // Skip the two hex digits of an escape such as %20.
                for _ in 0..2 {
                    chars.next_if(char::is_ascii_hexdigit);
                }
                cleaned.push(' ');
            }
            c => cleaned.push(c),
        }
    }
    let words: Vec<String> = cleaned
        .split_whitespace()
        .map(|w| spell(w, "dot"))
        .collect();
    words.join(" ")
}

/// Letters as they are, digits one by one, and the punctuation of addresses by name.
fn spell(text: &str, dot: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(std::mem::take(current));
        }
    };
    for c in text.chars() {
        let name = match c {
            '.' => Some(dot),
            '-' => Some("dash"),
            '_' => Some("underscore"),
            '+' => Some("plus"),
            '=' => Some("equals"),
            '&' => Some("and"),
            _ => None,
        };
        if let Some(name) = name {
            flush(&mut current, &mut words);
            words.push(name.to_owned());
        } else if c.is_ascii_digit() {
            flush(&mut current, &mut words);
            words.push(digit_words(c.encode_utf8(&mut [0; 4])));
        } else {
            current.push(c);
        }
    }
    flush(&mut current, &mut words);
    words.join(" ")
}
