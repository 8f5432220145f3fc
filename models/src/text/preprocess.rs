//! The original's request-level text clean-up (`to_lowercase`, `normalize_spacing`,
//! `fix_dot_letters`, `remove_reference_numbers`), applied in the original's order.

/// Which clean-up steps [`preprocess`] applies; the defaults are the original's (all on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Lowercase the whole text.
    pub to_lowercase: bool,
    /// Collapse every run of two or more whitespace characters into one space.
    pub normalize_spacing: bool,
    /// Turn dotted letter sequences into spaced letters: "U.S.A." becomes "U S A".
    pub fix_dot_letters: bool,
    /// Remove reference markers such as `[12]` and `(3)`.
    pub remove_reference_numbers: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            to_lowercase: true,
            normalize_spacing: true,
            fix_dot_letters: true,
            remove_reference_numbers: true,
        }
    }
}

/// Applies the enabled steps in the original's order (lowercase, spacing, dotted letters,
/// reference numbers) and trims the ends. Invisible characters are always removed first
/// (see [`strip_invisible`]).
pub fn preprocess(text: &str, options: &TextOptions) -> String {
    let text = strip_invisible(text);
    let mut text = if options.to_lowercase {
        text.to_lowercase()
    } else {
        text
    };
    if options.normalize_spacing {
        text = collapse_whitespace_runs(&text);
    }
    if options.fix_dot_letters {
        text = spread_dotted_letters(&text);
    }
    if options.remove_reference_numbers {
        text = remove_reference_numbers(&text);
    }
    text.trim().to_owned()
}

