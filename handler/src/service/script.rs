//! What a request asks an engine to say, in order: runs of text (already through the
//! lexicons, normalisation, the original's clean-up and chunking), pauses and IPA
//! phonemes. Plain text is one run; an SSML document (`<speak>…</speak>`, detected or
//! flagged) becomes as many as its markup asks for. Every dialect builds its script here
//! and every engine speaks one, so SSML and lexicons mean the same thing everywhere.

use std::ops::Range;
use std::sync::Arc;

use models::text::ssml::{self, Emphasis, Segment};
use models::text::{ChunkOptions, TextOptions};

use super::lexicons::Lexicon;
use crate::error::{Error, Result};

/// One thing to say.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text, in chunks one engine call can read.
    Speech {
        /// The chunks, never empty.
        chunks: Vec<String>,
        /// Tempo factor from `<prosody rate>` (1.0 outside it).
        rate: f32,
        /// `<emphasis>` level.
        emphasis: Emphasis,
    },
    /// Silence from `<break>`, `<p>` or `<s>`.
    Pause {
        /// Its length in seconds.
        seconds: f32,
    },
    /// IPA from `<phoneme>`: the built-in voice reads it; Chatterbox speaks `fallback`.
    Phonemes {
        /// The IPA string.
        ipa: String,
        /// The element's text, already prepared like any run of text.
        fallback: Vec<String>,
        /// Tempo factor.
        rate: f32,
    },
}

/// A prepared request text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    /// What to say, in order.
    pub parts: Vec<Part>,
    /// Whether the input was SSML.
    pub ssml: bool,
    /// SSML features accepted but ignored or adjusted (pitch, volume, a clamped rate).
    pub warnings: Vec<String>,
    /// For each chunk (in [`Script::chunks`] order), the characters of the request text it
    /// was made from (Unicode scalar offsets, end exclusive); `None` for SSML, whose markup
    /// has no one-to-one place in the text.
    pub sources: Vec<Option<Range<usize>>>,
}

/// How to read a request's text.
#[derive(Debug, Clone)]
pub struct ScriptOptions<'a> {
    /// `Some(true)`: the text must be SSML; `Some(false)`: plain text even if it looks
    /// like markup; `None`: SSML when it starts with `<speak` (or an XML declaration
    /// followed by one).
    pub ssml: Option<bool>,
    /// Read numbers, dates, symbols as words and drop Markdown and emoji.
    pub normalize: bool,
    /// The original's clean-up options.
    pub text: TextOptions,
    /// How text is grouped into engine calls.
    pub chunks: ChunkOptions,
    /// Pronunciation lexicons, earlier ones first.
    pub lexicons: &'a [Arc<Lexicon>],
    /// The request field the text came in (named in errors).
    pub field: &'static str,
}

impl Part {
    /// How many chunks of text it holds.
    fn chunk_count(&self) -> usize {
        match self {
            Part::Speech { chunks, .. } => chunks.len(),
            Part::Phonemes { fallback, .. } => fallback.len(),
            Part::Pause { .. } => 0,
        }
    }
}

impl Script {
    /// Every chunk of text the engines will read, in order (IPA runs by their fallback).
    pub fn chunks(&self) -> impl Iterator<Item = &String> {
        self.parts.iter().flat_map(|part| match part {
            Part::Speech { chunks, .. } => chunks.as_slice(),
            Part::Phonemes { fallback, .. } => fallback.as_slice(),
            Part::Pause { .. } => &[],
        })
    }

    /// Seconds of silence the script asks for.
    pub fn pause_seconds(&self) -> f32 {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Pause { seconds } => *seconds,
                _ => 0.0,
            })
            .sum()
    }

    /// Whether anything in it makes a sound.
    fn speaks(&self) -> bool {
        self.parts
            .iter()
            .any(|part| !matches!(part, Part::Pause { .. }))
    }
}

