//! The second pass of the SSML parser: walks the tokens with a stack of open elements,
//! checks tags and attributes, and collects the [`Segment`]s.

use super::lexer::{Attr, Token};
use super::values::{break_seconds, prosody_rate};
use super::{Document, Emphasis, MAX_DEPTH, Segment, SsmlError, say_as};

/// An open element and what it needs when it closes.
enum Kind {
    Speak,
    Paragraph,
    /// `<s>`, with the number of segments before it.
    Sentence(usize),
    Break(f32),
    Sub(String),
    SayAs {
        interpret: String,
        format: Option<String>,
    },
    Phoneme(String),
    Prosody,
    Emphasis,
}

struct Frame {
    name: &'static str,
    kind: Kind,
    pos: usize,
    rate: f32,
    emphasis: Emphasis,
    /// The text of `<sub>`, `<say-as>` and `<phoneme>`.
    content: String,
}

impl Frame {
    fn collects_text(&self) -> bool {
        matches!(
            self.kind,
            Kind::Sub(_) | Kind::SayAs { .. } | Kind::Phoneme(_)
        )
    }
}

/// The segments so far plus the text not yet turned into one.
#[derive(Default)]
struct Builder {
    doc: Document,
    buf: String,
    style: (f32, Emphasis),
    /// The last segment is a pause added by `<p>`/`<s>`, dropped at the end.
    tail_implicit: bool,
}

impl Builder {
    fn text(&mut self, text: &str, rate: f32, emphasis: Emphasis) {
        if text.trim().is_empty() {
            if !text.is_empty() && !self.buf.is_empty() && !self.buf.ends_with(' ') {
                self.buf.push(' ');
            }
            return;
        }
        if self.style != (rate, emphasis) {
            self.flush();
            self.style = (rate, emphasis);
        }
        for c in text.chars() {
            if !c.is_whitespace() {
                self.buf.push(c);
            } else if !self.buf.is_empty() && !self.buf.ends_with(' ') {
                self.buf.push(' ');
            }
        }
    }

    fn flush(&mut self) {
        let text = self.buf.trim();
        if !text.is_empty() {
            let (rate, emphasis) = self.style;
            let text = text.to_owned();
            self.push(Segment::Text {
                text,
                rate,
                emphasis,
            });
        }
        self.buf.clear();
    }

    fn push(&mut self, segment: Segment) {
        self.doc.segments.push(segment);
        self.tail_implicit = false;
    }

    /// An implicit pause after `<p>` or `<s>`: merged with a pause just before it.
    fn pause(&mut self, seconds: f32) {
        self.flush();
        match self.doc.segments.last_mut() {
            None => {}
            Some(Segment::Break { seconds: last }) => *last = last.max(seconds),
            Some(_) => {
                self.push(Segment::Break { seconds });
                self.tail_implicit = true;
            }
        }
    }

    /// A `<break>`: merged into an implicit pause just before it (the longer wins).
    fn explicit_pause(&mut self, seconds: f32) {
        self.flush();
        if self.tail_implicit
            && let Some(Segment::Break { seconds: last }) = self.doc.segments.last_mut()
        {
            *last = last.max(seconds);
            self.tail_implicit = false;
            return;
        }
        self.push(Segment::Break { seconds });
    }

    /// Ends the sentence begun when the document had `start` segments with a full stop.
    fn end_sentence(&mut self, start: usize) {
        self.flush();
        if self.doc.segments.len() <= start {
            return;
        }
        if let Some(Segment::Text { text, .. }) = self.doc.segments.last_mut() {
            let core = text.trim_end_matches(['"', '\'', ')', ']', '\u{201d}', '\u{2019}']);
            if !core.ends_with(['.', '!', '?', '\u{2026}']) {
                text.push('.');
            }
        }
    }

    fn finish(mut self) -> Document {
        self.flush();
        if self.tail_implicit {
            self.doc.segments.pop();
        }
        self.doc
    }
}

