//! The one error type of the crate, shaped so that a handler can answer 400 or 413.

use std::error::Error as StdError;

/// Longest path or name quoted in an error message, in characters: hostile archives can
/// carry names of up to [`crate::MAX_EXTENDED_HEADER_BYTES`], which do not belong in logs
/// or HTTP responses.
const MAX_QUOTED_CHARS: usize = 200;

/// Everything that can go wrong writing or reading an archive.
///
/// Messages name the entry (or the byte offset of the header when no trusted name exists
/// yet) and are meant to be shown to the client. [`ArchiveError::is_too_large`] picks the
/// variants that mean "over a limit" (HTTP 413); the other reading errors mean a bad
/// archive (HTTP 400), except [`ArchiveError::Source`] (the byte stream itself failed)
/// and the writer's body-length errors, which are the server's own failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A path broke the rules of [`crate::validate_path`].
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The offending path (lossily decoded, truncated).
        path: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// An entry of a type other than a regular file or a directory (links, devices, FIFOs,
    /// unknown type flags): restoring one could point outside the store.
    #[error(
        "entry {path:?}: {kind} (type flag {typeflag:?}) is not accepted; only regular files and directories are"
    )]
    UnsupportedEntry {
        /// The entry's path (lossily decoded, truncated).
        path: String,
        /// What the type flag means, in words.
        kind: &'static str,
        /// The raw type flag.
        typeflag: char,
    },

    /// A header's checksum does not match its bytes: corruption, or not a tar at all.
    #[error(
        "header of {name:?} at byte {offset}: checksum mismatch (corrupt or not a tar archive)"
    )]
    BadChecksum {
        /// The name field as found (untrusted, lossily decoded, truncated).
        name: String,
        /// Offset of the header in the archive.
        offset: u64,
    },

    /// A numeric header field is not a valid octal (or base-256) number, or overflows.
    #[error("header of {name:?} at byte {offset}: invalid {field} field")]
    InvalidNumber {
        /// The name field as found (untrusted, lossily decoded, truncated).
        name: String,
        /// Offset of the header in the archive.
        offset: u64,
        /// Which field.
        field: &'static str,
    },

    /// The archive ended inside a header, an extended header or an entry's body.
    #[error("archive truncated at byte {offset}, inside {what}")]
    Truncated {
        /// Archive bytes read before the end.
        offset: u64,
        /// What was being read (`a header`, `the body of "a.wav"`, ...).
        what: String,
    },

    /// A PAX extended header or a GNU long name is malformed.
    #[error("extended header at byte {offset}: {reason}")]
    BadExtendedHeader {
        /// Offset of the extended header in the archive.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A PAX extended header or a GNU long name declares more bytes than this reader
    /// buffers. Not a [`Limits`](crate::Limits) limit: no well-formed backup comes close.
    #[error(
        "extended header at byte {offset} declares {size} bytes, more than the {limit} accepted"
    )]
    ExtendedHeaderTooLarge {
        /// Offset of the extended header in the archive.
        offset: u64,
        /// Its declared size.
        size: u64,
        /// The most accepted.
        limit: u64,
    },

    /// The archive's structure is wrong in some other way.
    #[error("malformed archive at byte {offset}: {reason}")]
    Malformed {
        /// Where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },

    /// An entry declares more bytes than [`Limits::max_entry_bytes`](crate::Limits).
    /// Too large (413).
    #[error("entry {path:?} declares {size} bytes, more than the {limit} allowed per entry")]
    EntryTooLarge {
        /// The entry.
        path: String,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// The archive has more entries than [`Limits::max_entries`](crate::Limits).
    /// Too large (413).
    #[error("entry {path:?} is one more than the {limit} entries allowed")]
    TooManyEntries {
        /// The first entry over the limit.
        path: String,
        /// The limit.
        limit: u64,
    },

    /// The entries' declared sizes add up to more than
    /// [`Limits::max_total_bytes`](crate::Limits). Too large (413).
    #[error("entry {path:?} brings the archive past the {limit} bytes allowed in total")]
    TotalTooLarge {
        /// The first entry over the limit.
        path: String,
        /// The limit.
        limit: u64,
    },

    /// Writing: an entry's body yielded more bytes than its declared size.
    #[error("entry {path:?}: body is longer than its declared {declared} bytes")]
    BodyTooLong {
        /// The entry.
        path: String,
        /// Its declared size.
        declared: u64,
    },

    /// Writing: an entry's body ended before its declared size.
    #[error("entry {path:?}: body ended after {actual} of its declared {declared} bytes")]
    BodyTooShort {
        /// The entry.
        path: String,
        /// Its declared size.
        declared: u64,
        /// Bytes it yielded.
        actual: u64,
    },

    /// Reading: the underlying byte stream failed (a client disconnect, an I/O error).
    #[error("reading the archive failed: {0}")]
    Source(#[source] Box<dyn StdError + Send + Sync>),

    /// Reading: a call after an earlier error. The stream's position is unknown then, so
    /// nothing more can be read from it.
    #[error("the archive reader already failed")]
    AlreadyFailed,
}

impl ArchiveError {
    /// Whether the error means "over a size or count limit" (HTTP 413) rather than a
    /// malformed or refused archive (HTTP 400).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Self::EntryTooLarge { .. } | Self::TooManyEntries { .. } | Self::TotalTooLarge { .. }
        )
    }
}

/// `text` shortened for an error message (whole characters, with a `...` when cut).
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Raw header bytes decoded lossily and shortened for an error message.
pub(crate) fn quote_bytes(bytes: &[u8]) -> String {
    quote(&String::from_utf8_lossy(bytes))
}
