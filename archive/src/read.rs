//! Reading: a pull parser over a byte stream that yields one regular file at a time and
//! refuses anything unsafe or over its limits as soon as the header says so.
//!
//! Accepted: POSIX ustar (name + prefix), PAX 'x' headers (`path` and `size` records;
//! other keywords ignored), PAX 'g' global headers (ignored), GNU 'L' long names, old v7
//! headers (type flag NUL), GNU base-256 sizes (non-negative), contiguous files ('7', as
//! regular files). Directories ('5', or a v7 name ending in `/`) carry no data and are
//! skipped after their path is validated. Links, devices, FIFOs and unknown type flags
//! are refused. The end of the archive is two zero blocks, one zero block then EOF, or
//! EOF exactly at an entry boundary (see [`TarStream::end_marker_seen`]).

use std::error::Error as StdError;
use std::pin::Pin;

use bytes::{Buf, Bytes};
use futures::stream::{Stream, StreamExt};

use crate::ArchiveError;
use crate::error::{quote, quote_bytes};
use crate::header::{
    BLOCK_SIZE, MAX_EXTENDED_HEADER_BYTES, MAX_GNU_LONG_NAME_BYTES, NAME, PREFIX, PaxOverrides,
    SIZE, TYPEFLAG, checksum_ok, field_bytes, is_posix_ustar, padding_len, parse_pax, parse_size,
};
use crate::path::decode_path;

/// Most extended headers ('x', 'g', 'L') accepted in a row before an entry: real writers
/// put at most two; the bound stops a stream of them from being read forever as one entry.
const MAX_EXTENDED_HEADERS_PER_ENTRY: usize = 8;

/// Limits checked as each header is read, before any of the entry's body is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most regular files in the archive (skipped directories do not count).
    pub max_entries: u64,
    /// Largest declared size of one file, in bytes.
    pub max_entry_bytes: u64,
    /// Largest sum of the files' declared sizes, in bytes.
    pub max_total_bytes: u64,
}

/// A regular file found in the archive; its body follows through [`TarStream::read_chunk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// The validated relative path (see [`crate::validate_path`]).
    pub path: String,
    /// The body's size in bytes, already checked against the [`Limits`].
    pub size: u64,
}

/// Where the reader stands between calls.
enum State {
    /// At a header (or at the start).
    Header,
    /// Inside an entry: `remaining` body bytes, then `padding` zero bytes.
    Body {
        path: String,
        remaining: u64,
        padding: u64,
    },
    /// The archive ended; `marker` says whether with zero blocks.
    End { marker: bool },
    /// An error happened, or a `next_entry` call was dropped mid-way.
    Failed,
}

/// Extended headers read so far for the coming entry.
#[derive(Default)]
struct Pending {
    pax: Option<PaxOverrides>,
    long_name: Option<Vec<u8>>,
    count: usize,
}

/// A tar reader over a stream of byte chunks (an HTTP request body, a file).
///
/// Call [`next_entry`](Self::next_entry) for each file, then
/// [`read_chunk`](Self::read_chunk) until `None` for its body (or not: the next
/// `next_entry` skips what is left). Memory stays bounded: one header block, one
/// extended header of at most [`MAX_EXTENDED_HEADER_BYTES`], and the chunk being read,
/// whose slices are handed out without copying.
///
/// After any error every later call fails with [`ArchiveError::AlreadyFailed`].
/// `read_chunk` is cancel-safe; dropping a pending `next_entry` leaves the reader failed.
pub struct TarStream<S> {
    source: Pin<Box<S>>,
    /// The unconsumed rest of the last chunk from `source`.
    pending: Bytes,
    /// `source` has ended (it is not polled again).
    eof: bool,
    /// Archive bytes consumed so far, for error messages.
    offset: u64,
    limits: Limits,
    entries: u64,
    total_bytes: u64,
    state: State,
}

