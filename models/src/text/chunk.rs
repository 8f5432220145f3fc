//! Grouping sentences into chunks for one engine call each: the original's batching modes,
//! plus a hard length cap that splits long sentences instead of skipping them (the original
//! silently skipped groups over 500 characters).

use std::ops::Range;

use super::sentences::split_sentences;

/// Longest group when batching is on (the original's value).
const BATCH_LIMIT_CHARS: usize = 400;
/// Smart batching closes a group once it reaches this length (the original's value).
const SMART_BATCH_MIN_CHARS: usize = 100;

/// How [`chunk_text`] groups sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Group consecutive sentences up to 400 characters (takes precedence over smart
    /// batching, as in the original).
    pub enable_batching: bool,
    /// Accumulate sentences until the group has at least 100 characters.
    pub smart_batch_short_sentences: bool,
    /// Hard cap on a chunk's length in characters; longer sentences are split at clause
    /// boundaries, then at word boundaries.
    pub max_chunk_chars: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            enable_batching: false,
            smart_batch_short_sentences: true,
            max_chunk_chars: 300,
        }
    }
}

/// Splits text into sentences, splits any sentence longer than the cap, then groups them
/// per the options. Joining the chunks with spaces gives back every word of the input.
pub fn chunk_text(text: &str, options: &ChunkOptions) -> Vec<String> {
    let cap = options.max_chunk_chars.max(1);
    let pieces = split_sentences(text)
        .into_iter()
        .flat_map(|sentence| split_long(&sentence, cap))
        .map(|piece| (piece, 0..0));
    group_pieces(pieces, options)
        .into_iter()
        .map(|(chunk, _)| chunk)
        .collect()
}

/// Groups pieces (sentences, or parts of long ones, each with the range of the source text
/// it came from) into chunks per the options; a chunk's range spans its pieces' ranges.
/// Pieces must already be within the cap (see [`split_long`]).
pub fn group_pieces(
    pieces: impl IntoIterator<Item = (String, Range<usize>)>,
    options: &ChunkOptions,
) -> Vec<(String, Range<usize>)> {
    let cap = options.max_chunk_chars.max(1);
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut source = 0..0;
    for (piece, range) in pieces {
        if options.enable_batching || options.smart_batch_short_sentences {
            let limit = if options.enable_batching {
                BATCH_LIMIT_CHARS.min(cap)
            } else {
                cap
            };
            if !current.is_empty() && char_len(&current) + 1 + char_len(&piece) > limit {
                chunks.push((std::mem::take(&mut current), source.clone()));
            }
            if current.is_empty() {
                source = range;
            } else {
                current.push(' ');
                source = source.start.min(range.start)..source.end.max(range.end);
            }
            current.push_str(&piece);
            if !options.enable_batching && char_len(&current) >= SMART_BATCH_MIN_CHARS {
                chunks.push((std::mem::take(&mut current), source.clone()));
            }
        } else {
            chunks.push((piece, range));
        }
    }
    if !current.is_empty() {
        chunks.push((current, source));
    }
    chunks
}

