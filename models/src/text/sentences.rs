//! Sentence splitting that never drops text (the original dropped sentences of three
//! characters or fewer, so "Hi." produced no audio).

/// Words that end with a dot without ending the sentence (compared lowercase, without the
/// dot). Kept to titles and a few Latin/reference forms: words like "etc." or "inc." end
/// sentences too often to be listed, and a missed split only makes a longer sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "rev", "fr", "gen", "col", "capt",
    "lt", "sgt", "gov", "sen", "rep", "hon", "pres", "vs", "cf", "approx", "fig", "vol", "dept",
];

/// Characters that may follow a sentence terminator and still belong to the sentence.
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '}' | '»')
}

/// Splits text into trimmed sentences at `.`, `!`, `?`, `…` (and runs such as `?!` or
/// `...`) followed by whitespace, and at blank lines. A dot after an abbreviation, an
/// initial, or a dotted form ("e.g.") does not split; decimals never do (no space after the
/// dot). A piece without letters or digits is joined to its neighbour, so nothing is lost.
pub fn split_sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces: Vec<String> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() && chars[j] != '\n' {
                j += 1;
            }
            if chars.get(j) == Some(&'\n') {
                push_piece(&mut pieces, &chars[start..i]);
                start = j + 1;
                i = j + 1;
                continue;
            }
        }
        if !matches!(c, '.' | '!' | '?' | '…') {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len() && matches!(chars[end], '.' | '!' | '?' | '…') {
            end += 1;
        }
        while end < chars.len() && is_closer(chars[end]) {
            end += 1;
        }
        let followed_by_space = chars.get(end).is_none_or(|c| c.is_whitespace());
        let single_dot = c == '.' && chars.get(i + 1) != Some(&'.');
        if followed_by_space && !(single_dot && dot_is_abbreviation(&chars[start..i])) {
            push_piece(&mut pieces, &chars[start..end]);
            start = end;
        }
        i = end.max(i + 1);
    }
    push_piece(&mut pieces, &chars[start..]);
    pieces
}

/// Whether the word just before a single dot marks an abbreviation rather than an end.
fn dot_is_abbreviation(before: &[char]) -> bool {
    let word_start = before
        .iter()
        .rposition(|c| c.is_whitespace() || matches!(c, '(' | '"' | '\'' | '“' | '‘'))
        .map_or(0, |p| p + 1);
    let word: String = before[word_start..].iter().collect();
    if word.is_empty() {
        return false;
    }
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    // "e.g" / "i.e" (an inner dot) and initials ("J") are abbreviations.
    if word.contains('.') || (letters == 1 && word.chars().count() == 1) {
        return true;
    }
    ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

/// Adds a trimmed piece; one without letters or digits joins the previous piece.
fn push_piece(pieces: &mut Vec<String>, chars: &[char]) {
    let piece: String = chars.iter().collect();
    let piece = piece.trim();
    if piece.is_empty() {
        return;
    }
    let speakable = piece.chars().any(char::is_alphanumeric);
    match pieces.last_mut() {
        Some(last) if !speakable => {
            last.push(' ');
            last.push_str(piece);
        }
        Some(last) if !last.chars().any(char::is_alphanumeric) => {
            last.push(' ');
            last.push_str(piece);
        }
        _ => pieces.push(piece.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        split_sentences(text)
    }

    #[test]
    fn keeps_short_sentences() {
        assert_eq!(split("Hi. Ok! Go?"), ["Hi.", "Ok!", "Go?"]);
        assert_eq!(split("Hi."), ["Hi."]);
    }

    #[test]
    fn does_not_split_abbreviations_initials_or_decimals() {
        assert_eq!(
            split("Mr. Smith paid 3.5 dollars. Dr. J. Who came."),
            ["Mr. Smith paid 3.5 dollars.", "Dr. J. Who came."]
        );
        assert_eq!(
            split("Use e.g. this one. Next."),
            ["Use e.g. this one.", "Next."]
        );
        assert_eq!(
            split("mr. smith is here. he left."),
            ["mr. smith is here.", "he left."]
        );
    }

    #[test]
    fn handles_runs_quotes_and_ellipses() {
        assert_eq!(
            split("Really?! \"Yes.\" Wait... what? Fine…  Ok."),
            ["Really?!", "\"Yes.\"", "Wait...", "what?", "Fine…", "Ok."]
        );
        assert_eq!(split("(It works.) Then"), ["(It works.)", "Then"]);
    }

    #[test]
    fn splits_at_blank_lines_and_keeps_unterminated_text() {
        assert_eq!(
            split("Title\n\nBody text\nmore"),
            ["Title", "Body text\nmore"]
        );
        assert_eq!(split("no end"), ["no end"]);
        assert!(split("  \n ").is_empty());
    }

    #[test]
    fn joins_pieces_without_words() {
        assert_eq!(split("Hello. ... Bye."), ["Hello. ...", "Bye."]);
        assert_eq!(split("?! Hello."), ["?! Hello."]);
    }

    #[test]
    fn dot_without_space_is_not_an_end() {
        assert_eq!(
            split("Visit example.com today. Ok."),
            ["Visit example.com today.", "Ok."]
        );
    }
}
