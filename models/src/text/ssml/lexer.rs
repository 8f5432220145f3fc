//! The XML tokenizer under the SSML parser: one linear pass that turns the input into
//! start tags, end tags, text and `<?xml?>` declarations, decoding entities and skipping
//! comments. It knows nothing about SSML tags; [`super::build`] checks those.

use super::SsmlError;

/// One attribute of a start tag, its value already entity-decoded.
pub(super) struct Attr<'a> {
    /// The attribute name as written (`xml:lang`, `time`).
    pub name: &'a str,
    /// The decoded value.
    pub value: String,
}

/// One piece of the input.
pub(super) enum Token<'a> {
    /// `<name a="v">` or, with `empty`, `<name a="v"/>`.
    Start {
        /// The tag name.
        name: &'a str,
        /// Its attributes in order.
        attrs: Vec<Attr<'a>>,
        /// Self-closing.
        empty: bool,
        /// Byte offset of the `<`.
        pos: usize,
    },
    /// `</name>`.
    End {
        /// The tag name.
        name: &'a str,
        /// Byte offset of the `<`.
        pos: usize,
    },
    /// Character data between tags, entity-decoded, whitespace as written.
    Text {
        /// The decoded text.
        text: String,
        /// Byte offset of its first byte.
        pos: usize,
    },
    /// An `<?xml …?>` declaration.
    Decl {
        /// Byte offset of the `<`.
        pos: usize,
    },
}

fn syntax(pos: usize, message: impl Into<String>) -> SsmlError {
    SsmlError::Syntax {
        message: message.into(),
        pos,
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':' | b'.')
}

/// Reads a name starting at `start`; returns it and the index after it.
fn read_name(src: &str, start: usize) -> (&str, usize) {
    let bytes = src.as_bytes();
    if start >= bytes.len() {
        return ("", start);
    }
    let mut end = start;
    while end < bytes.len() && is_name_byte(bytes[end]) {
        end += 1;
    }
    (&src[start..end], end)
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Splits `src` into tokens. Errors on malformed markup: unterminated tags or comments,
/// unquoted attribute values, unknown entities, `<!DOCTYPE>`/CDATA and processing
/// instructions other than `<?xml?>`.
pub(super) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, SsmlError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = bytes[i..]
                .iter()
                .position(|&c| c == b'<')
                .map_or(bytes.len(), |p| i + p);
            out.push(Token::Text {
                text: decode(&src[i..end], i)?,
                pos: i,
            });
            i = end;
            continue;
        }
        let rest = &src[i..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body
                .find("-->")
                .ok_or_else(|| syntax(i, "unterminated comment <!--"))?;
            i += 4 + end + 3;
        } else if rest.starts_with("<!") {
            return Err(syntax(
                i,
                "unsupported markup <!…> (DOCTYPE and CDATA are not allowed)",
            ));
        } else if rest.starts_with("<?") {
            let (name, _) = read_name(src, i + 2);
            if name != "xml" {
                return Err(syntax(
                    i,
                    format!("unsupported processing instruction <?{name}?>"),
                ));
            }
            let end = rest
                .find("?>")
                .ok_or_else(|| syntax(i, "unterminated <?xml declaration"))?;
            out.push(Token::Decl { pos: i });
            i += end + 2;
        } else if rest.starts_with("</") {
            let (name, j) = read_name(src, i + 2);
            if name.is_empty() {
                return Err(syntax(i, "expected a tag name after '</'"));
            }
            let j = skip_ws(bytes, j);
            if bytes.get(j) != Some(&b'>') {
                return Err(syntax(i, format!("unterminated closing tag </{name}>")));
            }
            out.push(Token::End { name, pos: i });
            i = j + 1;
        } else {
            let (token, next) = start_tag(src, i)?;
            out.push(token);
            i = next;
        }
    }
    Ok(out)
}

/// Reads the start tag whose `<` is at `pos`; returns it and the index after its `>`.
fn start_tag(src: &str, pos: usize) -> Result<(Token<'_>, usize), SsmlError> {
    let bytes = src.as_bytes();
    let (name, mut j) = read_name(src, pos + 1);
    if name.is_empty() {
        return Err(syntax(
            pos,
            "expected a tag name after '<' (write &lt; for a literal '<')",
        ));
    }
    let mut attrs = Vec::new();
    loop {
        let k = skip_ws(bytes, j);
        match bytes.get(k) {
            None => return Err(syntax(pos, format!("unterminated tag <{name}>"))),
            Some(b'>') => {
                let token = Token::Start {
                    name,
                    attrs,
                    empty: false,
                    pos,
                };
                return Ok((token, k + 1));
            }
            Some(b'/') if bytes.get(k + 1) == Some(&b'>') => {
                let token = Token::Start {
                    name,
                    attrs,
                    empty: true,
                    pos,
                };
                return Ok((token, k + 2));
            }
            Some(_) if k == j => {
                return Err(syntax(
                    k,
                    format!("malformed tag <{name}>: expected whitespace, '>' or '/>'"),
                ));
            }
            Some(_) => {
                let (attr, after) = read_name(src, k);
                if attr.is_empty() {
                    return Err(syntax(k, format!("malformed attribute in <{name}>")));
                }
                let eq = skip_ws(bytes, after);
                if bytes.get(eq) != Some(&b'=') {
                    return Err(syntax(
                        k,
                        format!("attribute {attr} in <{name}> needs =\"value\""),
                    ));
                }
                let q = skip_ws(bytes, eq + 1);
                let quote = match bytes.get(q) {
                    Some(&c @ (b'"' | b'\'')) => c,
                    _ => {
                        return Err(syntax(
                            q,
                            format!("value of {attr} in <{name}> must be quoted"),
                        ));
                    }
                };
                let len = bytes[q + 1..].iter().position(|&c| c == quote || c == b'<');
                let Some(len) = len.filter(|&l| bytes[q + 1 + l] == quote) else {
                    return Err(syntax(
                        q,
                        format!("unterminated value of {attr} in <{name}>"),
                    ));
                };
                let value = decode(&src[q + 1..q + 1 + len], q + 1)?;
                attrs.push(Attr { name: attr, value });
                j = q + 1 + len + 1;
            }
        }
    }
}

/// Decodes the five XML entities and numeric character references in `raw`, which starts
/// at byte `base` of the input.
pub(super) fn decode(raw: &str, base: usize) -> Result<String, SsmlError> {
    if !raw.contains('&') {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut offset = base;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.bytes().take(12).position(|c| c == b';');
        let Some(semi) = semi else {
            return Err(syntax(offset + amp, "bare '&' (write &amp;)"));
        };
        let name = &after[..semi];
        let ch = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => numeric_reference(name),
        };
        let Some(ch) = ch else {
            return Err(syntax(offset + amp, format!("unknown entity &{name};")));
        };
        out.push(ch);
        rest = &after[semi + 1..];
        offset += amp + 1 + semi + 1;
    }
    out.push_str(rest);
    Ok(out)
}

/// `#123` or `#x7B` → the character, if it is a valid non-NUL scalar value.
fn numeric_reference(name: &str) -> Option<char> {
    let digits = name.strip_prefix('#')?;
    let (digits, radix) = match digits.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16),
        None => (digits, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let code = u32::from_str_radix(digits, radix).ok()?;
    char::from_u32(code).filter(|&c| c != '\0')
}
