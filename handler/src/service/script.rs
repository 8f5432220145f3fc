//! What a request asks an engine to say, in order: runs of text (already through the
//! lexicons, normalisation, the original's clean-up and chunking), pauses and IPA
//! phonemes. Plain text is one run; an SSML document (`<speak>…</speak>`, detected or
//! flagged) becomes as many as its markup asks for. Every dialect builds its script here
//! and every engine speaks one, so SSML and lexicons mean the same thing everywhere.

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
    let script = Script {
        parts,
        ssml: is_ssml,
        warnings,
    };
    if !script.speaks() {
        return Err(Error::invalid(
            options.field,
            "the text has nothing to speak once markup, reference numbers and spacing are removed",
        ));
    }
    Ok(script)
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
