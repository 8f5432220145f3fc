//! The writer against the format (golden bytes) and against the reader (round trips,
//! determinism, any input chunking), plus the accepted legacy forms on the read side.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use archive::{ArchiveError, END, Limits, TarStream, end, header_for, padding, write_stream};
use bytes::Bytes;
use common::*;
use futures::executor::block_on;
use futures::stream::{self, StreamExt};

#[test]
fn ustar_header_golden_bytes() {
    let header = header_for("voices/narrators/anna.wav", 1234).unwrap();
    assert_eq!(header.len(), 512);
    let mut expected = [0u8; 512];
    expected[0..25].copy_from_slice(b"voices/narrators/anna.wav");
    expected[100..108].copy_from_slice(b"0000644\0"); // mode
    expected[108..116].copy_from_slice(b"0000000\0"); // uid
    expected[116..124].copy_from_slice(b"0000000\0"); // gid
    expected[124..136].copy_from_slice(b"00000002322\0"); // size: 1234 = 0o2322
    expected[136..148].copy_from_slice(b"00000000000\0"); // mtime
    // Checksum: byte sum with the field as 8 spaces, 5571 = 0o12703; Python's
    // tarfile.TarInfo.tobuf(USTAR_FORMAT) gives these same 512 bytes.
    expected[148..156].copy_from_slice(b"012703\0 ");
    expected[156] = b'0'; // typeflag: regular file
    expected[257..263].copy_from_slice(b"ustar\0");
    expected[263..265].copy_from_slice(b"00");
    assert_eq!(&header[..], &expected[..]);
    let mut spaced = expected;
    spaced[148..156].copy_from_slice(b"        ");
    assert_eq!(spaced.iter().map(|&b| u32::from(b)).sum::<u32>(), 0o12703);
    // The hand-built helper agrees, so the hostile tests' blocks are real headers too.
    assert_eq!(
        &block(b"voices/narrators/anna.wav", 1234, b'0')[..],
        &expected[..]
    );
}

#[test]
fn long_paths_use_prefix_then_pax() {
    let name = "n".repeat(100);
    let exact = header_for(&name, 0).unwrap();
    assert_eq!(&exact[..100], name.as_bytes());
    assert_eq!(&exact[345..346], b"\0");

    let split = format!("{}/{}", "p".repeat(155), "n".repeat(100));
    let header = header_for(&split, 0).unwrap();
    assert_eq!(header.len(), 512, "fits ustar without PAX");
    assert_eq!(&header[345..500], "p".repeat(155).as_bytes());
    assert_eq!(&header[..100], "n".repeat(100).as_bytes());

    let long = vec!["s".repeat(36); 16].join("/"); // 591 bytes, 16 segments
    let header = header_for(&long, 5).unwrap();
    let records = record("path", &long);
    assert_eq!(records.len(), 601);
    assert_eq!(
        header.len(),
        4 * 512,
        "PAX header, its two blocks of records, the ustar header"
    );
    assert_eq!(header[156], b'x');
    assert_eq!(&header[124..136], b"00000001131\0", "601 bytes of records");
    assert_eq!(
        &header[..48],
        format!("PaxHeaders/{}\0", "s".repeat(36)).as_bytes()
    );
    assert_eq!(&header[512..512 + records.len()], records.as_bytes());
    assert!(header[512 + records.len()..1536].iter().all(|&b| b == 0));
    assert_eq!(header[1536 + 156], b'0');
    assert_eq!(
        &header[1536..1636],
        &long.as_bytes()[..100],
        "truncated name for non-PAX readers"
    );
}

#[test]
fn big_sizes_use_a_pax_size_record() {
    let size = 9 << 30; // 9 GiB: more than 11 octal digits hold
    let header = header_for("big.bin", size).unwrap();
    let records = record("size", &size.to_string());
    assert_eq!(&header[512..512 + records.len()], records.as_bytes());
    assert_eq!(&header[1024 + 124..1024 + 136], b"00000000000\0");
    let mut reader = TarStream::new(stream::iter([Ok::<_, ArchiveError>(header)]), UNLIMITED);
    let entry = block_on(reader.next_entry()).unwrap().unwrap();
    assert_eq!((entry.path.as_str(), entry.size), ("big.bin", size));
}

#[test]
fn padding_and_end() {
    assert!(padding(0).is_empty());
    assert_eq!(padding(1), vec![0u8; 511]);
    assert!(padding(512).is_empty());
    assert_eq!(padding(1025).len(), 511);
    assert_eq!(&end()[..], &END[..]);
    assert_eq!(END, [0u8; 1024]);
}