/// Splits one sentence into pieces of at most `max_chars` characters: at clause
/// boundaries (`,` `;` `:` followed by a space) first, then between words, and only a
/// single word longer than the cap is cut inside.
pub fn split_long(sentence: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let sentence = sentence.trim();
    if char_len(sentence) <= max_chars {
        return if sentence.is_empty() {
            Vec::new()
        } else {
            vec![sentence.to_owned()]
        };
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for clause in clauses(sentence) {
        if char_len(&clause) > max_chars {
            flush(&mut out, &mut current);
            pack_words(&clause, max_chars, &mut out);
            continue;
        }
        if !current.is_empty() && char_len(&current) + 1 + char_len(&clause) > max_chars {
            flush(&mut out, &mut current);
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&clause);
    }
    flush(&mut out, &mut current);
    out
}

/// The sentence cut after each `,` `;` `:` that is followed by whitespace (punctuation
/// stays with the clause it ends).
fn clauses(sentence: &str) -> Vec<String> {
    let mut clauses = Vec::new();
    let mut current = String::new();
    let mut chars = sentence.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, ',' | ';' | ':') && chars.peek().is_some_and(|n| n.is_whitespace()) {
            clauses.push(current.trim().to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        clauses.push(current.trim().to_owned());
    }
    clauses
}

/// Greedily packs the words of `text` into pieces of at most `max_chars`.
fn pack_words(text: &str, max_chars: usize, out: &mut Vec<String>) {
    let mut current = String::new();
    for word in text.split_whitespace() {
        if char_len(word) > max_chars {
            flush(out, &mut current);
            let chars: Vec<char> = word.chars().collect();
            out.extend(
                chars
                    .chunks(max_chars)
                    .map(|c| c.iter().collect::<String>()),
            );
            continue;
        }
        if !current.is_empty() && char_len(&current) + 1 + char_len(word) > max_chars {
            flush(out, &mut current);
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    flush(out, &mut current);
}

fn flush(out: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        out.push(std::mem::take(current));
    }
}

fn char_len(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn one_per_sentence(max: usize) -> ChunkOptions {
        ChunkOptions {
            enable_batching: false,
            smart_batch_short_sentences: false,
            max_chunk_chars: max,
        }
    }

    #[test]
    fn one_sentence_per_chunk() {
        assert_eq!(
            chunk_text("Hi. Yes.", &one_per_sentence(300)),
            ["Hi.", "Yes."]
        );
    }

    #[test]
    fn smart_batching_accumulates_to_one_hundred_characters() {
        let sentence = "This sentence has exactly forty characters.";
        let text = [sentence; 5].join(" ");
        let chunks = chunk_text(&text, &ChunkOptions::default());
        // 3 sentences reach 100+ characters; the remaining 2 form the last group.
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0], [sentence; 3].join(" "));
        assert!(chunks[0].chars().count() >= SMART_BATCH_MIN_CHARS);
    }

    #[test]
    fn batching_groups_up_to_the_limit() {
        let sentence = "Forty-ish characters in this sentence ok.";
        let text = [sentence; 20].join(" ");
        let options = ChunkOptions {
            enable_batching: true,
            smart_batch_short_sentences: false,
            max_chunk_chars: 1000,
        };
        let chunks = chunk_text(&text, &options);
        assert!(
            chunks
                .iter()
                .all(|c| c.chars().count() <= BATCH_LIMIT_CHARS)
        );
        assert!(chunks[0].chars().count() > BATCH_LIMIT_CHARS - sentence.len() - 1);
        // The cap wins over the batch limit.
        let capped = chunk_text(
            &text,
            &ChunkOptions {
                max_chunk_chars: 100,
                ..options
            },
        );
        assert!(capped.iter().all(|c| c.chars().count() <= 100));
    }

    #[test]
    fn long_sentences_split_at_clauses_then_words() {
        let sentence = "first part here, second part here; third part: and a final long tail";
        assert_eq!(
            split_long(sentence, 35),
            [
                "first part here, second part here;",
                "third part: and a final long tail"
            ]
        );
        assert_eq!(split_long("aaaa bbbb cccc", 9), ["aaaa bbbb", "cccc"]);
        assert_eq!(split_long("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert!(split_long("  ", 4).is_empty());
    }

    /// Deterministic pseudo-random text: words of 1-12 letters, random punctuation.
    fn generated_text(seed: u64, words: usize) -> String {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let marks = [
            "", "", "", "", ",", ".", "?", "!", ";", ":", "...", "\"", ".)",
        ];
        let mut text = String::new();
        for n in 0..words {
            let len = 1 + next() % 12;
            let word: String = (0..len)
                .map(|_| (b'a' + (next() % 26) as u8) as char)
                .collect();
            if n > 0 {
                text.push(if next() % 17 == 0 { '\n' } else { ' ' });
            }
            text.push_str(&word);
            text.push_str(marks[next() % marks.len()]);
        }
        text
    }

    #[test]
    fn property_no_words_lost_and_cap_respected() {
        for seed in 0..200 {
            let text = generated_text(seed, 1 + (seed as usize * 7) % 160);
            for options in [
                ChunkOptions::default(),
                one_per_sentence(40),
                ChunkOptions {
                    enable_batching: true,
                    smart_batch_short_sentences: true,
                    max_chunk_chars: 120,
                },
                ChunkOptions {
                    max_chunk_chars: 15,
                    ..ChunkOptions::default()
                },
            ] {
                let chunks = chunk_text(&text, &options);
                let joined: Vec<String> = chunks.iter().flat_map(|c| words(c)).collect();
                assert_eq!(joined, words(&text), "seed {seed}, {options:?}");
                for chunk in &chunks {
                    assert!(
                        chunk.chars().count() <= options.max_chunk_chars,
                        "{chunk:?}"
                    );
                    assert!(!chunk.trim().is_empty());
                }
            }
        }
    }

    #[test]
    fn property_sentences_keep_every_word() {
        for seed in 0..200 {
            let text = generated_text(seed, 60);
            let sentences = split_sentences(&text);
            let joined: Vec<String> = sentences.iter().flat_map(|s| words(s)).collect();
            assert_eq!(joined, words(&text), "seed {seed}");
        }
    }
}
