//! Writing: deterministic header blocks, padding, the end marker, and a lazy stream of
//! a whole archive that checks every body against its declared size.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, Stream, StreamExt};

use crate::ArchiveError;
use crate::header::{
    BLOCK_SIZE, MAX_OCTAL_SIZE, NAME, padding_len, pax_record, split_ustar, ustar_block,
};
use crate::path::validate_path;

/// The end-of-archive marker: two zero blocks.
pub const END: [u8; 2 * BLOCK_SIZE] = [0; 2 * BLOCK_SIZE];

/// Enough zeros for any padding, shared rather than allocated per entry.
static ZEROS: [u8; BLOCK_SIZE] = [0; BLOCK_SIZE];

/// Directory under which PAX extended headers are named (their name is informative only;
/// a fixed one keeps the output deterministic, unlike GNU tar's `PaxHeaders.<pid>`).
const PAX_HEADER_DIR: &str = "PaxHeaders/";

/// The end-of-archive marker ([`END`]) as [`Bytes`], without copying.
pub fn end() -> Bytes {
    Bytes::from_static(&END)
}

/// The zeros that follow a body of `size` bytes up to the next 512-byte boundary
/// (empty when `size` is a multiple of 512).
pub fn padding(size: u64) -> Bytes {
    // padding_len is below BLOCK_SIZE, so the cast cannot truncate.
    Bytes::from_static(&ZEROS[..padding_len(size) as usize])
}

/// The header block(s) for a regular file of `size` bytes at `path`.
///
/// One deterministic ustar block (mode 0644, uid/gid 0, no user or group name, mtime 0)
/// when the path is ASCII and fits ustar's name/prefix split and the size fits 11 octal
/// digits (under 8 GiB). Otherwise a PAX extended header (`PaxHeaders/<file name>`)
/// with `path` and/or `size` records comes first: non-ASCII paths always get one so that
/// every reader decodes them as UTF-8. Refuses paths that [`validate_path`] refuses, so
/// whatever is written can be read back by [`crate::TarStream`].
pub fn header_for(path: &str, size: u64) -> Result<Bytes, ArchiveError> {
    validate_path(path)?;
    let split = if path.is_ascii() {
        split_ustar(path)
    } else {
        None
    };
    let big = size > MAX_OCTAL_SIZE;
    if let (Some((prefix, name)), false) = (split, big) {
        return Ok(Bytes::copy_from_slice(&ustar_block(
            name.as_bytes(),
            prefix.as_bytes(),
            size,
            b'0',
        )));
    }

    let mut records = String::new();
    if split.is_none() {
        records.push_str(&pax_record("path", path));
    }
    if big {
        records.push_str(&pax_record("size", &size.to_string()));
    }
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let pax_name = format!(
        "{PAX_HEADER_DIR}{}",
        truncate(file_name, NAME.len() - PAX_HEADER_DIR.len())
    );
    // Readers that ignore PAX see a truncated name and, for big files, a size of 0 (as
    // Python's tarfile writes); PAX-aware readers use the records.
    let (prefix, name) = split.unwrap_or(("", truncate(path, NAME.len())));
    let records_len = records.len() as u64;
    let mut out = BytesMut::with_capacity(3 * BLOCK_SIZE + records.len());
    out.extend_from_slice(&ustar_block(pax_name.as_bytes(), b"", records_len, b'x'));
    out.extend_from_slice(records.as_bytes());
    out.extend_from_slice(&padding(records_len));
    out.extend_from_slice(&ustar_block(
        name.as_bytes(),
        prefix.as_bytes(),
        if big { 0 } else { size },
        b'0',
    ));
    Ok(out.freeze())
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// One archive entry for [`write_stream`]: its path, its declared size and its body.
pub type WriteEntry<E> = (String, u64, BoxStream<'static, Result<Bytes, E>>);

/// Streams a whole archive from `entries`, lazily: each entry's header, then its body
/// chunks as they come, then its padding; after the last entry, [`END`].
///
/// Nothing is buffered beyond one header. The stream yields an error, and then ends,
/// when `entries` or a body fails, when a path is refused by [`header_for`], or when a
/// body yields more bytes ([`ArchiveError::BodyTooLong`], before the extra bytes are
/// emitted) or fewer ([`ArchiveError::BodyTooShort`]) than declared: a consumer that
/// sees no error has a complete, valid archive.
pub fn write_stream<S, E>(entries: S) -> impl Stream<Item = Result<Bytes, E>>
where
    S: Stream<Item = Result<WriteEntry<E>, E>>,
    E: From<ArchiveError>,
{
    let writer = Writer {
        entries: Box::pin(entries),
        body: None,
        phase: Phase::Entries,
    };
    futures::stream::unfold(writer, |mut writer| async move {
        let item = writer.step().await?;
        Some((item, writer))
    })
}

/// Where [`write_stream`] stands.
enum Phase {
    /// Writing entries.
    Entries,
    /// [`END`] was emitted, or an error was: nothing more follows.
    Done,
}

/// The body being copied, with what is left of its declared size.
struct Body<E> {
    path: String,
    declared: u64,
    written: u64,
    chunks: BoxStream<'static, Result<Bytes, E>>,
}

/// The state behind [`write_stream`].
struct Writer<S, E> {
    entries: Pin<Box<S>>,
    body: Option<Body<E>>,
    phase: Phase,
}

impl<S, E> Writer<S, E>
where
    S: Stream<Item = Result<WriteEntry<E>, E>>,
    E: From<ArchiveError>,
{
    /// The next item of the archive stream; `None` once it has ended.
    async fn step(&mut self) -> Option<Result<Bytes, E>> {
        if let Phase::Done = self.phase {
            return None;
        }
        let item = self.advance().await;
        if item.is_err() {
            // An archive cut after an error must not look complete: no END follows.
            self.phase = Phase::Done;
        }
        Some(item)
    }

    /// The next bytes to emit: a body chunk, padding, a header or the end marker.
    async fn advance(&mut self) -> Result<Bytes, E> {
        loop {
            if let Some(body) = &mut self.body {
                match body.chunks.next().await {
                    Some(chunk) => {
                        let chunk = chunk?;
                        if chunk.len() as u64 > body.declared - body.written {
                            return Err(ArchiveError::BodyTooLong {
                                path: crate::error::quote(&body.path),
                                declared: body.declared,
                            }
                            .into());
                        }
                        body.written += chunk.len() as u64;
                        if !chunk.is_empty() {
                            return Ok(chunk);
                        }
                    }
                    None => {
                        if body.written != body.declared {
                            return Err(ArchiveError::BodyTooShort {
                                path: crate::error::quote(&body.path),
                                declared: body.declared,
                                actual: body.written,
                            }
                            .into());
                        }
                        let pad = padding(body.declared);
                        self.body = None;
                        if !pad.is_empty() {
                            return Ok(pad);
                        }
                    }
                }
                continue;
            }
            match self.entries.next().await {
                Some(entry) => {
                    let (path, declared, chunks) = entry?;
                    let header = header_for(&path, declared)?;
                    self.body = Some(Body {
                        path,
                        declared,
                        written: 0,
                        chunks,
                    });
                    return Ok(header);
                }
                None => {
                    self.phase = Phase::Done;
                    return Ok(end());
                }
            }
        }
    }
}
