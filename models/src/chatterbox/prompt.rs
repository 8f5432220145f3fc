//! Text to prompt ids: upstream's `punc_norm` (spec A4), the bundle's `tokenizer.json`
//! (whose post-processor adds the family's special tokens), and the original family's
//! position ids and text rows.

use std::path::Path;

use tokenizers::Tokenizer;

use super::Family;
use crate::ModelError;

/// Start-of-speech token; the prompt ends with two of them (original family).
pub const START_SPEECH: i64 = 6561;
/// End-of-speech token: generation stops when it is sampled.
pub const STOP_SPEECH: i64 = 6562;
/// The exaggeration slot at the front of an original-family prompt.
pub const EXAGGERATION_SLOT: i64 = 6563;
/// Turbo's silence token; three are appended before decoding.
pub const TURBO_SILENCE: i64 = 4299;

/// What upstream speaks for empty text.
const EMPTY_TEXT: &str = "You need to add some text for me to talk.";

/// Upstream `punc_norm`: capitalise, collapse whitespace, replace uncommon punctuation and
/// make sure the text ends in a sentence mark. Turbo keeps "...", " - " and ";".
pub fn punc_norm(text: &str, family: Family) -> String {
    if text.is_empty() {
        return EMPTY_TEXT.to_owned();
    }
    let mut chars = text.chars();
    let capitalised = match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text.to_owned(),
    };
    let mut text = capitalised.split_whitespace().collect::<Vec<_>>().join(" ");
    let turbo_keeps = ["...", " - ", ";"];
    let replacements = [
        ("...", ", "),
        ("\u{2026}", ", "),
        (":", ","),
        (" - ", ", "),
        (";", ", "),
        ("\u{2014}", "-"),
        ("\u{2013}", "-"),
        (" ,", ","),
        ("\u{201c}", "\""),
        ("\u{201d}", "\""),
        ("\u{2018}", "'"),
        ("\u{2019}", "'"),
    ];
    for (from, to) in replacements {
        if family == Family::Turbo && turbo_keeps.contains(&from) {
            continue;
        }
        text = text.replace(from, to);
    }
    let mut text = text.trim_end_matches(' ').to_owned();
    if ![".", "!", "?", "-", ","]
        .iter()
        .any(|end| text.ends_with(end))
    {
        text.push('.');
    }
    text
}

/// The bundle's tokenizer.
#[derive(Debug)]
pub(crate) struct PromptTokenizer {
    tokenizer: Tokenizer,
}

impl PromptTokenizer {
    /// Loads `tokenizer.json`.
    pub(crate) fn load(path: &Path) -> Result<Self, ModelError> {
        let tokenizer = Tokenizer::from_file(path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        Ok(Self { tokenizer })
    }

    /// Ids for already-normalised text, special tokens included.
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<i64>, ModelError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().iter().map(|&id| i64::from(id)).collect())
    }
}

/// Original-family prompt positions: 0 for ids ≥ 6561, otherwise index − 1 (so 6563 and
/// 255 get 0, the text 1..n, the closing 0 gets n+1).
pub(crate) fn original_position_ids(ids: &[i64]) -> Vec<i64> {
    ids.iter()
        .enumerate()
        .map(|(index, &id)| {
            if id >= START_SPEECH {
                0
            } else {
                i64::try_from(index)
                    .unwrap_or(i64::MAX)
                    .saturating_sub(1)
                    .max(0)
            }
        })
        .collect()
}

/// Prompt positions `embed_tokens` treats as text (at or before the first 0, not the
/// exaggeration slot): the rows CFG zeroes in the unconditional batch row. Ids without a 0
/// have no text part (spec G1).
pub(crate) fn text_rows(ids: &[i64]) -> Vec<usize> {
    if !ids.contains(&0) {
        return Vec::new();
    }
    let mut rows = Vec::new();
    let mut seen_stop = false;
    for (index, &id) in ids.iter().enumerate() {
        if !seen_stop && id != EXAGGERATION_SLOT {
            rows.push(index);
        }
        if id == 0 {
            seen_stop = true;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixture_tokenizer(family: &str) -> PromptTokenizer {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/chatterbox-standins")
            .join(family)
            .join("tokenizer.json");
        PromptTokenizer::load(&path).unwrap()
    }

    #[test]
    fn punc_norm_follows_upstream() {
        let original = |text| punc_norm(text, Family::Original);
        assert_eq!(original(""), EMPTY_TEXT);
        assert_eq!(original("hello"), "Hello.");
        assert_eq!(original("Wait\u{2026} what"), "Wait,  what.");
        assert_eq!(original("a:  b"), "A, b.");
        assert_eq!(original("one - two; three"), "One, two,  three.");
        assert_eq!(
            original("\u{201c}Hi\u{201d} \u{2018}x\u{2019}"),
            "\"Hi\" 'x'."
        );
        assert_eq!(original("done!"), "Done!");
        assert_eq!(original("so ,  then,"), "So, then,");
        assert_eq!(original("en\u{2014}dash\u{2013}"), "En-dash-");
        assert_eq!(original("   "), ".");
        assert_eq!(
            original("hello there, world... This is: it; ok!"),
            "Hello there, world,  This is, it,  ok!"
        );
        let turbo = |text| punc_norm(text, Family::Turbo);
        assert_eq!(
            turbo("wait... one - two; three"),
            "Wait... one - two; three."
        );
        assert_eq!(turbo("a: b\u{2026}"), "A, b,");
    }

    #[test]
    fn original_template_ids() {
        let tokenizer = fixture_tokenizer("original");
        let ids = tokenizer
            .encode(&punc_norm("Hi there.", Family::Original))
            .unwrap();
        assert_eq!(
            ids,
            [6563, 255, 42, 75, 2, 86, 74, 71, 84, 71, 16, 0, 6561, 6561]
        );
        assert_eq!(
            original_position_ids(&ids),
            [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0]
        );
        assert_eq!(text_rows(&ids), (1..=11).collect::<Vec<_>>());
    }

    #[test]
    fn turbo_template_ids_and_tags() {
        let tokenizer = fixture_tokenizer("turbo");
        assert_eq!(tokenizer.encode("Hi.").unwrap(), [40, 73, 14, 50256, 50256]);
        let with_tag = tokenizer.encode("Oh [laugh] that").unwrap();
        assert_eq!(with_tag.iter().filter(|&&id| id == 50257).count(), 1);
        assert_eq!(with_tag[..5], [47, 72, 0, 50257, 0]);
    }

    #[test]
    fn text_rows_need_a_stop() {
        assert!(text_rows(&[6561]).is_empty());
        assert_eq!(text_rows(&[0]), [0]);
    }
}