/// Removes what cannot be spoken and must not reach a phonemizer: control characters
/// (NUL, escapes; tabs and line breaks become spaces and newlines stay) and invisible
/// format characters (zero-width spaces and joiners, byte-order marks, bidirectional
/// overrides such as U+202E, soft hyphens, tag characters).
pub fn strip_invisible(text: &str) -> String {
    text.chars()
        .filter(|c| !is_format_character(*c))
        .map(|c| match c {
            '\n' => '\n',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// Whether the text has anything to say: at least one letter or digit once invisible
/// characters are gone ("...", "!!!", "()" and a lone BOM have not).
pub fn is_speakable(text: &str) -> bool {
    text.chars()
        .any(|c| !is_format_character(c) && c.is_alphanumeric())
}

/// Unicode's format characters (general category Cf) that occur in pasted text.
fn is_format_character(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// A single whitespace character is kept as is (the original only touched runs of two or
/// more), so a lone newline still separates paragraphs for the sentence splitter.
fn collapse_whitespace_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<char> = None;
    let mut run = 0usize;
    for c in text.chars() {
        if c.is_whitespace() {
            run += 1;
            pending = Some(c);
            continue;
        }
        flush_whitespace(&mut out, pending.take(), run);
        run = 0;
        out.push(c);
    }
    flush_whitespace(&mut out, pending, run);
    out
}

fn flush_whitespace(out: &mut String, last: Option<char>, run: usize) {
    match (last, run) {
        (Some(c), 1) => out.push(c),
        (Some(_), _) => out.push(' '),
        (None, _) => {}
    }
}

/// "U.S.A." → "U S A", "e.g." → "e g": two or more single letters each followed by a dot
/// (the last dot optional), standing alone as a word. A lone initial ("J. Smith") and
/// decimals ("3.5") are left alone.
fn spread_dotted_letters(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let at_word_start = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '.');
        if at_word_start && let Some((letters, end)) = dotted_letters_at(&chars, i) {
            for (n, letter) in letters.iter().enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                out.push(*letter);
            }
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The letters of a dotted sequence starting at `start`, and the index just past it.
fn dotted_letters_at(chars: &[char], start: usize) -> Option<(Vec<char>, usize)> {
    let is_letter = |j: usize| chars.get(j).is_some_and(|c| c.is_alphabetic());
    let mut letters = Vec::new();
    let mut j = start;
    // Each unit is one letter and a dot; the letter must not continue a longer word.
    while is_letter(j) && chars.get(j + 1) == Some(&'.') {
        letters.push(chars[j]);
        j += 2;
    }
    // "U.S.A" without the final dot: the last letter stands alone.
    if !letters.is_empty() && is_letter(j) && !chars.get(j + 1).is_some_and(|c| c.is_alphanumeric())
    {
        letters.push(chars[j]);
        j += 1;
    }
    let ends_word = !chars.get(j).is_some_and(|c| c.is_alphanumeric());
    (letters.len() >= 2 && ends_word).then_some((letters, j))
}

/// Removes `[n]` and `(n)` (n all digits) with the spaces just before them, so
/// "word [1]." becomes "word.".
fn remove_reference_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = reference_at(&chars, i) {
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn reference_at(chars: &[char], start: usize) -> Option<usize> {
    let close = match chars[start] {
        '[' => ']',
        '(' => ')',
        _ => return None,
    };
    let digits = chars[start + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let end = start + 1 + digits;
    (digits > 0 && chars.get(end) == Some(&close)).then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(step: fn(&mut TextOptions)) -> TextOptions {
        let mut options = TextOptions {
            to_lowercase: false,
            normalize_spacing: false,
            fix_dot_letters: false,
            remove_reference_numbers: false,
        };
        step(&mut options);
        options
    }

    #[test]
    fn nothing_to_speak_is_recognised() {
        for text in [
            "...",
            "-",
            "()",
            "!!!",
            "\0",
            "\u{200B}",
            "\u{FEFF}",
            "\u{202E}",
            "\u{7}\u{1b}",
            " \n\t ",
        ] {
            assert!(!is_speakable(text), "{text:?}");
        }
        for text in ["a", "42", "Hi.", "\u{202E}ok", "日本"] {
            assert!(is_speakable(text), "{text:?}");
        }
    }

    #[test]
    fn invisible_characters_never_reach_the_engines() {
        assert_eq!(
            strip_invisible("a\0b\u{200B}c\u{FEFF}\u{202E}d\te\nf"),
            "a bcd e\nf"
        );
        let cleaned = preprocess("\u{FEFF}Hello\u{200B} world\0.", &TextOptions::default());
        assert_eq!(cleaned, "hello world .");
    }

    #[test]
    fn defaults_are_the_originals() {
        let options = TextOptions::default();
        assert!(options.to_lowercase && options.normalize_spacing);
        assert!(options.fix_dot_letters && options.remove_reference_numbers);
    }

    #[test]
    fn lowercases() {
        let options = only(|o| o.to_lowercase = true);
        assert_eq!(preprocess("Hello WORLD", &options), "hello world");
    }

    #[test]
    fn collapses_whitespace_runs_but_keeps_single_characters() {
        let options = only(|o| o.normalize_spacing = true);
        assert_eq!(preprocess("a  b\t\tc\n\nd e\nf", &options), "a b c d e\nf");
    }

    #[test]
    fn spreads_dotted_letters() {
        let options = only(|o| o.fix_dot_letters = true);
        assert_eq!(
            preprocess("The U.S.A. is big", &options),
            "The U S A is big"
        );
        assert_eq!(preprocess("the u.s.a is", &options), "the u s a is");
        assert_eq!(preprocess("e.g. this", &options), "e g this");
        assert_eq!(
            preprocess("J. Smith paid 3.5 units.", &options),
            "J. Smith paid 3.5 units."
        );
        assert_eq!(preprocess("Mr. X.Y.Z.", &options), "Mr. X Y Z");
        assert_eq!(preprocess("www.a.b", &options), "www.a.b");
    }

    #[test]
    fn removes_reference_numbers() {
        let options = only(|o| o.remove_reference_numbers = true);
        assert_eq!(
            preprocess("Fact [12]. More (3) here", &options),
            "Fact. More here"
        );
        assert_eq!(
            preprocess("(a) and [x] and (12a)", &options),
            "(a) and [x] and (12a)"
        );
        assert_eq!(preprocess("end[1]", &options), "end");
    }

    #[test]
    fn steps_run_in_the_originals_order() {
        // Lowercasing first means dotted letters are found in lowercase form.
        let text = "The  U.S.A.  [1] Is Big.";
        assert_eq!(
            preprocess(text, &TextOptions::default()),
            "the u s a is big."
        );
    }

    #[test]
    fn all_off_only_trims() {
        let options = only(|_| {});
        assert_eq!(preprocess("  A  B.  ", &options), "A  B.");
    }
}