/// Builds the script for `text`: SSML parsed (refusals are 422s naming `field`, the tag
/// and its byte offset), then each run of text through the lexicons, normalisation, the
/// clean-up and chunking, in that order.
pub fn prepare(text: &str, options: &ScriptOptions<'_>) -> Result<Script> {
    let is_ssml = options.ssml.unwrap_or_else(|| ssml::is_ssml(text));
    if !is_ssml {
        let chunks = prepare_with_sources(text, options);
        let sources = chunks
            .iter()
            .map(|(_, range)| Some(range.clone()))
            .collect();
        let chunks: Vec<String> = chunks.into_iter().map(|(chunk, _)| chunk).collect();
        let script = Script {
            parts: if chunks.is_empty() {
                Vec::new()
            } else {
                vec![Part::Speech {
                    chunks,
                    rate: 1.0,
                    emphasis: Emphasis::None,
                }]
            },
            ssml: false,
            warnings: Vec::new(),
            sources,
        };
        return checked(script, options);
    }
    let (segments, warnings) = if is_ssml {
        let document =
            ssml::parse(text).map_err(|e| Error::invalid(options.field, e.to_string()))?;
        (document.segments, document.warnings)
    } else {
        (
            vec![Segment::Text {
                text: text.to_owned(),
                rate: 1.0,
                emphasis: Emphasis::None,
            }],
            Vec::new(),
        )
    };
    let mut parts = Vec::with_capacity(segments.len());
    for segment in segments {
        match segment {
            Segment::Text {
                text,
                rate,
                emphasis,
            } => {
                let chunks = prepare_text(&text, options);
                if !chunks.is_empty() {
                    parts.push(Part::Speech {
                        chunks,
                        rate,
                        emphasis,
                    });
                }
            }
            Segment::Break { seconds } => {
                if seconds > 0.0 {
                    parts.push(Part::Pause { seconds });
                }
            }
            Segment::Phonemes {
                ipa,
                fallback,
                rate,
            } => parts.push(Part::Phonemes {
                fallback: prepare_text(&fallback, options),
                ipa,
                rate,
            }),
        }
    }
    let sources = vec![None; parts.iter().map(Part::chunk_count).sum()];
    checked(
        Script {
            parts,
            ssml: is_ssml,
            warnings,
            sources,
        },
        options,
    )
}

/// The script, or a 422 when nothing in it makes a sound.
fn checked(script: Script, options: &ScriptOptions<'_>) -> Result<Script> {
    if !script.speaks() {
        return Err(Error::invalid(
            options.field,
            "the text has nothing to speak once markup, reference numbers and spacing are removed",
        ));
    }
    Ok(script)
}

/// Plain text as the engines will read it, each chunk with the characters of `text` it
/// came from: sentences are found in the text as written, then each goes through the
/// lexicons, normalisation and clean-up on its own and the results are grouped as
/// [`models::text::chunk_text`] groups them.
fn prepare_with_sources(text: &str, options: &ScriptOptions<'_>) -> Vec<(String, Range<usize>)> {
    let cap = options.chunks.max_chunk_chars.max(1);
    let mut pieces = Vec::new();
    for (sentence, range) in locate_sentences(text) {
        let spoken = super::speech_stream::normalized(
            &super::lexicons::apply(&sentence, options.lexicons),
            options.normalize,
        );
        let cleaned = models::text::preprocess(&spoken, &options.text);
        if !models::text::is_speakable(&cleaned) {
            continue;
        }
        for piece in models::text::split_long(cleaned.trim(), cap) {
            pieces.push((piece, range.clone()));
        }
    }
    models::text::group_pieces(pieces, &options.chunks)
}

/// The sentences of `text` with where each stands in it (character offsets). A sentence
/// the splitter rebuilt (pieces without letters joined to a neighbour) spans from its
/// first word to its last.
fn locate_sentences(text: &str) -> Vec<(String, Range<usize>)> {
    let mut located = Vec::new();
    let mut cursor = 0; // bytes
    for sentence in models::text::split_sentences(text) {
        let rest = &text[cursor..];
        let (start, end) = match rest.find(sentence.as_str()) {
            Some(at) => (cursor + at, cursor + at + sentence.len()),
            None => {
                let first = sentence.split_whitespace().next().unwrap_or_default();
                let last = sentence.split_whitespace().last().unwrap_or_default();
                let start = rest.find(first).map_or(cursor, |at| cursor + at);
                let end = text[start..]
                    .find(last)
                    .map_or(text.len(), |at| start + at + last.len());
                (start, end)
            }
        };
        cursor = end;
        let chars = |byte: usize| text[..byte].chars().count();
        located.push((sentence, chars(start)..chars(end)));
    }
    located
}

/// One run of text as the engines will read it.
fn prepare_text(text: &str, options: &ScriptOptions<'_>) -> Vec<String> {
    let spoken = super::speech_stream::normalized(
        &super::lexicons::apply(text, options.lexicons),
        options.normalize,
    );
    let cleaned = models::text::preprocess(&spoken, &options.text);
    models::text::chunk_text(&cleaned, &options.chunks)
}

/// How much more (or less) expressive Chatterbox is asked to be for an emphasis level,
/// added to the request's exaggeration and kept within its 0–2 range. Chatterbox's
/// exaggeration is its one knob for intensity; 0.15 per level is audible without tipping
/// the default 0.5 into the unstable range above ~1.
pub fn chatterbox_exaggeration(base: f32, emphasis: Emphasis) -> f32 {
    let delta = match emphasis {
        Emphasis::None => 0.0,
        Emphasis::Reduced => -0.15,
        Emphasis::Moderate => 0.15,
        Emphasis::Strong => 0.3,
    };
    (base + delta).clamp(0.0, 2.0)
}

