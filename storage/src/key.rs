//! Validated object keys and key prefixes: the only way a path reaches a backend.
//!
//! Every backend trusts a [`Key`] to be safe to join onto a directory or a bucket
//! prefix, so all the rules live here, once: no traversal, no absolute paths, no
//! backslashes, no control characters, bounded length and depth.

use std::fmt;

use crate::Error;

/// Longest key accepted, in bytes (S3's own limit).
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest single path segment accepted, in bytes (common filesystem limit).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Deepest nesting accepted (segments in a key).
pub const MAX_DEPTH: usize = 32;

/// A validated object key such as `voices/narrators/alice.wav`.
///
/// Segments are separated by `/`; none is empty, none is `.` or `..` or starts
/// with a dot (dot-files are reserved for backends' temporary files), and none
/// contains a backslash or a control character.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

impl Key {
    /// Validates `key` and wraps it.
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        validate_path(&key, false)?;
        Ok(Self(key))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment, e.g. `alice.wav` for `voices/narrators/alice.wav`.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The prefix holding this key, e.g. `voices/narrators/`; empty at the root.
    pub fn parent(&self) -> KeyPrefix {
        match self.0.rfind('/') {
            Some(idx) => KeyPrefix(self.0[..=idx].to_owned()),
            None => KeyPrefix::root(),
        }
    }

    /// The key with `suffix` appended to its last segment (`a.wav` + `.json`).
    pub fn with_suffix(&self, suffix: &str) -> Result<Self, Error> {
        Self::new(format!("{}{suffix}", self.0))
    }

    /// Whether the key lies under `prefix`.
    pub fn starts_with(&self, prefix: &KeyPrefix) -> bool {
        self.0.starts_with(prefix.as_str())
    }

    /// The key with `prefix` removed, if it lies under it.
    pub fn strip_prefix(&self, prefix: &KeyPrefix) -> Option<&str> {
        self.0.strip_prefix(prefix.as_str())
    }

    /// Iterates over the segments of the key.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A validated key prefix: empty (the root) or segments ending in `/`, such as
/// `outputs/book1/`. Listing takes a prefix, never a raw string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// The empty prefix: everything in the store.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Validates a directory-like prefix. A missing trailing `/` is added, so
    /// `outputs/book1` and `outputs/book1/` are the same prefix.
    pub fn new(prefix: impl Into<String>) -> Result<Self, Error> {
        let mut prefix = prefix.into();
        if prefix.is_empty() {
            return Ok(Self::root());
        }
        if prefix.ends_with('/') {
            prefix.pop();
        }
        validate_path(&prefix, true)?;
        prefix.push('/');
        Ok(Self(prefix))
    }

    /// The prefix as a string (empty, or ending in `/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the root prefix.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// A key directly under this prefix; `name` may itself contain `/`.
    pub fn join(&self, name: &str) -> Result<Key, Error> {
        Key::new(format!("{}{name}", self.0))
    }

    /// A prefix nested under this one.
    pub fn child(&self, name: &str) -> Result<KeyPrefix, Error> {
        KeyPrefix::new(format!("{}{name}", self.0))
    }

    /// Whether `other` lies under (or equals) this prefix.
    pub fn contains(&self, other: &KeyPrefix) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The prefix without its trailing `/` (empty at the root).
    pub fn trimmed(&self) -> &str {
        self.0.strip_suffix('/').unwrap_or(&self.0)
    }
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPrefix({:?})", self.0)
    }
}

fn validate_path(path: &str, is_prefix: bool) -> Result<(), Error> {
    let invalid = |reason: &'static str| Error::InvalidKey {
        key: path.chars().take(200).collect(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("is empty"));
    }
    // A prefix gets its trailing slash back, so it must leave room for it.
    let limit = if is_prefix {
        MAX_KEY_BYTES - 1
    } else {
        MAX_KEY_BYTES
    };
    if path.len() > limit {
        return Err(invalid("is longer than 1024 bytes"));
    }
    if path.starts_with('/') {
        return Err(invalid("is absolute"));
    }
    if path.contains('\\') {
        return Err(invalid("contains a backslash"));
    }
    if path.chars().any(char::is_control) {
        return Err(invalid("contains a control character"));
    }
    let mut depth = 0;
    for segment in path.split('/') {
        depth += 1;
        if segment.is_empty() {
            return Err(invalid("has an empty path segment"));
        }
        if segment == "." || segment == ".." {
            return Err(invalid("contains a relative path segment"));
        }
        if segment.starts_with('.') {
            return Err(invalid("has a segment starting with a dot"));
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            return Err(invalid("has a segment longer than 255 bytes"));
        }
    }
    if depth > MAX_DEPTH {
        return Err(invalid("is nested too deeply"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_nested_keys() {
        let key = Key::new("voices/narrators/alice.wav").unwrap();
        assert_eq!(key.file_name(), "alice.wav");
        assert_eq!(key.parent().as_str(), "voices/narrators/");
        assert_eq!(
            key.with_suffix(".json").unwrap().as_str(),
            "voices/narrators/alice.wav.json"
        );
        assert_eq!(Key::new("a.wav").unwrap().parent(), KeyPrefix::root());
    }

    #[test]
    fn rejects_traversal_and_hostile_names() {
        for bad in [
            "",
            "/etc/passwd",
            "../secret",
            "voices/../../x",
            "voices/./x",
            "voices//x",
            "voices/x/",
            "voices\\x",
            "voices/.hidden",
            "voices/a\u{0}b",
            "voices/a\nb",
            "voices/a\u{7f}b",
        ] {
            assert!(Key::new(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Key::new("a/".repeat(40) + "b").is_err(), "too deep");
        assert!(Key::new("x".repeat(256)).is_err(), "segment too long");
        assert!(
            Key::new("a/".repeat(5) + &"y".repeat(1020)).is_err(),
            "key too long"
        );
    }

    #[test]
    fn prefixes_normalise_the_trailing_slash() {
        assert_eq!(
            KeyPrefix::new("outputs/book1").unwrap().as_str(),
            "outputs/book1/"
        );
        assert_eq!(
            KeyPrefix::new("outputs/book1/").unwrap().as_str(),
            "outputs/book1/"
        );
        assert!(KeyPrefix::new("").unwrap().is_root());
        assert!(KeyPrefix::new("outputs//").is_err());
        assert!(KeyPrefix::new("outputs/../voices").is_err());
        let prefix = KeyPrefix::new("outputs").unwrap();
        assert_eq!(prefix.join("a/b.wav").unwrap().as_str(), "outputs/a/b.wav");
        assert!(prefix.join("../b.wav").is_err());
        assert!(prefix.contains(&KeyPrefix::new("outputs/x").unwrap()));
        assert_eq!(prefix.trimmed(), "outputs");
    }
}
