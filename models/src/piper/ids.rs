//! Phonemes → model ids, as piper does it: `^ _ (p _)* $`, unknown phonemes skipped.

use std::collections::HashMap;

/// Splits a sentence's phoneme string into phonemes: one per codepoint, except that runs
/// listed in `vowel_clusters` (longest first) become one multi-codepoint phoneme, as
/// piper's `_merge_known_vowel_clusters` does.
pub fn split_phonemes(phonemes: &str, vowel_clusters: &[Vec<String>]) -> Vec<String> {
    let codepoints: Vec<String> = phonemes.chars().map(String::from).collect();
    let longest = vowel_clusters.iter().map(Vec::len).max().unwrap_or(0);
    if longest < 2 {
        return codepoints;
    }
    let mut out = Vec::with_capacity(codepoints.len());
    let mut i = 0;
    'outer: while i < codepoints.len() {
        for n in (2..=longest.min(codepoints.len() - i)).rev() {
            let candidate = &codepoints[i..i + n];
            if vowel_clusters
                .iter()
                .any(|cluster| cluster.as_slice() == candidate)
            {
                out.push(candidate.concat());
                i += n;
                continue 'outer;
            }
        }
        out.push(codepoints[i].clone());
        i += 1;
    }
    out
}

/// The ids for one sentence: BOS, PAD, then each known phoneme's ids followed by PAD, then
/// EOS. Phonemes missing from the map are skipped with a warning (piper does the same).
/// The map must hold `^`, `_` and `$` (checked when the config is loaded).
pub fn phoneme_ids<S: AsRef<str>>(phonemes: &[S], id_map: &HashMap<String, Vec<i64>>) -> Vec<i64> {
    let ids_of = |symbol: &str| id_map.get(symbol).map(Vec::as_slice).unwrap_or_default();
    let pad = ids_of("_");
    let mut ids = Vec::with_capacity(2 * phonemes.len() + 3);
    ids.extend_from_slice(ids_of("^"));
    ids.extend_from_slice(pad);
    for phoneme in phonemes {
        let phoneme = phoneme.as_ref();
        match id_map.get(phoneme) {
            Some(known) => {
                ids.extend_from_slice(known);
                ids.extend_from_slice(pad);
            }
            None => tracing::warn!(phoneme, "phoneme missing from the voice's id map; skipped"),
        }
    }
    ids.extend_from_slice(ids_of("$"));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &[i64])]) -> HashMap<String, Vec<i64>> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect()
    }

    #[test]
    fn frames_with_bos_pad_eos() {
        let ids = map(&[
            ("_", &[0]),
            ("^", &[1]),
            ("$", &[2]),
            ("a", &[14]),
            ("b", &[15]),
        ]);
        assert_eq!(
            phoneme_ids(&split_phonemes("ab", &[]), &ids),
            [1, 0, 14, 0, 15, 0, 2]
        );
    }

    #[test]
    fn skips_unknown_phonemes() {
        let ids = map(&[("_", &[0]), ("^", &[1]), ("$", &[2]), ("a", &[14])]);
        assert_eq!(phoneme_ids(&["a", "☃", "a"], &ids), [1, 0, 14, 0, 14, 0, 2]);
        assert_eq!(phoneme_ids::<&str>(&[], &ids), [1, 0, 2]);
    }

    #[test]
    fn accepts_multi_codepoint_phonemes_and_multi_id_values() {
        let ids = map(&[
            ("_", &[0]),
            ("^", &[1]),
            ("$", &[2]),
            ("aɪ", &[161, 7]),
            ("t", &[32]),
        ]);
        let clusters = vec![vec!["a".to_owned(), "ɪ".to_owned()]];
        let phonemes = split_phonemes("taɪt", &clusters);
        assert_eq!(phonemes, ["t", "aɪ", "t"]);
        assert_eq!(
            phoneme_ids(&phonemes, &ids),
            [1, 0, 32, 0, 161, 7, 0, 32, 0, 2]
        );
        // Without the cluster listed, the codepoints stay separate (piper's behaviour).
        assert_eq!(split_phonemes("taɪt", &[]), ["t", "a", "ɪ", "t"]);
    }
}
