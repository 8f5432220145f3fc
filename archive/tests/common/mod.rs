//! Helpers shared by the integration tests: hand-built tar blocks (independent of the
//! crate's writer), chunked input streams and whole-archive readers and writers.

#![allow(dead_code)]

use std::io;

use archive::{ArchiveError, Limits, TarStream, WriteEntry};
use bytes::Bytes;
use futures::executor::block_on;
use futures::stream::{self, Stream, StreamExt};

/// Limits that never trigger.
pub const UNLIMITED: Limits = Limits {
    max_entries: u64::MAX,
    max_entry_bytes: u64::MAX,
    max_total_bytes: u64::MAX,
};

/// A ustar header block built by hand: `name` in the name field, `size` as 11 octal
/// digits, the POSIX magic, and a correct checksum.
pub fn block(name: &[u8], size: u64, typeflag: u8) -> [u8; 512] {
    let mut block = [0u8; 512];
    block[..name.len()].copy_from_slice(name);
    block[100..108].copy_from_slice(b"0000644\0");
    block[108..116].copy_from_slice(b"0000000\0");
    block[116..124].copy_from_slice(b"0000000\0");
    block[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    block[136..148].copy_from_slice(b"00000000000\0");
    block[156] = typeflag;
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    fix_checksum(&mut block);
    block
}

/// Recomputes the checksum field after a test has edited the block.
pub fn fix_checksum(block: &mut [u8; 512]) {
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Zero padding after `len` body bytes.
pub fn pad(len: usize) -> Vec<u8> {
    vec![0; (512 - len % 512) % 512]
}

/// A regular file: header, body, padding.
pub fn file(name: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = block(name, body.len() as u64, b'0').to_vec();
    out.extend_from_slice(body);
    out.extend(pad(body.len()));
    out
}

/// An extended header of type `typeflag` ('x', 'g', 'L') carrying `data`.
pub fn extended(typeflag: u8, data: &[u8]) -> Vec<u8> {
    let mut out = block(b"PaxHeaders/x", data.len() as u64, typeflag).to_vec();
    out.extend_from_slice(data);
    out.extend(pad(data.len()));
    out
}

/// A PAX record with a correct length prefix.
pub fn record(key: &str, value: &str) -> String {
    let base = key.len() + value.len() + 3;
    let len = (1..)
        .map(|digits| base + digits)
        .find(|len| len.to_string().len() + base == *len)
        .unwrap();
    format!("{len} {key}={value}\n")
}

/// Concatenates parts and appends the two zero blocks.
pub fn archive(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = parts.concat();
    out.extend_from_slice(&[0; 1024]);
    out
}

/// `data` as a stream of chunks of `size` bytes (the last one shorter).
pub fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, io::Error>> + use<> {
    let parts: Vec<_> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(parts)
}

/// Reads every entry of `data` fed in chunks of `chunk` bytes, reading bodies in full.
pub fn read_all(
    data: &[u8],
    chunk: usize,
    limits: Limits,
) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
    block_on(read_stream(chunks(data, chunk.max(1)), limits))
}

/// Reads every entry of a chunk stream, checking each body's length against its header.
pub async fn read_stream<S, E>(
    source: S,
    limits: Limits,
) -> Result<Vec<(String, Vec<u8>)>, ArchiveError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut reader = TarStream::new(source, limits);
    let mut entries = Vec::new();
    while let Some(entry) = reader.next_entry().await? {
        let mut body = Vec::new();
        while let Some(chunk) = reader.read_chunk().await? {
            assert!(!chunk.is_empty());
            body.extend_from_slice(&chunk);
        }
        assert_eq!(body.len() as u64, entry.size, "{}", entry.path);
        entries.push((entry.path, body));
    }
    Ok(entries)
}

/// Entries in `write_stream`'s input shape, each body split into chunks of `chunk` bytes.
pub fn entries_stream(
    entries: &[(String, Vec<u8>)],
    chunk: usize,
) -> impl Stream<Item = Result<WriteEntry<ArchiveError>, ArchiveError>> + use<> {
    let items: Vec<_> = entries
        .iter()
        .map(|(path, body)| {
            let parts: Vec<Result<Bytes, ArchiveError>> = body
                .chunks(chunk)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Ok((path.clone(), body.len() as u64, stream::iter(parts).boxed()))
        })
        .collect();
    stream::iter(items)
}

/// Writes `entries` with `write_stream` and collects the archive.
pub fn write_all(entries: &[(String, Vec<u8>)], chunk: usize) -> Result<Vec<u8>, ArchiveError> {
    block_on(async {
        let mut out = Vec::new();
        let mut archive = std::pin::pin!(archive::write_stream(entries_stream(entries, chunk)));
        while let Some(chunk) = archive.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    })
}