fn sample_entries() -> Vec<(String, Vec<u8>)> {
    let path_of = |len: usize, tag: &str| {
        // `tag/` then segments of 50 bytes, cut to `len` bytes exactly.
        let mut path = format!("{tag}/");
        while path.len() < len {
            path.push_str(&"x".repeat(49));
            path.push('/');
        }
        path.truncate(len - 1);
        if path.ends_with('/') {
            path.pop();
            path.push('y');
        }
        path + "z"
    };
    let body = |len: usize| (0..len).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>();
    vec![
        ("voices/narrators/anna.wav".into(), body(1000)),
        (
            "voices/narrators/anna.wav.json".into(),
            b"{\"name\":\"Anna\"}".to_vec(),
        ),
        ("outputs/proj/empty.mp3".into(), Vec::new()),
        ("block.bin".into(), body(512)),
        ("two-blocks.bin".into(), body(1024)),
        ("n".repeat(100), body(3)),
        (path_of(155, "a"), body(600)),
        (path_of(200, "b"), body(513)),
        (path_of(600, "c"), body(1)),
        ("voix/élodie ünïcode.wav".into(), body(70)),
    ]
}

#[test]
fn round_trip_in_any_chunking() {
    let entries = sample_entries();
    assert_eq!(entries[6].0.len(), 155);
    assert_eq!(entries[7].0.len(), 200);
    assert_eq!(entries[8].0.len(), 600);
    let written = write_all(&entries, 7).unwrap();
    assert_eq!(written.len() % 512, 0);
    assert!(written.ends_with(&[0; 1024]));
    for chunk in [1, 2, 3, 100, 511, 512, 513, 4096, written.len()] {
        assert_eq!(
            read_all(&written, chunk, UNLIMITED).unwrap(),
            entries,
            "chunk {chunk}"
        );
    }
    // The writer's output does not depend on how bodies are chunked either.
    for chunk in [1, 13, 512, 100_000] {
        assert_eq!(
            write_all(&entries, chunk).unwrap(),
            written,
            "body chunk {chunk}"
        );
    }
}

#[test]
fn store_archive_store_archive_is_byte_identical() {
    let first = write_all(&sample_entries(), 333).unwrap();
    let restored = read_all(&first, 1000, UNLIMITED).unwrap();
    let second = write_all(&restored, 17).unwrap();
    assert_eq!(first, second);
    assert_eq!(write_all(&sample_entries(), 333).unwrap(), first);
}

#[test]
fn empty_archive_is_just_the_end_marker() {
    let written = write_all(&[], 1).unwrap();
    assert_eq!(written, vec![0; 1024]);
    assert_eq!(read_all(&written, 1, UNLIMITED).unwrap(), vec![]);
}

fn write_one(declared: u64, body: Vec<&'static [u8]>) -> Vec<Result<Bytes, ArchiveError>> {
    let body = stream::iter(body.into_iter().map(|c| Ok(Bytes::from_static(c)))).boxed();
    let entries = stream::iter([Ok(("a.bin".to_owned(), declared, body))]);
    block_on(write_stream::<_, ArchiveError>(entries).collect())
}

#[test]
fn write_stream_refuses_bodies_shorter_or_longer_than_declared() {
    let out = write_one(5, vec![b"ab", b"c"]);
    assert_eq!(
        out.len(),
        4,
        "header, two chunks, then the error and nothing more"
    );
    assert!(matches!(
        out.last(),
        Some(Err(ArchiveError::BodyTooShort {
            declared: 5,
            actual: 3,
            ..
        }))
    ));

    let out = write_one(3, vec![b"ab", b"cd"]);
    assert_eq!(out.len(), 3, "the over-long chunk is never emitted");
    assert!(matches!(
        out.last(),
        Some(Err(ArchiveError::BodyTooLong { declared: 3, .. }))
    ));

    let out = write_one(3, vec![b"ab", b"c", b"", b"d"]);
    assert!(matches!(
        out.last(),
        Some(Err(ArchiveError::BodyTooLong { .. }))
    ));

    let out = write_one(3, vec![b"abc", b""]);
    let bytes: Vec<u8> = out.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
    assert_eq!(
        read_all(&bytes, 512, UNLIMITED).unwrap(),
        vec![("a.bin".to_owned(), b"abc".to_vec())]
    );
}

#[test]
fn write_stream_refuses_unsafe_paths() {
    let entries = [("../x".to_owned(), Vec::new())];
    assert!(matches!(
        write_all(&entries, 1),
        Err(ArchiveError::InvalidPath { .. })
    ));
    assert!(matches!(
        header_for("a//b", 0),
        Err(ArchiveError::InvalidPath { .. })
    ));
}

#[test]
fn unread_bodies_are_skipped() {
    let data = archive(&[
        &file(b"a", &[1; 700]),
        &file(b"b", b"bb"),
        &file(b"c", &[3; 512]),
    ]);
    for chunk in [1, 100, 5000] {
        let mut reader = TarStream::new(chunks(&data, chunk), UNLIMITED);
        block_on(async {
            assert_eq!(reader.next_entry().await.unwrap().unwrap().path, "a");
            assert!(
                reader.read_chunk().await.unwrap().is_some(),
                "read part of a"
            );
            assert_eq!(reader.next_entry().await.unwrap().unwrap().path, "b");
            let c = reader.next_entry().await.unwrap().unwrap();
            assert_eq!((c.path.as_str(), c.size), ("c", 512));
            assert_eq!(reader.next_entry().await.unwrap(), None);
            assert!(reader.end_marker_seen());
            assert_eq!(reader.next_entry().await.unwrap(), None, "stays at the end");
            assert_eq!(reader.read_chunk().await.unwrap(), None);
        });
    }
}

