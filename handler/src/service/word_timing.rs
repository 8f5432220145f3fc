//! Word timings from phoneme timings: the built-in voice says where each phoneme lies
//! (see `models::piper::alignment`), espeak-ng separates words with spaces, and this module
//! matches those phoneme words to the words of the text the engine was given.
//!
//! The two word lists do not always pair one to one: espeak-ng runs short function words
//! together ("out of" → "aʊɾəv") and may split one written word. So the lists are aligned
//! monotonically with a small dynamic programme over groups (up to three written words to
//! one phoneme word, or one written word to up to three phoneme words), scoring each pair
//! by how far its phoneme count is from what the written letters predict. A phoneme word
//! shared by several written words is divided among them by their letters.

use models::piper::alignment::TimedPhoneme;

/// A word and its samples in the engine's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedWord {
    /// The word as the engine was given it, without surrounding punctuation.
    pub word: String,
    /// First sample.
    pub start: usize,
    /// One past the last sample.
    pub end: usize,
}

/// The longest group on either side of one pairing.
const MAX_GROUP: usize = 3;
/// Extra cost of a pairing that is not one to one, so equal fits prefer 1:1.
const GROUP_PENALTY: f64 = 0.35;

/// A phoneme word: its sounding phonemes' span and how many there are.
#[derive(Debug, Clone, Copy)]
struct PhonemeWord {
    start: usize,
    end: usize,
    sounds: usize,
}

/// Phonemes that carry no sound of their own: stress and length marks.
fn is_mark(phoneme: &str) -> bool {
    matches!(phoneme, "ˈ" | "ˌ" | "ː")
}

/// Phonemes that separate words: spaces and clause punctuation.
fn is_separator(phoneme: &str) -> bool {
    phoneme
        .chars()
        .all(|c| c.is_whitespace() || c.is_ascii_punctuation())
}

/// Groups timed phonemes into words at spaces and punctuation.
fn phoneme_words(phonemes: &[TimedPhoneme]) -> Vec<PhonemeWord> {
    let mut words = Vec::new();
    let mut current: Option<PhonemeWord> = None;
    for phoneme in phonemes {
        if is_separator(&phoneme.phoneme) {
            words.extend(current.take());
            continue;
        }
        let sounds = usize::from(!is_mark(&phoneme.phoneme));
        match current.as_mut() {
            Some(word) => {
                word.end = phoneme.end;
                word.sounds += sounds;
            }
            None => {
                current = Some(PhonemeWord {
                    start: phoneme.start,
                    end: phoneme.end,
                    sounds,
                });
            }
        }
    }
    words.extend(current);
    words.retain(|w| w.sounds > 0 && w.end > w.start);
    words
}

/// The words of `text`, punctuation trimmed, each with its letter count (at least 1).
fn written_words(text: &str) -> Vec<(String, usize)> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(|w| {
            (
                w.to_owned(),
                w.chars().filter(|c| c.is_alphanumeric()).count().max(1),
            )
        })
        .collect()
}

/// Times each word of `text` from the phonemes the engine spoke for it. Empty when either
/// side has no words.
pub fn time_words(text: &str, phonemes: &[TimedPhoneme]) -> Vec<TimedWord> {
    let written = written_words(text);
    let spoken = phoneme_words(phonemes);
    let (n, m) = (written.len(), spoken.len());
    if n == 0 || m == 0 {
        return Vec::new();
    }
    let letters: usize = written.iter().map(|(_, l)| l).sum();
    let sounds: usize = spoken.iter().map(|w| w.sounds).sum();
    let ratio = sounds as f64 / letters as f64;
    // best[i][j]: the cheapest alignment of the first i written and j spoken words, and the
    // group sizes of its last pairing.
    let mut best = vec![vec![(f64::INFINITY, 0usize, 0usize); m + 1]; n + 1];
    best[0][0].0 = 0.0;
    for i in 0..=n {
        for j in 0..=m {
            let here = best[i][j].0;
            if !here.is_finite() {
                continue;
            }
            for (k, l) in pairings() {
                if i + k > n || j + l > m {
                    continue;
                }
                let a: usize = written[i..i + k].iter().map(|(_, l)| l).sum();
                let b: usize = spoken[j..j + l].iter().map(|w| w.sounds).sum();
                let fit = ((b as f64) / (ratio * a as f64)).ln().abs();
                let penalty = if k == 1 && l == 1 { 0.0 } else { GROUP_PENALTY };
                let cost = here + fit + penalty;
                if cost < best[i + k][j + l].0 {
                    best[i + k][j + l] = (cost, k, l);
                }
            }
        }
    }
    if !best[n][m].0.is_finite() {
        return Vec::new();
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let (_, k, l) = best[i][j];
        pairs.push((i - k, k, j - l, l));
        i -= k;
        j -= l;
    }
    pairs.reverse();
    let mut timed = Vec::with_capacity(n);
    for (i, k, j, l) in pairs {
        let start = spoken[j].start;
        let end = spoken[j + l - 1].end;
        let group = &written[i..i + k];
        let letters: usize = group.iter().map(|(_, l)| l).sum();
        let mut at = start;
        for (n, (word, weight)) in group.iter().enumerate() {
            let until = if n + 1 == group.len() {
                end
            } else {
                at + (end - start) * weight / letters
            };
            timed.push(TimedWord {
                word: word.clone(),
                start: at,
                end: until,
            });
            at = until;
        }
    }
    timed
}

/// The group sizes one step may pair: k written words with l spoken ones.
fn pairings() -> impl Iterator<Item = (usize, usize)> {
    (1..=MAX_GROUP)
        .map(|k| (k, 1))
        .chain((2..=MAX_GROUP).map(|l| (1, l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phonemes of `words` (space separated, one codepoint each), `step` samples apiece.
    fn timed(words: &str, step: usize) -> Vec<TimedPhoneme> {
        words
            .chars()
            .enumerate()
            .map(|(n, c)| TimedPhoneme {
                phoneme: c.to_string(),
                start: n * step,
                end: (n + 1) * step,
            })
            .collect()
    }

    #[test]
    fn one_to_one_words_take_their_phonemes() {
        let words = time_words("Hello, big world.", &timed("həlˈoʊ bˈɪɡ wˈɜːld.", 10));
        let names: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(names, ["Hello", "big", "world"]);
        assert_eq!((words[0].start, words[0].end), (0, 60));
        assert_eq!((words[1].start, words[1].end), (70, 110));
        assert_eq!((words[2].start, words[2].end), (120, 180));
    }

    #[test]
    fn run_together_words_share_their_phoneme_word() {
        // espeak-ng: "out of the house" → "aʊɾəv ðə hˈaʊs".
        let words = time_words("out of the house", &timed("aʊɾəv ðə hˈaʊs", 10));
        let names: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(names, ["out", "of", "the", "house"]);
        assert_eq!(words[0].start, 0);
        assert_eq!(words[1].end, 50);
        assert!(words[0].end > words[0].start && words[0].end < 50);
        assert_eq!((words[2].start, words[2].end), (60, 80));
        assert_eq!((words[3].start, words[3].end), (90, 140));
    }

    #[test]
    fn nothing_to_align_is_no_words() {
        assert!(time_words("", &timed("ab", 1)).is_empty());
        assert!(time_words("word", &[]).is_empty());
        assert!(time_words("...", &timed("ab", 1)).is_empty());
    }
}
