//! Splits text into words that keep their surrounding whitespace and punctuation, so that
//! the rules see "$3.50" in "($3.50)," and the output keeps the brackets and the comma.

/// One whitespace-separated word: `space` precedes it, `lead` and `trail` are the
/// punctuation around its `core`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token<'a> {
    /// The whitespace before the word, kept as written.
    pub space: &'a str,
    /// Opening punctuation: brackets and quotes.
    pub lead: &'a str,
    /// The word itself.
    pub core: &'a str,
    /// Closing punctuation: sentence marks, brackets and quotes.
    pub trail: &'a str,
}

impl Token<'_> {
    /// Whether the word starts with an uppercase letter (a name, a sentence start).
    pub fn capitalised(&self) -> bool {
        self.core.starts_with(char::is_uppercase)
    }
}

fn is_lead(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '"' | '\'' | '“' | '‘' | '«' | '¿' | '¡'
    )
}

fn is_trail(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '}' | '"' | '\'' | '”' | '’' | '»' | '…'
    )
}

/// The words of `text` in order. Whitespace after the last word is returned separately.
pub(super) fn tokenize(text: &str) -> (Vec<Token<'_>>, &str) {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        let word_start = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        let (space, after) = rest.split_at(word_start);
        if after.is_empty() {
            return (tokens, space);
        }
        let word_end = after.find(char::is_whitespace).unwrap_or(after.len());
        let (word, next) = after.split_at(word_end);
        tokens.push(split_word(space, word));
        rest = next;
    }
}

fn split_word<'a>(space: &'a str, word: &'a str) -> Token<'a> {
    let lead_end = word.find(|c: char| !is_lead(c)).unwrap_or(word.len());
    let (lead, body) = word.split_at(lead_end);
    let core_end = body
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_trail(*c))
        .last()
        .map_or(body.len(), |(i, _)| i);
    let (core, trail) = body.split_at(core_end);
    Token {
        space,
        lead,
        core,
        trail,
    }
}