/// Builds the document from the tokens.
pub(super) fn build(tokens: Vec<Token<'_>>) -> Result<Document, SsmlError> {
    let mut builder = Builder {
        style: (1.0, Emphasis::None),
        ..Builder::default()
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut root_seen = false;
    for token in tokens {
        match token {
            Token::Decl { pos } => {
                if root_seen {
                    return Err(SsmlError::Syntax {
                        message: "<?xml?> declaration is allowed only before <speak>".into(),
                        pos,
                    });
                }
            }
            Token::Text { text, pos } => match stack.last_mut() {
                None if text.trim().is_empty() => {}
                None => return Err(SsmlError::TextOutsideSpeak { pos }),
                Some(frame) if matches!(frame.kind, Kind::Break(_)) => {
                    if !text.trim().is_empty() {
                        return Err(SsmlError::BreakWithContent { pos });
                    }
                }
                Some(frame) if frame.collects_text() => frame.content.push_str(&text),
                Some(frame) => builder.text(&text, frame.rate, frame.emphasis),
            },
            Token::Start {
                name,
                attrs,
                empty,
                pos,
            } => {
                let parent = stack.last();
                match parent {
                    None if root_seen => return Err(SsmlError::TextOutsideSpeak { pos }),
                    None if name != "speak" => {
                        return Err(SsmlError::RootNotSpeak {
                            tag: name.into(),
                            pos,
                        });
                    }
                    Some(p) if matches!(p.kind, Kind::Break(_)) => {
                        return Err(SsmlError::BreakWithContent { pos });
                    }
                    Some(p) if p.collects_text() => {
                        let (tag, found) = (p.name.into(), name.into());
                        return Err(SsmlError::OnlyText { tag, found, pos });
                    }
                    Some(p) if name == "speak" => {
                        return Err(SsmlError::NestedSpeak {
                            parent: p.name.into(),
                            pos,
                        });
                    }
                    _ => {}
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(SsmlError::TooDeep { pos });
                }
                let frame = open(name, &attrs, pos, parent, &mut builder)?;
                root_seen = true;
                if empty {
                    close(frame, &mut builder)?;
                } else {
                    stack.push(frame);
                }
            }
            Token::End { name, pos } => {
                let Some(frame) = stack.pop() else {
                    return Err(SsmlError::UnexpectedClose {
                        tag: name.into(),
                        pos,
                    });
                };
                if frame.name != name {
                    let (expected, found) = (frame.name.into(), name.into());
                    return Err(SsmlError::Mismatched {
                        expected,
                        found,
                        pos,
                    });
                }
                close(frame, &mut builder)?;
            }
        }
    }
    if let Some(frame) = stack.last() {
        return Err(SsmlError::Unclosed {
            tag: frame.name.into(),
            pos: frame.pos,
        });
    }
    if !root_seen {
        return Err(SsmlError::NoSpeak);
    }
    Ok(builder.finish())
}

/// Checks that `attrs` are all in `allowed` and none is repeated.
fn check_attrs(
    tag: &str,
    attrs: &[Attr<'_>],
    allowed: &[&str],
    pos: usize,
) -> Result<(), SsmlError> {
    let mut seen = [false; 4];
    for attr in attrs {
        let known = allowed.iter().position(|&a| a == attr.name);
        let ignored_ns = tag == "speak" && attr.name.starts_with("xmlns:");
        let problem = match known {
            Some(i) if seen.get(i).copied().unwrap_or(false) => Some("given twice".to_owned()),
            Some(i) => {
                if let Some(s) = seen.get_mut(i) {
                    *s = true;
                }
                None
            }
            None if ignored_ns => None,
            None if allowed.is_empty() => Some(format!("<{tag}> takes no attributes")),
            None => Some(format!("<{tag}> accepts {}", allowed.join(", "))),
        };
        if let Some(allowed) = problem {
            let (tag, attribute) = (tag.into(), attr.name.into());
            return Err(SsmlError::UnknownAttribute {
                tag,
                attribute,
                allowed,
                pos,
            });
        }
    }
    Ok(())
}

pub(super) fn get<'a>(attrs: &'a [Attr<'_>], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

pub(super) fn bad(tag: &str, attribute: &str, value: &str, reason: &str, pos: usize) -> SsmlError {
    SsmlError::BadAttributeValue {
        tag: tag.into(),
        attribute: attribute.into(),
        value: value.into(),
        reason: reason.into(),
        pos,
    }
}

fn required<'a>(
    tag: &str,
    attrs: &'a [Attr<'_>],
    name: &str,
    pos: usize,
) -> Result<&'a str, SsmlError> {
    get(attrs, name).ok_or_else(|| SsmlError::MissingAttribute {
        tag: tag.into(),
        attribute: name.into(),
        pos,
    })
}

