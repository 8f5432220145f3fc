//! The accepted API keys: each kept only as a SHA-256 digest, with a name for logs and
//! limits, the scopes it grants and an optional request rate.

use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::AccessArgs;

/// What a key may do. Keys without `scopes=` get all three; `admin` includes the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `GET`/`HEAD`: lists, downloads, metadata, statistics, metrics.
    Read,
    /// Everything that creates or edits: generation, uploads, metadata changes, analysis.
    Generate,
    /// Destructive and whole-library calls: deletes, cleanup, backup and restore.
    Admin,
}

impl Scope {
    /// The name used in key files and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Generate => "generate",
            Self::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read" => Some(Self::Read),
            "generate" => Some(Self::Generate),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A request rate: `limit` requests per `period`, as a token bucket of `limit` tokens
/// refilled evenly over the period (so bursts up to `limit` pass, then one request per
/// `period / limit`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per period (the bucket's size).
    pub limit: u32,
    /// The period.
    pub period: Duration,
}

impl Rate {
    /// Parses `N/s`, `N/min` or `N/h` (`N/m` and `N/second|minute|hour` too).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (count, unit) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("rate {text:?} must look like 60/min (N/s, N/min or N/h)"))?;
        let limit: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("rate {text:?}: the count must be a whole number above 0"))?;
        let period = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => {
                return Err(format!(
                    "rate {text:?}: unknown unit {other:?} (use s, min or h)"
                ));
            }
        };
        Ok(Self { limit, period })
    }
}

/// One accepted key, without the key itself.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Shown in logs, metrics and error messages; never the key.
    pub name: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// Its own request rate, else the service-wide `--key-rate-limit`, else unlimited.
    pub rate: Option<Rate>,
}

impl KeyRecord {
    /// Whether the key grants `scope` (`admin` grants everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// The accepted keys, as SHA-256 digests; empty means authentication is off.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    records: HashMap<[u8; 32], KeyRecord>,
    /// Set when the keys could not be read: every protected request is then refused
    /// (failing closed), and startup reports the reason.
    broken: Option<String>,
}

impl ApiKeys {
    /// Keys from the settings: the plain list (all scopes, named `key-<digest prefix>`)
    /// and the keys file, whose lines are `<sha256 hex> [name=N] [scopes=read,generate,admin]
    /// [rate=60/min]`.
    pub fn from_settings(settings: &AccessArgs) -> Result<Self, String> {
        let default_rate = settings
            .key_rate_limit
            .as_deref()
            .map(Rate::parse)
            .transpose()
            .map_err(|e| format!("--key-rate-limit: {e}"))?;
        let mut records = HashMap::new();
        for key in settings.api_keys.iter().map(|k| k.expose().trim()) {
            if key.is_empty() {
                continue;
            }
            let digest = digest(key);
            records.insert(
                digest,
                KeyRecord {
                    name: format!("key-{}", hex_prefix(&digest)),
                    scopes: vec![Scope::Read, Scope::Generate, Scope::Admin],
                    rate: default_rate,
                },
            );
        }
        if let Some(path) = &settings.api_keys_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the API keys file {}: {e}", path.display()))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or_default().trim();
                if line.is_empty() {
                    continue;
                }
                let (digest, record) = parse_line(line, default_rate)
                    .map_err(|e| format!("{} line {}: {e}", path.display(), number + 1))?;
                if records.values().any(|r: &KeyRecord| r.name == record.name) {
                    return Err(format!(
                        "{} line {}: the name {:?} is used twice",
                        path.display(),
                        number + 1,
                        record.name
                    ));
                }
                records.insert(digest, record);
            }
        }
        Ok(Self {
            records,
            broken: None,
        })
    }

    /// Keys from the settings, or a set that refuses everything when they cannot be read.
    pub fn from_settings_or_closed(settings: &AccessArgs) -> Self {
        Self::from_settings(settings).unwrap_or_else(|reason| {
            tracing::error!(%reason, "API keys unusable; refusing every protected request");
            Self {
                records: HashMap::new(),
                broken: Some(reason),
            }
        })
    }

    /// Whether authentication is on.
    pub fn enabled(&self) -> bool {
        !self.records.is_empty() || self.broken.is_some()
    }

    /// The record of `key`, when it is one of the accepted keys.
    pub fn find(&self, key: &str) -> Option<&KeyRecord> {
        self.records.get(&digest(key))
    }

    /// Whether `key` is one of the accepted keys.
    pub fn accepts(&self, key: &str) -> bool {
        self.find(key).is_some()
    }
}

