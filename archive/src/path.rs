//! Path rules shared by the writer and the reader, so nothing written is refused on read.

use crate::ArchiveError;
use crate::error::{quote, quote_bytes};

/// Longest path accepted, in bytes (S3's key limit).
pub const MAX_PATH_BYTES: usize = 1024;
/// Deepest path accepted, in `/`-separated segments (the object store's own limit, so
/// every stored key fits).
pub const MAX_PATH_SEGMENTS: usize = 32;

/// Checks that `path` is a safe relative path to restore: not empty, at most
/// [`MAX_PATH_BYTES`] bytes and [`MAX_PATH_SEGMENTS`] segments, not absolute, no empty,
/// `.` or `..` segment, no backslash (a separator on Windows), no NUL or other control
/// character.
pub fn validate_path(path: &str) -> Result<(), ArchiveError> {
    let refuse = |reason| {
        Err(ArchiveError::InvalidPath {
            path: quote(path),
            reason,
        })
    };
    if path.is_empty() {
        return refuse("empty path");
    }
    if path.len() > MAX_PATH_BYTES {
        return refuse("longer than 1024 bytes");
    }
    if path.starts_with('/') {
        return refuse("absolute path");
    }
    if path.contains('\\') {
        return refuse("contains a backslash");
    }
    if path.chars().any(char::is_control) {
        return refuse("contains a control character");
    }
    let mut segments = 0;
    for segment in path.split('/') {
        segments += 1;
        match segment {
            "" => return refuse("empty segment"),
            "." => return refuse("`.` segment"),
            ".." => return refuse("`..` segment"),
            _ => {}
        }
    }
    if segments > MAX_PATH_SEGMENTS {
        return refuse("deeper than 32 segments (the store's limit)");
    }
    Ok(())
}

/// Decodes a path read from an archive and validates it.
pub(crate) fn decode_path(bytes: &[u8]) -> Result<String, ArchiveError> {
    let path = std::str::from_utf8(bytes).map_err(|_| ArchiveError::InvalidPath {
        path: quote_bytes(bytes),
        reason: "not valid UTF-8",
    })?;
    validate_path(path)?;
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for path in [
            "a",
            "voices/narrators/anna.wav",
            "outputs/proj/x.mp3",
            "é/ü.wav",
            "a..b/.c",
        ] {
            assert!(validate_path(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn refuses_unsafe_paths() {
        let deep = vec!["d"; MAX_PATH_SEGMENTS + 1].join("/");
        let long = "x".repeat(MAX_PATH_BYTES + 1);
        for path in [
            "",
            "/abs",
            "../etc/passwd",
            "a/../b",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            "a\nb",
            "a\u{7f}b",
            "a\u{85}b",
            &deep,
            &long,
        ] {
            assert!(
                matches!(validate_path(path), Err(ArchiveError::InvalidPath { .. })),
                "{path:?}"
            );
        }
        let deepest = vec!["d"; MAX_PATH_SEGMENTS].join("/");
        assert!(validate_path(&deepest).is_ok());
        assert!(validate_path(&"x".repeat(MAX_PATH_BYTES)).is_ok());
    }

    #[test]
    fn refuses_invalid_utf8() {
        assert!(matches!(
            decode_path(b"a/\xff.wav"),
            Err(ArchiveError::InvalidPath {
                reason: "not valid UTF-8",
                ..
            })
        ));
    }
}
