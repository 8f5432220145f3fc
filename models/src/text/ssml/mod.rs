//! A parser for the subset of SSML the service speaks. [`parse`] turns a `<speak>` document
//! into a flat list of [`Segment`]s (text with a rate and an emphasis, pauses, IPA
//! phonemes) and refuses everything else with an [`SsmlError`] that names the tag or
//! attribute and the byte offset: markup is never spoken as text.
//!
//! Pure, never panics, linear time: one tokenizer pass and one pass over the tokens with
//! a stack at most [`MAX_DEPTH`] deep. Input over [`MAX_BYTES`] is refused.
//!
//! Supported:
//! - `<speak>` as the root (`version`, `xml:lang`, `xmlns`, `xmlns:*` ignored), optionally
//!   after an `<?xml …?>` declaration and comments;
//! - `<break time="500ms"|"1.5s" strength="…">`: `time` wins; strengths `none`, `x-weak`,
//!   `weak`, `medium`, `strong`, `x-strong` are 0, 0.1, 0.25, 0.4, 0.75, 1.25 s; neither
//!   attribute is `medium`; more than 10 s is an error; it must be empty;
//! - `<p>` ends with a 0.75 s pause, `<s>` ends its sentence with a full stop (unless it
//!   already ends in `.`, `!`, `?` or `…`) and a 0.3 s pause. These implicit pauses merge
//!   with an adjacent pause (the longer wins) and are dropped at the end of the document;
//!   an explicit `<break>` is never dropped, and two explicit ones stay two segments;
//! - `<sub alias="…">` speaks the alias;
//! - `<say-as interpret-as="…">`, written out in a form that
//!   [`normalize`](crate::text::normalize::normalize) reads correctly:
//!   `characters`/`spell-out` → the characters (letters upper-cased) separated by spaces
//!   ("abc" → "A B C"); `cardinal`/`number` → the digits without group separators
//!   ("1,234" → "1234"); `ordinal` → digits with a suffix ("3" → "3rd"); `date` with
//!   `format="mdy|dmy|ymd"` (default `ymd` when the first field has four digits, else
//!   `mdy`) → ISO "2024-03-05"; `telephone` → digits spaced, groups separated by commas,
//!   a leading `+` as "plus" ("+1 555-0100" → "plus 1, 5 5 5, 0 1 0 0");
//! - `<phoneme alphabet="ipa" ph="…">` (a missing alphabet means IPA) → a
//!   [`Segment::Phonemes`] with the content as the fallback;
//! - `<prosody rate="…">`: `x-slow` 0.5, `slow` 0.75, `medium` 1.0, `fast` 1.25, `x-fast`
//!   1.5, `80%` (of normal), `+20%`/`-20%` (relative), or a factor `1.2`; clamped to
//!   0.5–2.0 with a warning; `pitch` and `volume` are ignored with a warning;
//! - `<emphasis level="strong|moderate|reduced|none">` (default `moderate`).
//!
//! The innermost `<prosody>` and `<emphasis>` win. Whitespace runs collapse to one space.
//! Entities: `&amp; &lt; &gt; &quot; &apos;` and `&#123;`/`&#x7B;`. `<sub>`, `<say-as>`
//! and `<phoneme>` may contain only text.

mod build;
mod lexer;
mod say_as;
mod values;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_refusals;

/// Inputs longer than this many bytes are refused.
pub const MAX_BYTES: usize = 100_000;
/// Elements may nest at most this deep (`<speak>` counts as one).
pub const MAX_DEPTH: usize = 32;
/// The longest `<break>` accepted, in seconds.
pub const MAX_BREAK_SECONDS: f32 = 10.0;

/// The tags [`parse`] accepts, as named in [`SsmlError::UnsupportedTag`].
pub const SUPPORTED_TAGS: &str =
    "<speak>, <p>, <s>, <break>, <sub>, <say-as>, <phoneme>, <prosody>, <emphasis>";

/// How strongly a piece of text is stressed (`<emphasis level>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Emphasis {
    /// No emphasis: outside `<emphasis>`, or `level="none"`.
    #[default]
    None,
    /// `level="reduced"`.
    Reduced,
    /// `level="moderate"`, the default level.
    Moderate,
    /// `level="strong"`.
    Strong,
}

/// One thing to speak, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Text to speak, with `<sub>` and `<say-as>` already applied and whitespace collapsed.
    Text {
        /// The words, never empty.
        text: String,
        /// The prosody rate factor, 0.5–2.0, 1.0 by default.
        rate: f32,
        /// The emphasis level.
        emphasis: Emphasis,
    },
    /// A pause.
    Break {
        /// Its length in seconds, 0–10.
        seconds: f32,
    },
    /// Text given as IPA phonemes (`<phoneme alphabet="ipa">`).
    Phonemes {
        /// The IPA string from `ph`.
        ipa: String,
        /// The element's text, whitespace collapsed, for engines that cannot read IPA.
        fallback: String,
        /// The prosody rate factor.
        rate: f32,
    },
}

/// A parsed SSML document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// What to speak, in order.
    pub segments: Vec<Segment>,
    /// Things accepted but ignored (`pitch`, `volume`, a clamped rate, …).
    pub warnings: Vec<String>,
}

