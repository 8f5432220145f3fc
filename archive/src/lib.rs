//! Streamed tar archives (ustar + PAX) for backing up and restoring an object store.
//!
//! This crate knows nothing about HTTP or storage: it turns `(path, size, body)` entries
//! into tar bytes ([`write_stream`], or [`header_for`] + [`padding`] + [`END`] by hand)
//! and tar bytes back into entries ([`TarStream`]), always chunk by chunk, never holding
//! a whole entry or archive in memory.
//!
//! * **Deterministic writing**: the same entries always give the same bytes (mode 0644,
//!   uid/gid 0, no user or group names, mtime 0), so a backup of a restored backup is
//!   byte-identical to the original.
//! * **Hostile-input-safe reading**: every path is validated ([`validate_path`]), only
//!   regular files are yielded (directories are skipped, links and devices refused),
//!   declared sizes are checked against [`Limits`] as soon as a header is read, and memory
//!   stays bounded by a header block, one extended header (at most
//!   [`MAX_EXTENDED_HEADER_BYTES`]) and the incoming chunk.

mod error;
mod header;
mod path;
mod read;
mod write;

pub use error::ArchiveError;
pub use header::{BLOCK_SIZE, MAX_EXTENDED_HEADER_BYTES, MAX_GNU_LONG_NAME_BYTES};
pub use path::{MAX_PATH_BYTES, MAX_PATH_SEGMENTS, validate_path};
pub use read::{EntryHeader, Limits, TarStream};
pub use write::{END, WriteEntry, end, header_for, padding, write_stream};