/// One line of the keys file (comments already removed).
fn parse_line(line: &str, default_rate: Option<Rate>) -> Result<([u8; 32], KeyRecord), String> {
    let mut words = line.split_whitespace();
    // `sha256sum` prints "<hex>  -": the first word is the digest, a lone `-` is skipped.
    let hex = words.next().unwrap_or_default();
    let digest = parse_hex(hex).ok_or("expected a SHA-256 hex digest (64 hex characters) first")?;
    let mut record = KeyRecord {
        name: format!("key-{}", hex_prefix(&digest)),
        scopes: vec![Scope::Read, Scope::Generate, Scope::Admin],
        rate: default_rate,
    };
    for word in words {
        if word == "-" {
            continue;
        }
        // An unknown option is an error: a typo must never widen what a key may do.
        let (option, value) = word
            .split_once('=')
            .ok_or_else(|| format!("expected name=, scopes= or rate=, found {word:?}"))?;
        match option {
            "name" => {
                let valid = !value.is_empty()
                    && value.len() <= 64
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid {
                    return Err(format!(
                        "name {value:?} must be 1-64 letters, digits, '-', '_' or '.'"
                    ));
                }
                record.name = value.to_owned();
            }
            "scopes" => {
                let scopes = value
                    .split(',')
                    .map(|s| {
                        Scope::parse(s)
                            .ok_or_else(|| format!("unknown scope {s:?} (read, generate or admin)"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if scopes.is_empty() {
                    return Err("scopes= needs at least one scope".into());
                }
                record.scopes = scopes;
            }
            "rate" => record.rate = Some(Rate::parse(value)?),
            other => {
                return Err(format!(
                    "unknown option {other:?} (name=, scopes= or rate=)"
                ));
            }
        }
    }
    Ok((digest, record))
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn hex_prefix(digest: &[u8; 32]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

    #[test]
    fn lines_carry_names_scopes_and_rates() {
        let (_, record) =
            parse_line(&format!("{HEX} name=reader scopes=read rate=30/min"), None).unwrap();
        assert_eq!(record.name, "reader");
        assert_eq!(record.scopes, vec![Scope::Read]);
        assert!(record.allows(Scope::Read));
        assert!(!record.allows(Scope::Generate));
        assert!(!record.allows(Scope::Admin));
        assert_eq!(
            record.rate,
            Some(Rate {
                limit: 30,
                period: Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn a_bare_digest_has_every_scope_and_the_default_rate() {
        let default = Rate::parse("5/s").ok();
        let (_, record) = parse_line(&format!("{HEX}  -"), default).unwrap();
        assert!(record.allows(Scope::Admin) && record.allows(Scope::Read));
        assert_eq!(record.rate, default);
        assert_eq!(record.name, "key-2bb80d53");
    }

    #[test]
    fn typos_are_errors_not_wider_keys() {
        for bad in [
            format!("{HEX} scope=read"),
            format!("{HEX} scopes=reed"),
            format!("{HEX} scopes="),
            format!("{HEX} rate=10/day"),
            format!("{HEX} rate=0/min"),
            format!("{HEX} name=has space"),
            format!("{HEX} read"),
            "abc name=x".to_owned(),
        ] {
            assert!(parse_line(&bad, None).is_err(), "{bad} was accepted");
        }
    }
}