/// Opens element `name`, checking its attributes.
fn open(
    name: &str,
    attrs: &[Attr<'_>],
    pos: usize,
    parent: Option<&Frame>,
    builder: &mut Builder,
) -> Result<Frame, SsmlError> {
    let (mut rate, mut emphasis) = parent.map_or((1.0, Emphasis::None), |p| (p.rate, p.emphasis));
    let (name, kind): (&'static str, Kind) = match name {
        "speak" => {
            check_attrs(name, attrs, &["version", "xml:lang", "xmlns"], pos)?;
            ("speak", Kind::Speak)
        }
        "p" | "s" => {
            check_attrs(name, attrs, &["xml:lang"], pos)?;
            if name == "p" {
                ("p", Kind::Paragraph)
            } else {
                builder.flush();
                ("s", Kind::Sentence(builder.doc.segments.len()))
            }
        }
        "break" => {
            check_attrs(name, attrs, &["time", "strength"], pos)?;
            ("break", Kind::Break(break_seconds(attrs, pos)?))
        }
        "sub" => {
            check_attrs(name, attrs, &["alias"], pos)?;
            (
                "sub",
                Kind::Sub(required(name, attrs, "alias", pos)?.to_owned()),
            )
        }
        "say-as" => {
            check_attrs(name, attrs, &["interpret-as", "format"], pos)?;
            let interpret = required(name, attrs, "interpret-as", pos)?;
            if !say_as::INTERPRETATIONS.contains(&interpret) {
                let reason = format!(
                    "interpret-as accepts {}",
                    say_as::INTERPRETATIONS.join(", ")
                );
                return Err(bad(name, "interpret-as", interpret, &reason, pos));
            }
            let format = get(attrs, "format");
            if let Some(f) = format {
                if !["mdy", "dmy", "ymd"].contains(&f) {
                    return Err(bad(name, "format", f, "format accepts mdy, dmy, ymd", pos));
                }
                if interpret != "date" {
                    let w = format!("format=\"{f}\" ignored for interpret-as=\"{interpret}\"");
                    builder.doc.warnings.push(w);
                }
            }
            let (interpret, format) = (interpret.to_owned(), format.map(str::to_owned));
            ("say-as", Kind::SayAs { interpret, format })
        }
        "phoneme" => {
            check_attrs(name, attrs, &["alphabet", "ph"], pos)?;
            if let Some(alphabet) = get(attrs, "alphabet").filter(|&a| a != "ipa") {
                return Err(bad(
                    name,
                    "alphabet",
                    alphabet,
                    "only alphabet=\"ipa\" is supported",
                    pos,
                ));
            }
            let ph = required(name, attrs, "ph", pos)?;
            if ph.trim().is_empty() {
                return Err(bad(name, "ph", ph, "ph must not be empty", pos));
            }
            ("phoneme", Kind::Phoneme(ph.trim().to_owned()))
        }
        "prosody" => {
            check_attrs(name, attrs, &["rate", "pitch", "volume"], pos)?;
            for ignored in ["pitch", "volume"] {
                if get(attrs, ignored).is_some() {
                    let w = format!(
                        "<prosody {ignored}> at byte {pos} is not supported and was ignored"
                    );
                    builder.doc.warnings.push(w);
                }
            }
            if let Some(value) = get(attrs, "rate") {
                rate = prosody_rate(value, pos, &mut builder.doc.warnings)?;
            }
            ("prosody", Kind::Prosody)
        }
        "emphasis" => {
            check_attrs(name, attrs, &["level"], pos)?;
            emphasis = match get(attrs, "level").unwrap_or("moderate") {
                "strong" => Emphasis::Strong,
                "moderate" => Emphasis::Moderate,
                "reduced" => Emphasis::Reduced,
                "none" => Emphasis::None,
                other => {
                    let reason = "level accepts strong, moderate, reduced, none";
                    return Err(bad(name, "level", other, reason, pos));
                }
            };
            ("emphasis", Kind::Emphasis)
        }
        other => {
            return Err(SsmlError::UnsupportedTag {
                tag: other.into(),
                pos,
            });
        }
    };
    Ok(Frame {
        name,
        kind,
        pos,
        rate,
        emphasis,
        content: String::new(),
    })
}

/// Closes an element: emits what it stands for.
fn close(frame: Frame, builder: &mut Builder) -> Result<(), SsmlError> {
    let Frame {
        kind,
        pos,
        rate,
        emphasis,
        content,
        ..
    } = frame;
    match kind {
        Kind::Speak | Kind::Prosody | Kind::Emphasis => {}
        Kind::Paragraph => builder.pause(0.75),
        Kind::Sentence(start) => {
            builder.end_sentence(start);
            builder.pause(0.3);
        }
        Kind::Break(seconds) => builder.explicit_pause(seconds),
        Kind::Sub(alias) => builder.text(&alias, rate, emphasis),
        Kind::SayAs { interpret, format } => {
            let spoken = say_as::render(&interpret, format.as_deref(), &content, pos)?;
            builder.text(&spoken, rate, emphasis);
        }
        Kind::Phoneme(ipa) => {
            builder.flush();
            let fallback = content.split_whitespace().collect::<Vec<_>>().join(" ");
            builder.push(Segment::Phonemes {
                ipa,
                fallback,
                rate,
            });
        }
    }
    Ok(())
}