/// Why [`parse`] refused a document. Positions are byte offsets into the input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SsmlError {
    /// The input is longer than [`MAX_BYTES`].
    #[error("SSML input is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// The input length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Malformed XML (unterminated tag or comment, unquoted value, bad entity, …).
    #[error("malformed SSML at byte {pos}: {message}")]
    Syntax {
        /// What is wrong.
        message: String,
        /// Where.
        pos: usize,
    },
    /// There is no `<speak>` element at all.
    #[error("no <speak> element: SSML must be wrapped in <speak>…</speak>")]
    NoSpeak,
    /// The first element is not `<speak>`.
    #[error("SSML root must be <speak>, found <{tag}> at byte {pos}")]
    RootNotSpeak {
        /// The tag found.
        tag: String,
        /// Where.
        pos: usize,
    },
    /// A `<speak>` inside another element.
    #[error("<speak> must be the root, found nested in <{parent}> at byte {pos}")]
    NestedSpeak {
        /// The enclosing tag.
        parent: String,
        /// Where.
        pos: usize,
    },
    /// Non-whitespace text or an element before or after the `<speak>` element.
    #[error("text outside <speak> at byte {pos}")]
    TextOutsideSpeak {
        /// Where.
        pos: usize,
    },
    /// A tag this parser does not support.
    #[error("unsupported SSML tag <{tag}> at byte {pos}: supported are {SUPPORTED_TAGS}")]
    UnsupportedTag {
        /// The tag.
        tag: String,
        /// Where.
        pos: usize,
    },
    /// An attribute the tag does not take, or one given twice.
    #[error("unsupported attribute {attribute} on <{tag}> at byte {pos}: {allowed}")]
    UnknownAttribute {
        /// The tag.
        tag: String,
        /// The attribute.
        attribute: String,
        /// What the tag accepts (or "given twice").
        allowed: String,
        /// Where (the tag).
        pos: usize,
    },
    /// A required attribute is missing.
    #[error("<{tag}> at byte {pos} needs a {attribute} attribute")]
    MissingAttribute {
        /// The tag.
        tag: String,
        /// The attribute.
        attribute: String,
        /// Where.
        pos: usize,
    },
    /// An attribute value this parser cannot use.
    #[error("bad value {value:?} for {attribute} on <{tag}> at byte {pos}: {reason}")]
    BadAttributeValue {
        /// The tag.
        tag: String,
        /// The attribute.
        attribute: String,
        /// The value given.
        value: String,
        /// What is accepted.
        reason: String,
        /// Where (the tag).
        pos: usize,
    },
    /// Content a tag cannot interpret (`<say-as interpret-as="date">soon</say-as>`).
    #[error("bad content {content:?} in <{tag}> at byte {pos}: {reason}")]
    BadContent {
        /// The tag.
        tag: String,
        /// The content.
        content: String,
        /// What is accepted.
        reason: String,
        /// Where (the tag).
        pos: usize,
    },
    /// An element inside `<sub>`, `<say-as>` or `<phoneme>`, which take only text.
    #[error("<{tag}> may contain only text, found <{found}> at byte {pos}")]
    OnlyText {
        /// The enclosing tag.
        tag: String,
        /// The element found.
        found: String,
        /// Where.
        pos: usize,
    },
    /// A `<break>` with text or elements inside.
    #[error("<break> must be empty, found content at byte {pos}")]
    BreakWithContent {
        /// Where.
        pos: usize,
    },
    /// A tag opened and never closed.
    #[error("unclosed tag <{tag}> opened at byte {pos}")]
    Unclosed {
        /// The tag.
        tag: String,
        /// Where it was opened.
        pos: usize,
    },
    /// A closing tag that does not match the open one.
    #[error("mismatched closing tag </{found}> at byte {pos}: expected </{expected}>")]
    Mismatched {
        /// The tag that is open.
        expected: String,
        /// The closing tag found.
        found: String,
        /// Where.
        pos: usize,
    },
    /// A closing tag with nothing open.
    #[error("unexpected closing tag </{tag}> at byte {pos}")]
    UnexpectedClose {
        /// The tag.
        tag: String,
        /// Where.
        pos: usize,
    },
    /// Elements nested deeper than [`MAX_DEPTH`].
    #[error("SSML nested deeper than {MAX_DEPTH} elements at byte {pos}")]
    TooDeep {
        /// Where.
        pos: usize,
    },
}

/// Whether `text` is meant as SSML: after trimming it starts with `<speak` followed by
/// whitespace, `>` or `/` (the tag name is case-sensitive). A document that opens with an
/// `<?xml?>` declaration counts too when `<speak` follows it.
pub fn is_ssml(text: &str) -> bool {
    let mut rest = text.trim_start();
    if rest.starts_with("<?xml") {
        match rest.find("?>") {
            Some(end) => rest = rest[end + 2..].trim_start(),
            None => return false,
        }
    }
    rest.strip_prefix("<speak").is_some_and(|after| {
        after.starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace())
    })
}

/// Parses an SSML document into segments; see the module documentation for what is
/// accepted. Never panics; refuses anything it does not understand.
pub fn parse(text: &str) -> Result<Document, SsmlError> {
    if text.len() > MAX_BYTES {
        return Err(SsmlError::TooLarge {
            len: text.len(),
            max: MAX_BYTES,
        });
    }
    let tokens = lexer::tokenize(text)?;
    build::build(tokens)
}