#[test]
fn ends_of_archive() {
    let entry = file(b"a", b"x");
    let one = |data: &[u8]| {
        let mut reader = TarStream::new(chunks(data, 64), UNLIMITED);
        let entries = block_on(async {
            let mut n = 0;
            while reader.next_entry().await?.is_some() {
                n += 1;
            }
            Ok::<_, ArchiveError>(n)
        });
        (entries.unwrap(), reader.end_marker_seen())
    };
    assert_eq!(one(&entry), (1, false), "EOF at an entry boundary");
    assert_eq!(
        one(&[&entry[..], &[0; 512]].concat()),
        (1, true),
        "one zero block, EOF"
    );
    assert_eq!(
        one(&[&entry[..], &[0; 10240]].concat()),
        (1, true),
        "record padding"
    );
    assert_eq!(one(&[]), (0, false), "no bytes at all");
}

#[test]
fn legacy_and_extended_forms() {
    // v7: no magic, type flag NUL, checksum over the rest.
    let mut v7 = block(b"old/v7.txt", 2, 0);
    v7[257..265].fill(0);
    fix_checksum(&mut v7);
    let v7 = [&v7[..], b"hi", &pad(2)].concat();

    // GNU long name ('L', NUL-terminated), with old GNU magic on the entry itself.
    let long = vec!["g".repeat(60); 5].join("/");
    let mut gnu = block(b"././@LongLink", 3, b'0');
    gnu[257..265].copy_from_slice(b"ustar  \0");
    gnu[345..350].copy_from_slice(b"junk!"); // old GNU atime area, not a prefix
    fix_checksum(&mut gnu);
    let gnu = [
        extended(b'L', format!("{long}\0").as_bytes()),
        gnu.to_vec(),
        b"gnu".to_vec(),
        pad(3),
    ]
    .concat();

    // Global PAX header (ignored), then a PAX path with unknown keywords around it.
    let global = extended(b'g', record("comment", "ignored").as_bytes());
    let records = [
        record("mtime", "1700000000.5"),
        record("path", "pax/ok.txt"),
        record("uname", "root"),
    ]
    .concat();
    let pax = [
        extended(b'x', records.as_bytes()),
        file(b"short-name", b"pax"),
    ]
    .concat();

    // A directory (skipped), a contiguous file ('7') and a prefix + name split.
    let dir = block(b"voices/", 0, b'5').to_vec();
    let v7_dir = {
        let mut dir = block(b"voices/old/", 0, 0);
        dir[257..265].fill(0);
        fix_checksum(&mut dir);
        dir.to_vec()
    };
    let contiguous = [block(b"c7", 1, b'7').to_vec(), b"7".to_vec(), pad(1)].concat();
    let mut split = block(b"name.wav", 0, b'0');
    split[345..351].copy_from_slice(b"prefix");
    fix_checksum(&mut split);

    let data = archive(&[&v7, &gnu, &global, &pax, &dir, &v7_dir, &contiguous, &split]);
    let expected = vec![
        ("old/v7.txt".to_owned(), b"hi".to_vec()),
        (long, b"gnu".to_vec()),
        ("pax/ok.txt".to_owned(), b"pax".to_vec()),
        ("c7".to_owned(), b"7".to_vec()),
        ("prefix/name.wav".to_owned(), Vec::new()),
    ];
    for chunk in [1, 511, data.len()] {
        assert_eq!(read_all(&data, chunk, UNLIMITED).unwrap(), expected);
    }
}

#[test]
fn base256_sizes_are_accepted() {
    let mut header = block(b"big", 0, b'0');
    header[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    fix_checksum(&mut header);
    let data = archive(&[&header, b"abc", &pad(3)]);
    assert_eq!(
        read_all(&data, 7, UNLIMITED).unwrap(),
        vec![("big".to_owned(), b"abc".to_vec())]
    );
}

#[test]
fn limits_at_exactly_the_boundary_pass() {
    let data = archive(&[&file(b"a", &[1; 10]), &file(b"b", &[2; 6])]);
    let limits = Limits {
        max_entries: 2,
        max_entry_bytes: 10,
        max_total_bytes: 16,
    };
    assert_eq!(read_all(&data, 512, limits).unwrap().len(), 2);
}

#[test]
fn streams_and_futures_are_send() {
    // The service hands the writer to an HTTP body and awaits the reader in a handler,
    // both of which need `Send`.
    fn assert_send<T: Send>(_: &T) {}
    let writer = write_stream(entries_stream(&[], 1));
    assert_send(&writer);
    let mut reader = TarStream::new(chunks(&[], 1), UNLIMITED);
    assert_send(&reader.next_entry());
    assert_send(&reader.read_chunk());
}