/// How much longer the built-in voice holds each phoneme for an emphasis level (a
/// multiplier on its length scale): stressed words are spoken more slowly, reduced ones
/// a little faster; the graph has no other control over stress.
pub fn piper_emphasis_length(emphasis: Emphasis) -> f32 {
    match emphasis {
        Emphasis::None => 1.0,
        Emphasis::Reduced => 0.92,
        Emphasis::Moderate => 1.08,
        Emphasis::Strong => 1.15,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(ssml: Option<bool>) -> ScriptOptions<'static> {
        ScriptOptions {
            ssml,
            normalize: true,
            text: TextOptions::default(),
            chunks: ChunkOptions {
                enable_batching: false,
                smart_batch_short_sentences: false,
                max_chunk_chars: 300,
            },
            lexicons: &[],
            field: "text",
        }
    }

    #[test]
    fn plain_text_is_one_run() {
        let script = prepare("Hello there. It costs $5.", &options(None)).expect("script");
        assert!(!script.ssml);
        assert_eq!(script.parts.len(), 1);
        let Part::Speech { chunks, rate, .. } = &script.parts[0] else {
            panic!("speech expected: {script:?}");
        };
        assert_eq!(*rate, 1.0);
        assert!(chunks.join(" ").contains("five dollars"), "{chunks:?}");
    }

    #[test]
    fn chunks_know_where_they_came_from() {
        let text = "Dr. Who paid $5. Then   he left!  Bye.";
        let script = prepare(text, &options(None)).expect("script");
        let chunks: Vec<&String> = script.chunks().collect();
        assert_eq!(chunks.len(), 3, "{chunks:?}");
        assert!(chunks[0].contains("five dollars"), "{chunks:?}");
        let source = |i: usize| {
            let range = script.sources[i].clone().expect("plain text has sources");
            text.chars()
                .skip(range.start)
                .take(range.len())
                .collect::<String>()
        };
        assert_eq!(source(0), "Dr. Who paid $5.");
        assert_eq!(source(1), "Then   he left!");
        assert_eq!(source(2), "Bye.");
        // Grouped sentences span both.
        let mut batching = options(None);
        batching.chunks.smart_batch_short_sentences = true;
        let grouped = prepare(text, &batching).expect("script");
        assert_eq!(grouped.chunks().count(), 1);
        assert_eq!(grouped.sources, vec![Some(0..text.chars().count())]);
    }

    #[test]
    fn ssml_is_detected_and_split_into_parts() {
        let script = prepare(
            r#"<speak>One. <break time="700ms"/><prosody rate="slow">Two.</prosody> <phoneme ph="təˈmɑːtoʊ">tomato</phoneme></speak>"#,
            &options(None),
        )
        .expect("script");
        assert!(script.ssml);
        assert!(matches!(script.parts[1], Part::Pause { seconds } if (seconds - 0.7).abs() < 1e-6));
        assert!(
            matches!(&script.parts[2], Part::Speech { rate, .. } if (*rate - 0.75).abs() < 1e-6)
        );
        assert!(
            matches!(&script.parts[3], Part::Phonemes { ipa, fallback, .. } if ipa == "təˈmɑːtoʊ" && fallback == &vec!["tomato".to_owned()])
        );
        assert!((script.pause_seconds() - 0.7).abs() < 1e-6);
    }

    #[test]
    fn markup_can_be_read_as_plain_text_or_required() {
        let plain = prepare("<speak>Hi</speak>", &options(Some(false))).expect("plain");
        assert!(!plain.ssml);
        let error = prepare("Hello", &options(Some(true))).expect_err("not SSML");
        assert!(error.to_string().contains("<speak>"), "{error}");
    }

    #[test]
    fn unsupported_tags_are_refused_by_name() {
        let error =
            prepare("<speak><audio src='x.wav'/></speak>", &options(None)).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("<audio>"), "{text}");
    }

    #[test]
    fn only_pauses_is_nothing_to_speak() {
        let error =
            prepare(r#"<speak><break time="1s"/></speak>"#, &options(None)).expect_err("empty");
        assert!(error.to_string().contains("nothing to speak"), "{error}");
    }

    #[test]
    fn emphasis_maps_within_range() {
        assert_eq!(chatterbox_exaggeration(0.5, Emphasis::None), 0.5);
        assert!((chatterbox_exaggeration(0.5, Emphasis::Strong) - 0.8).abs() < 1e-6);
        assert_eq!(chatterbox_exaggeration(1.9, Emphasis::Strong), 2.0);
        assert_eq!(chatterbox_exaggeration(0.1, Emphasis::Reduced), 0.0);
        assert!(piper_emphasis_length(Emphasis::Strong) > 1.0);
    }
}