impl<S, E> TarStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    /// Reads the archive from `source` (chunks of any size, empty ones included) under
    /// `limits`.
    pub fn new(source: S, limits: Limits) -> Self {
        Self {
            source: Box::pin(source),
            pending: Bytes::new(),
            eof: false,
            offset: 0,
            limits,
            entries: 0,
            total_bytes: 0,
            state: State::Header,
        }
    }

    /// Whether the archive ended with a zero-block end marker. `false` while reading, and
    /// when the input stopped exactly at an entry boundary without one: that is accepted
    /// (an HTTP body cut elsewhere fails in the transport or mid-entry here), but a caller
    /// wanting proof of completeness can insist on this.
    pub fn end_marker_seen(&self) -> bool {
        matches!(self.state, State::End { marker: true })
    }

    /// The next regular file, or `None` at the end of the archive. Skips whatever is left
    /// of the previous entry's body, and any directories.
    pub async fn next_entry(&mut self) -> Result<Option<EntryHeader>, ArchiveError> {
        // Failed until this call completes, so a dropped call cannot leave the reader
        // in the middle of a header looking healthy.
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Failed => Err(ArchiveError::AlreadyFailed),
            State::End { marker } => {
                self.state = State::End { marker };
                Ok(None)
            }
            State::Header => self.read_header().await,
            State::Body {
                path,
                remaining,
                padding,
            } => {
                let what = || format!("the body of {:?}", quote(&path));
                self.skip(remaining, what).await?;
                self.skip(padding, what).await?;
                self.read_header().await
            }
        }
    }

    /// The next chunk of the current entry's body, or `None` at its end (and before the
    /// first entry, and after the archive's end). Chunks are slices of the input's chunks.
    pub async fn read_chunk(&mut self) -> Result<Option<Bytes>, ArchiveError> {
        let remaining = match &self.state {
            State::Failed => return Err(ArchiveError::AlreadyFailed),
            State::Body { remaining, .. } if *remaining > 0 => *remaining,
            _ => return Ok(None),
        };
        match self.fill().await {
            Ok(true) => {}
            Ok(false) => {
                let what = match &self.state {
                    State::Body { path, .. } => format!("the body of {:?}", quote(path)),
                    _ => "an entry's body".to_owned(),
                };
                self.state = State::Failed;
                return Err(self.truncated(what));
            }
            Err(error) => {
                self.state = State::Failed;
                return Err(error);
            }
        }
        // Bounded by the chunk's length, so the cast cannot truncate.
        let take = remaining.min(self.pending.len() as u64) as usize;
        let chunk = self.pending.split_to(take);
        self.offset += take as u64;
        if let State::Body { remaining, .. } = &mut self.state {
            *remaining -= take as u64;
        }
        Ok(Some(chunk))
    }

    /// Reads headers until a regular file (returned, state set to its body) or the end.
    async fn read_header(&mut self) -> Result<Option<EntryHeader>, ArchiveError> {
        let mut pending = Pending::default();
        loop {
            let offset = self.offset;
            let mut block = [0u8; BLOCK_SIZE];
            let filled = self.read_block(&mut block).await?;
            let announced = pending.pax.is_some() || pending.long_name.is_some();
            if filled == 0 && !announced {
                self.state = State::End { marker: false };
                return Ok(None);
            }
            if filled < BLOCK_SIZE {
                return Err(self.truncated("a header".to_owned()));
            }
            if block.iter().all(|&b| b == 0) {
                if announced {
                    return Err(malformed(
                        offset,
                        "extended header not followed by an entry",
                    ));
                }
                return self.read_end().await;
            }

            let name = || quote_bytes(field_bytes(&block[NAME]));
            if !checksum_ok(&block) {
                return Err(ArchiveError::BadChecksum {
                    name: name(),
                    offset,
                });
            }
            let header_size =
                parse_size(&block[SIZE]).ok_or_else(|| ArchiveError::InvalidNumber {
                    name: name(),
                    offset,
                    field: "size",
                })?;
            let typeflag = block[TYPEFLAG];
            if matches!(typeflag, b'x' | b'g' | b'L') {
                self.read_extended(typeflag, header_size, offset, &mut pending)
                    .await?;
                continue;
            }

            // Precedence as in GNU tar and Python: PAX, then GNU long name, then ustar.
            let raw_path = match (
                pending.pax.as_mut().and_then(|pax| pax.path.take()),
                pending.long_name.take(),
            ) {
                (Some(path), _) | (None, Some(path)) => path,
                (None, None) => ustar_path(&block),
            };
            let size = pending
                .pax
                .as_ref()
                .and_then(|pax| pax.size)
                .unwrap_or(header_size);
            pending = Pending::default();
            let refuse = |kind| {
                Err(ArchiveError::UnsupportedEntry {
                    path: quote_bytes(&raw_path),
                    kind,
                    typeflag: char::from(typeflag),
                })
            };
            match typeflag {
                b'0' | b'7' => {}
                0 if !raw_path.ends_with(b"/") => {}
                0 | b'5' => {
                    // A directory: nothing to restore, but a hostile name is still refused.
                    decode_path(raw_path.strip_suffix(b"/").unwrap_or(&raw_path))?;
                    if size != 0 {
                        return Err(malformed(offset, "directory entry with a body"));
                    }
                    continue;
                }
                b'1' => return refuse("hard link"),
                b'2' => return refuse("symbolic link"),
                b'3' => return refuse("character device"),
                b'4' => return refuse("block device"),
                b'6' => return refuse("FIFO"),
                _ => return refuse("unknown entry type"),
            }
            let path = decode_path(&raw_path)?;
            self.admit(&path, size)?;
            self.state = State::Body {
                path: path.clone(),
                remaining: size,
                padding: padding_len(size),
            };
            return Ok(Some(EntryHeader { path, size }));
        }
    }

    /// Reads (or skips, for 'g') an extended header's data into `pending`.
    async fn read_extended(
        &mut self,
        typeflag: u8,
        size: u64,
        offset: u64,
        pending: &mut Pending,
    ) -> Result<(), ArchiveError> {
        let bad = |reason| ArchiveError::BadExtendedHeader { offset, reason };
        pending.count += 1;
        if pending.count > MAX_EXTENDED_HEADERS_PER_ENTRY {
            return Err(bad("too many extended headers in a row"));
        }
        let limit = if typeflag == b'L' {
            MAX_GNU_LONG_NAME_BYTES
        } else {
            MAX_EXTENDED_HEADER_BYTES
        };
        if size > limit {
            return Err(ArchiveError::ExtendedHeaderTooLarge {
                offset,
                size,
                limit,
            });
        }
        let what = || "an extended header".to_owned();
        if typeflag == b'g' {
            // Global defaults (owners, times, charsets) mean nothing for a restore.
            self.skip(size + padding_len(size), what).await?;
            return Ok(());
        }
        // Bounded by `limit` above, so the cast cannot truncate.
        let mut data = Vec::with_capacity(size as usize);
        while (data.len() as u64) < size {
            if !self.fill().await? {
                return Err(self.truncated(what()));
            }
            let take = (size - data.len() as u64).min(self.pending.len() as u64) as usize;
            data.extend_from_slice(&self.pending[..take]);
            self.pending.advance(take);
            self.offset += take as u64;
        }
        self.skip(padding_len(size), what).await?;
        if typeflag == b'x' {
            if pending.pax.is_some() {
                return Err(bad("two PAX headers for one entry"));
            }
            pending.pax = Some(parse_pax(&data).map_err(bad)?);
        } else {
            if pending.long_name.is_some() {
                return Err(bad("two GNU long names for one entry"));
            }
            pending.long_name = Some(field_bytes(&data).to_vec());
        }
        Ok(())
    }

    /// After a first zero block: the end, if a second zero block or EOF follows.
    async fn read_end(&mut self) -> Result<Option<EntryHeader>, ArchiveError> {
        let offset = self.offset;
        let mut block = [0u8; BLOCK_SIZE];
        let filled = self.read_block(&mut block).await?;
        if block[..filled].iter().any(|&b| b != 0) {
            // tar stops at the first zero block; entries hidden behind one would be
            // restored by some tools and not others.
            return Err(malformed(
                offset,
                "data after a zero block (end-of-archive marker)",
            ));
        }
        // Bytes after the marker (writers pad to 10 KiB records) are left unread.
        self.state = State::End { marker: true };
        Ok(None)
    }

    /// Checks a file against the [`Limits`] and counts it.
    fn admit(&mut self, path: &str, size: u64) -> Result<(), ArchiveError> {
        let limits = self.limits;
        if size > limits.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                path: quote(path),
                size,
                limit: limits.max_entry_bytes,
            });
        }
        if self.entries >= limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                path: quote(path),
                limit: limits.max_entries,
            });
        }
        let total = self
            .total_bytes
            .checked_add(size)
            .filter(|&total| total <= limits.max_total_bytes)
            .ok_or_else(|| ArchiveError::TotalTooLarge {
                path: quote(path),
                limit: limits.max_total_bytes,
            })?;
        self.entries += 1;
        self.total_bytes = total;
        Ok(())
    }

    /// Makes `pending` non-empty; `false` at the end of the input.
    async fn fill(&mut self) -> Result<bool, ArchiveError> {
        while self.pending.is_empty() {
            if self.eof {
                return Ok(false);
            }
            match self.source.next().await {
                Some(Ok(chunk)) => self.pending = chunk,
                Some(Err(error)) => return Err(ArchiveError::Source(error.into())),
                None => self.eof = true,
            }
        }
        Ok(true)
    }

    /// Fills `block` from the input; returns how many bytes it got (fewer only at EOF).
    async fn read_block(&mut self, block: &mut [u8; BLOCK_SIZE]) -> Result<usize, ArchiveError> {
        let mut filled = 0;
        while filled < BLOCK_SIZE && self.fill().await? {
            let take = (BLOCK_SIZE - filled).min(self.pending.len());
            block[filled..filled + take].copy_from_slice(&self.pending[..take]);
            self.pending.advance(take);
            self.offset += take as u64;
            filled += take;
        }
        Ok(filled)
    }

    /// Discards `count` bytes of input; EOF first is a truncation inside `what`.
    async fn skip(
        &mut self,
        mut count: u64,
        what: impl Fn() -> String,
    ) -> Result<(), ArchiveError> {
        while count > 0 {
            if !self.fill().await? {
                return Err(self.truncated(what()));
            }
            let take = count.min(self.pending.len() as u64);
            // Bounded by the chunk's length, so the cast cannot truncate.
            self.pending.advance(take as usize);
            self.offset += take;
            count -= take;
        }
        Ok(())
    }

    /// The error for an input that ended inside `what`.
    fn truncated(&self, what: String) -> ArchiveError {
        ArchiveError::Truncated {
            offset: self.offset,
            what,
        }
    }
}

/// The path a ustar (or v7, or old GNU) header names: `prefix/name` when the POSIX magic
/// says the prefix field is one.
fn ustar_path(block: &[u8; BLOCK_SIZE]) -> Vec<u8> {
    let name = field_bytes(&block[NAME]);
    let prefix = if is_posix_ustar(block) {
        field_bytes(&block[PREFIX])
    } else {
        &[]
    };
    if prefix.is_empty() {
        return name.to_vec();
    }
    let mut path = Vec::with_capacity(prefix.len() + 1 + name.len());
    path.extend_from_slice(prefix);
    path.push(b'/');
    path.extend_from_slice(name);
    path
}

/// A structural error at `offset`.
fn malformed(offset: u64, reason: &'static str) -> ArchiveError {
    ArchiveError::Malformed { offset, reason }
}
