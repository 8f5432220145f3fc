//! Pronunciation lexicons: named lists of written forms and how to say them, stored in the
//! library as `lexicons/<name>.json` and applied by name to any request (`lexicons` in the
//! native TTS body and, as an extension, the OpenAI speech body). An entry's `alias` replaces
//! the written form wherever it stands as a whole word, before text normalisation, for both
//! engines. `phoneme` (IPA) entries are stored for the engines that will speak IPA; today an
//! entry needs an alias, which is what is spoken.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use storage::{Key, KeyPrefix, ObjectStore};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Where lexicons live.
pub const PREFIX: &str = "lexicons/";
/// Most entries in one lexicon.
const MAX_ENTRIES: usize = 10_000;
/// Longest written form, in characters.
const MAX_GRAPHEME: usize = 100;
/// Longest alias or phoneme string, in characters.
const MAX_ALIAS: usize = 200;
/// Most lexicons one request may apply.
pub const MAX_PER_REQUEST: usize = 8;

/// One entry: a written form and how to say it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LexiconEntry {
    /// The written form, matched as a whole word (or phrase).
    pub grapheme: String,
    /// What to say instead (a respelling, e.g. `engine x` for `nginx`).
    pub alias: String,
    /// The pronunciation in IPA, kept for engines that speak phonemes (not used yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phoneme: Option<String>,
    /// Match case exactly (default false: `GIF`, `gif` and `Gif` all match).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub case_sensitive: bool,
}

/// A lexicon as stored and as `PUT /api/v1/lexicon/{name}` takes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lexicon {
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The entries; a longer written form wins over a shorter one it contains.
    pub entries: Vec<LexiconEntry>,
}

/// A stored lexicon in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LexiconSummary {
    /// Its name.
    pub name: String,
    /// Entries it holds.
    pub entries: usize,
    /// Its description.
    pub description: Option<String>,
}

/// Checks a lexicon name: 1–64 letters, digits, `-` or `_`.
pub fn key_for(name: &str) -> Result<Key> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Error::invalid(
            "name",
            format!("lexicon name {name:?} must be 1-64 letters, digits, '-' or '_'"),
        ));
    }
    Key::new(format!("{PREFIX}{name}.json")).map_err(Error::from)
}

