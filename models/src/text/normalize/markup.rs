//! Markdown and emoji stripping for chat-style text: the markup is dropped and the words
//! kept, so that no engine reads out asterisks, pipes or pictographs.
//!
//! Hand-written scanners, linear in the input: link targets are found through precomputed
//! "next closing bracket" positions instead of searching again from every `[`.

/// Removes Markdown line by line: fenced-code fences, horizontal rules, headings, block
/// quotes, unordered list bullets, table pipes (separator rows vanish, cells are joined with
/// commas), images and links (their text stays), inline code backticks, and emphasis
/// markers. Headings, list items and table rows that lack final punctuation get a full
/// stop, so that they are spoken as sentences of their own rather than run into the next
/// line.
pub(super) fn strip_markdown(text: &str) -> String {
    // Lines that are only markup (fences, rules, table separators) go entirely, so that
    // they neither split a table's rows nor add a paragraph break.
    let lines: Vec<String> = text.split('\n').filter_map(strip_line).collect();
    lines.join("\n")
}

/// The line without its markup, or `None` when the line is nothing but markup.
fn strip_line(line: &str) -> Option<String> {
    let trimmed = line.trim();
    if trimmed.starts_with("```") || trimmed.starts_with("~~~") || is_rule(trimmed) {
        return None;
    }
    let mut body = trimmed;
    let mut block = false;
    // Block quotes nest (">>") and may hold any other block.
    while let Some(rest) = body.strip_prefix('>') {
        body = rest.trim_start();
    }
    if let Some(rest) = heading_text(body) {
        body = rest;
        block = true;
    } else if let Some(rest) = bullet_text(body) {
        body = rest;
        block = true;
    }
    let mut text = if body.starts_with('|') {
        if is_table_separator(body) {
            return None;
        }
        block = true;
        table_row(body)
    } else {
        body.to_owned()
    };
    text = strip_inline(&text);
    let text = text.trim();
    if block && text.ends_with(|c: char| c.is_alphanumeric()) {
        return Some(format!("{text}."));
    }
    Some(text.to_owned())
}

/// "---", "***", "___" (three or more, spaces allowed) on a line of their own.
fn is_rule(line: &str) -> bool {
    let compact: Vec<char> = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.len() >= 3
        && matches!(compact[0], '-' | '*' | '_')
        && compact.iter().all(|c| *c == compact[0])
}

/// The text of an ATX heading ("## Title ##"), without the hashes.
fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(rest.trim().trim_end_matches('#').trim_end())
}

/// The text of an unordered list item ("- item", "* item", "+ item"), without the bullet.
/// Ordered markers ("1.") stay: the number is part of what is said.
fn bullet_text(line: &str) -> Option<&str> {
    let mut chars = line.chars();
    let bullet = chars.next()?;
    if !matches!(bullet, '-' | '*' | '+' | '•') || !chars.next()?.is_whitespace() {
        return None;
    }
    let rest = line[bullet.len_utf8()..].trim_start();
    // Task lists: "- [ ] todo", "- [x] done".
    Some(
        ["[ ] ", "[x] ", "[X] "]
            .iter()
            .find_map(|box_| rest.strip_prefix(box_))
            .unwrap_or(rest),
    )
}

/// A table's header separator: "|---|:---:|".
fn is_table_separator(line: &str) -> bool {
    line.contains('-')
        && line
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// A table row's cells joined with commas: "| Name | Age |" becomes "Name, Age".
fn table_row(line: &str) -> String {
    let cells: Vec<&str> = line
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    cells.join(", ")
}

/// Inline markup: images and links keep their text, autolinks their address; backticks,
/// "~~" and emphasis "*" and "_" go, but only at word edges, so that "2*3" and snake_case
/// stay.
fn strip_inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let next_bracket = next_positions(&chars, ']');
    let next_paren = next_positions(&chars, ')');
    let next_angle = next_positions(&chars, '>');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let image = c == '!' && chars.get(i + 1) == Some(&'[');
        let open = if image { i + 1 } else { i };
        if chars.get(open) == Some(&'[')
            && let Some((label, end)) = link_at(&chars, open, &next_bracket, &next_paren)
        {
            out.extend(label.iter());
            i = end;
            continue;
        }
        if c == '<'
            && let Some(close) = next_angle[i]
        {
            let inner: String = chars[i + 1..close].iter().collect();
            if (inner.starts_with("http://") || inner.starts_with("https://"))
                && !inner.contains(char::is_whitespace)
            {
                out.push_str(&inner);
                i = close + 1;
                continue;
            }
        }
        let prev = if i == 0 { None } else { Some(chars[i - 1]) };
        let next = chars.get(i + 1).copied();
        let keep = match c {
            '`' => false,
            // "2*3" and a lone " * " are not emphasis.
            '*' => {
                let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
                let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
                (space(prev) && space(next)) || (word(prev) && word(next))
            }
            '~' => next != Some('~') && prev != Some('~'),
            '_' => {
                let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
                word(prev) && word(next)
            }
            _ => true,
        };
        if keep {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// For each position, where the next `target` at or after it is.
fn next_positions(chars: &[char], target: char) -> Vec<Option<usize>> {
    let mut next = vec![None; chars.len() + 1];
    for i in (0..chars.len()).rev() {
        next[i] = if chars[i] == target {
            Some(i)
        } else {
            next[i + 1]
        };
    }
    next
}

/// A link "[label](target)" opening at `open`: its label and the position after it.
fn link_at<'a>(
    chars: &'a [char],
    open: usize,
    next_bracket: &[Option<usize>],
    next_paren: &[Option<usize>],
) -> Option<(&'a [char], usize)> {
    let close = next_bracket[open + 1]?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = next_paren[close + 1]?;
    Some((&chars[open + 1..close], end + 1))
}

/// Removes emoji and other pictographs (with their variation selectors, skin tones,
/// joiners and keycap marks) and the space left before following punctuation, so that
/// "Done 🎉!" becomes "Done!".
pub(super) fn strip_emoji(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_pictograph(c) {
            out.push(c);
            continue;
        }
        while chars.peek().is_some_and(|c| is_pictograph(*c)) {
            chars.next();
        }
        let next = chars.peek().copied();
        if next.is_none_or(|c| matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '\n')) {
            let kept = out.trim_end_matches([' ', '\t']).len();
            out.truncate(kept);
        }
    }
    out
}

/// Emoji, pictographs and the invisible characters that build emoji sequences.
fn is_pictograph(c: char) -> bool {
    matches!(
        c,
        '\u{1F000}'..='\u{1FAFF}'
            | '\u{2600}'..='\u{27BF}'
            | '\u{2B00}'..='\u{2BFF}'
            | '\u{231A}'
            | '\u{231B}'
            | '\u{2328}'
            | '\u{23CF}'
            | '\u{23E9}'..='\u{23F3}'
            | '\u{23F8}'..='\u{23FA}'
            | '\u{3030}'
            | '\u{303D}'
            | '\u{3297}'
            | '\u{3299}'
            | '\u{200D}'
            | '\u{20E3}'
            | '\u{FE0E}'
            | '\u{FE0F}'
            | '\u{E0020}'..='\u{E007F}'
    )
}