/// Checks a lexicon's entries (sizes, non-empty forms, no duplicate written form).
pub fn validate(lexicon: &Lexicon) -> Result<()> {
    if lexicon.entries.len() > MAX_ENTRIES {
        return Err(Error::invalid(
            "entries",
            format!(
                "a lexicon holds at most {MAX_ENTRIES} entries, got {}",
                lexicon.entries.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, entry) in lexicon.entries.iter().enumerate() {
        let field = format!("entries[{i}]");
        let grapheme = entry.grapheme.trim();
        if grapheme.is_empty() || grapheme.chars().count() > MAX_GRAPHEME {
            return Err(Error::invalid(
                format!("{field}.grapheme"),
                format!("grapheme must be 1 to {MAX_GRAPHEME} characters"),
            ));
        }
        if entry.alias.trim().is_empty() || entry.alias.chars().count() > MAX_ALIAS {
            return Err(Error::invalid(
                format!("{field}.alias"),
                format!("alias must be 1 to {MAX_ALIAS} characters"),
            ));
        }
        if entry
            .phoneme
            .as_ref()
            .is_some_and(|p| p.trim().is_empty() || p.chars().count() > MAX_ALIAS)
        {
            return Err(Error::invalid(
                format!("{field}.phoneme"),
                format!("phoneme must be 1 to {MAX_ALIAS} characters when given"),
            ));
        }
        let folded = if entry.case_sensitive {
            grapheme.to_owned()
        } else {
            grapheme.to_lowercase()
        };
        if !seen.insert((folded, entry.case_sensitive)) {
            return Err(Error::invalid(
                format!("{field}.grapheme"),
                format!("{grapheme:?} appears twice"),
            ));
        }
    }
    Ok(())
}

/// Stores (creates or replaces) a lexicon; returns whether it replaced one.
pub async fn put(store: &dyn ObjectStore, name: &str, lexicon: &Lexicon) -> Result<bool> {
    let key = key_for(name)?;
    validate(lexicon)?;
    let existed = super::area::exists(store, &key).await?;
    let body = serde_json::to_vec_pretty(lexicon).map_err(|e| Error::Internal(e.to_string()))?;
    store.put(&key, Bytes::from(body)).await?;
    Ok(existed)
}

/// Reads a stored lexicon (404 when there is none of that name).
pub async fn get(store: &dyn ObjectStore, name: &str) -> Result<Lexicon> {
    let key = key_for(name)?;
    let bytes = store.get(&key).await.map_err(|e| {
        if e.is_not_found() {
            Error::not_found("Lexicon", name)
        } else {
            e.into()
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Internal(format!("lexicon {name} is unreadable: {e}")))
}

/// Deletes a lexicon (404 when there is none).
pub async fn delete(store: &dyn ObjectStore, name: &str) -> Result<()> {
    let key = key_for(name)?;
    if !super::area::exists(store, &key).await? {
        return Err(Error::not_found("Lexicon", name));
    }
    store.delete(&key).await.map_err(Error::from)
}

/// Every stored lexicon with its size.
pub async fn list(store: &dyn ObjectStore) -> Result<Vec<LexiconSummary>> {
    let prefix = KeyPrefix::new(PREFIX).map_err(Error::from)?;
    let mut out = Vec::new();
    for object in store.list_all(&prefix, false).await?.objects {
        let Some(name) = object
            .key
            .as_str()
            .strip_prefix(PREFIX)
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if let Ok(lexicon) = get(store, name).await {
            out.push(LexiconSummary {
                name: name.to_owned(),
                entries: lexicon.entries.len(),
                description: lexicon.description,
            });
        }
    }
    Ok(out)
}

/// The lexicons a request names, read from the store (422 naming `param` for an unknown one).
pub async fn load(
    store: &dyn ObjectStore,
    param: &str,
    names: &[String],
) -> Result<Vec<Arc<Lexicon>>> {
    if names.len() > MAX_PER_REQUEST {
        return Err(Error::invalid(
            param,
            format!(
                "at most {MAX_PER_REQUEST} lexicons per request, got {}",
                names.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match get(store, name).await {
            Ok(lexicon) => out.push(Arc::new(lexicon)),
            Err(Error::NotFound { .. }) => {
                return Err(Error::invalid(
                    param,
                    format!("no lexicon named {name:?} (GET /api/v1/lexicons lists them)"),
                ));
            }
            Err(Error::InvalidParameter { message, .. }) => {
                return Err(Error::invalid(param, message));
            }
            Err(other) => return Err(other),
        }
    }
    Ok(out)
}

/// `text` with every entry's written form replaced by its alias where it stands as a whole
/// word: longer forms first (so `New York` wins over `York`), earlier lexicons first.
pub fn apply(text: &str, lexicons: &[Arc<Lexicon>]) -> String {
    let mut entries: Vec<&LexiconEntry> = lexicons.iter().flat_map(|l| &l.entries).collect();
    // Stable: among equal lengths, the order given (earlier lexicons win).
    entries.sort_by_key(|e| std::cmp::Reverse(e.grapheme.trim().chars().count()));
    let mut out = text.to_owned();
    for entry in entries {
        out = replace_words(&out, entry);
    }
    out
}

/// Replaces whole-word occurrences of the entry's written form.
fn replace_words(text: &str, entry: &LexiconEntry) -> String {
    let grapheme = entry.grapheme.trim();
    let (haystack, needle) = if entry.case_sensitive {
        (text.to_owned(), grapheme.to_owned())
    } else {
        (text.to_lowercase(), grapheme.to_lowercase())
    };
    // Lower-casing can change byte lengths (rare scripts): then only exact-case matching is safe.
    if haystack.len() != text.len() || needle.len() != grapheme.len() {
        if entry.case_sensitive {
            return text.to_owned();
        }
        return replace_words(
            text,
            &LexiconEntry {
                case_sensitive: true,
                ..entry.clone()
            },
        );
    }
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = haystack[at..].find(&needle) {
        let start = at + found;
        let end = start + needle.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        out.push_str(&text[at..start]);
        if is_word(before) || is_word(after) {
            out.push_str(&text[start..end]);
        } else {
            out.push_str(entry.alias.trim());
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(entries: &[(&str, &str, bool)]) -> Arc<Lexicon> {
        Arc::new(Lexicon {
            description: None,
            entries: entries
                .iter()
                .map(|(g, a, case)| LexiconEntry {
                    grapheme: (*g).into(),
                    alias: (*a).into(),
                    phoneme: None,
                    case_sensitive: *case,
                })
                .collect(),
        })
    }

    #[test]
    fn whole_words_are_replaced_longest_first() {
        let tech = lexicon(&[
            ("nginx", "engine x", false),
            ("GIF", "jif", true),
            ("York", "Yorick", false),
            ("New York", "the big apple", false),
        ]);
        assert_eq!(
            apply(
                "Nginx serves a GIF, not a gif. New York and York; nginxes stay.",
                &[tech]
            ),
            "engine x serves a jif, not a gif. the big apple and Yorick; nginxes stay."
        );
    }

    #[test]
    fn earlier_lexicons_win_and_nothing_panics_on_odd_text() {
        let first = lexicon(&[("SQL", "sequel", false)]);
        let second = lexicon(&[("SQL", "ess queue ell", false)]);
        assert_eq!(apply("SQL!", &[first, second]), "sequel!");
        let odd = lexicon(&[("İ", "dotted", false), ("ß", "sharp s", false)]);
        for text in ["", "İİ İ", "straße ß", "ﬁ ß İ"] {
            let _ = apply(text, std::slice::from_ref(&odd));
        }
    }

    #[test]
    fn bad_lexicons_name_the_entry() {
        let mut bad = Lexicon {
            description: None,
            entries: vec![LexiconEntry {
                grapheme: " ".into(),
                alias: "x".into(),
                phoneme: None,
                case_sensitive: false,
            }],
        };
        let Err(Error::InvalidParameter { param, .. }) = validate(&bad) else {
            panic!("accepted an empty grapheme");
        };
        assert_eq!(param, "entries[0].grapheme");
        bad.entries[0].grapheme = "a".into();
        bad.entries.push(bad.entries[0].clone());
        assert!(validate(&bad).is_err(), "a duplicate is refused");
        assert!(key_for("../x").is_err());
        assert!(key_for("tech_words-2").is_ok());
    }
}
