//! Hostile archives built by hand: every one must be refused with the right typed error,
//! limits must bite before any body byte is read, and chunking must not change verdicts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use archive::{ArchiveError, Limits, TarStream};
use bytes::Bytes;
use common::*;
use futures::executor::block_on;
use futures::stream::{self, StreamExt};

/// Reads `data` in one chunk and in 1-byte chunks; both must fail the same way.
fn refuse(data: &[u8]) -> ArchiveError {
    refuse_with(data, UNLIMITED)
}

fn refuse_with(data: &[u8], limits: Limits) -> ArchiveError {
    let whole = read_all(data, data.len(), limits).unwrap_err();
    let bytewise = read_all(data, 1, limits).unwrap_err();
    assert_eq!(whole.to_string(), bytewise.to_string());
    whole
}

#[test]
fn unsafe_names_are_refused() {
    let too_deep = vec!["d"; archive::MAX_PATH_SEGMENTS + 1].join("/");
    for name in [
        &b"../etc/passwd"[..],
        b"/abs",
        b"a/../b",
        b"a\\b",
        b"a//b",
        b"./a",
        b"a/.",
        b"a\nb",
        b"a\x1bb",
        b"a/\xff\xfe.wav",
        too_deep.as_bytes(),
    ] {
        let error = refuse(&archive(&[&file(name, b"x")]));
        assert!(
            matches!(error, ArchiveError::InvalidPath { .. }),
            "{name:?}: {error}"
        );
        assert!(!error.is_too_large());
    }
}

#[test]
fn unsafe_pax_paths_are_refused() {
    let too_long = "x".repeat(1025);
    for path in [
        "../../etc/cron.d/x",
        "/etc/passwd",
        "a/\0/b",
        "a\\..\\b",
        too_long.as_str(),
    ] {
        let pax = extended(b'x', record("path", path).as_bytes());
        let error = refuse(&archive(&[&pax, &file(b"harmless.txt", b"x")]));
        assert!(
            matches!(error, ArchiveError::InvalidPath { .. }),
            "{path:?}: {error}"
        );
    }
    // A GNU long name cannot smuggle one in either, nor a directory entry.
    let long = extended(b'L', b"../evil\0");
    assert!(matches!(
        refuse(&archive(&[&long, &file(b"ok", b"")])),
        ArchiveError::InvalidPath { .. }
    ));
    let dir = block(b"../outside/", 0, b'5');
    assert!(matches!(
        refuse(&archive(&[&dir])),
        ArchiveError::InvalidPath { .. }
    ));
}

#[test]
fn links_devices_and_unknown_types_are_refused() {
    for (typeflag, kind) in [
        (b'1', "hard link"),
        (b'2', "symbolic link"),
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "FIFO"),
        (b'S', "unknown entry type"),
        (b'K', "unknown entry type"),
    ] {
        let mut header = block(b"link", 0, typeflag);
        header[157..170].copy_from_slice(b"../../etc/sh\0"); // linkname
        fix_checksum(&mut header);
        let error = refuse(&archive(&[&header]));
        match error {
            ArchiveError::UnsupportedEntry {
                kind: found,
                typeflag: flag,
                ..
            } => {
                assert_eq!((found, flag), (kind, char::from(typeflag)));
            }
            other => panic!("{}: {other}", char::from(typeflag)),
        }
    }
}

#[test]
fn corrupt_headers_are_refused() {
    let mut bad_sum = block(b"a", 1, b'0');
    bad_sum[0] = b'b';
    let error = refuse(&archive(&[&bad_sum, b"x", &pad(1)]));
    assert!(
        matches!(error, ArchiveError::BadChecksum { offset: 0, .. }),
        "{error}"
    );

    let mut not_octal = block(b"a", 0, b'0');
    not_octal[124..136].copy_from_slice(b"0000000009x\0");
    fix_checksum(&mut not_octal);
    assert!(matches!(
        refuse(&archive(&[&not_octal])),
        ArchiveError::InvalidNumber { field: "size", .. }
    ));

    let mut negative = block(b"a", 0, b'0');
    negative[124..136].fill(0xff);
    fix_checksum(&mut negative);
    assert!(matches!(
        refuse(&archive(&[&negative])),
        ArchiveError::InvalidNumber { .. }
    ));

    let mut overflow = block(b"a", 0, b'0');
    overflow[124..136].copy_from_slice(&[0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    fix_checksum(&mut overflow);
    assert!(matches!(
        refuse(&archive(&[&overflow])),
        ArchiveError::InvalidNumber { .. }
    ));

    // Random bytes are not an archive.
    let noise: Vec<u8> = (0..2048u32).map(|i| (i * 31 % 256) as u8).collect();
    assert!(matches!(refuse(&noise), ArchiveError::BadChecksum { .. }));
}

#[test]
fn truncation_is_refused() {
    let entry = file(b"a.wav", &[7; 1000]);
    for cut in [300, 512, 900, 1400] {
        let error = refuse(&entry[..cut]);
        assert!(
            matches!(error, ArchiveError::Truncated { .. }),
            "cut at {cut}: {error}"
        );
    }
    let message = refuse(&entry[..900]).to_string();
    assert!(message.contains("a.wav"), "{message}");
    // An extended header with nothing after it is a truncation, not an empty archive.
    let pax = extended(b'x', record("path", "x").as_bytes());
    assert!(matches!(refuse(&pax), ArchiveError::Truncated { .. }));
    assert!(matches!(
        refuse(&pax[..600]),
        ArchiveError::Truncated { .. }
    ));
}

#[test]
fn bad_pax_records_are_refused() {
    for records in [
        &b"99 path=a\n"[..],               // length runs past the header
        b"5 path=harmless.txt\n",          // length shorter than the record
        b"x path=a\n",                     // not a number
        b"12 path=abc\n3",                 // garbage after the last record
        b"9 path=a ",                      // no newline where the length says
        b"13 size=12ab\n",                 // size not decimal
        b"30 size=99999999999999999999\n", // size overflows
    ] {
        let data = archive(&[&extended(b'x', records), &file(b"ok", b"")]);
        let error = refuse(&data);
        assert!(
            matches!(error, ArchiveError::BadExtendedHeader { .. }),
            "{records:?}: {error}"
        );
    }
    let twice = extended(b'x', record("path", "a").as_bytes());
    assert!(matches!(
        refuse(&archive(&[&twice, &twice, &file(b"ok", b"")])),
        ArchiveError::BadExtendedHeader { .. }
    ));
    let many_globals: Vec<Vec<u8>> = (0..9).map(|_| extended(b'g', b"")).collect();
    let refs: Vec<&[u8]> = many_globals.iter().map(Vec::as_slice).collect();
    assert!(matches!(
        refuse(&archive(&refs)),
        ArchiveError::BadExtendedHeader { .. }
    ));
}

/// A source holding only `head`; polling it for more sets the returned flag.
fn only(
    head: Vec<u8>,
) -> (
    impl futures::Stream<Item = Result<Bytes, io::Error>>,
    Arc<AtomicBool>,
) {
    let polled = Arc::new(AtomicBool::new(false));
    let flag = polled.clone();
    let rest = stream::once(async move {
        flag.store(true, Ordering::SeqCst);
        Err(io::Error::other("the body must not be read"))
    });
    (stream::iter([Ok(Bytes::from(head))]).chain(rest), polled)
}

#[test]
fn huge_declared_sizes_are_refused_before_the_body() {
    let limits = Limits {
        max_entries: 10,
        max_entry_bytes: 1 << 30,
        max_total_bytes: 1 << 30,
    };
    let mut base256 = block(b"bomb.bin", 0, b'0');
    base256[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]); // 2^40
    fix_checksum(&mut base256);
    let pax = [
        extended(b'x', record("size", &(1u64 << 40).to_string()).as_bytes()),
        block(b"bomb.bin", 0, b'0').to_vec(),
    ]
    .concat();
    for head in [base256.to_vec(), pax] {
        let (source, polled) = only(head);
        let mut reader = TarStream::new(source, limits);
        let error = block_on(reader.next_entry()).unwrap_err();
        assert!(
            matches!(&error, ArchiveError::EntryTooLarge { size, limit, .. } if *size == 1 << 40 && *limit == 1 << 30),
            "{error}"
        );
        assert!(error.is_too_large());
        assert!(error.to_string().contains("bomb.bin"));
        assert!(
            !polled.load(Ordering::SeqCst),
            "the source was polled past the header"
        );
        assert!(matches!(
            block_on(reader.next_entry()),
            Err(ArchiveError::AlreadyFailed)
        ));
    }
}

#[test]
fn oversized_extended_headers_are_refused_before_their_data() {
    let (source, polled) = only(block(b"PaxHeaders/x", 64 * 1024 + 1, b'x').to_vec());
    let error = block_on(TarStream::new(source, UNLIMITED).next_entry()).unwrap_err();
    assert!(
        matches!(error, ArchiveError::ExtendedHeaderTooLarge { .. }),
        "{error}"
    );
    assert!(!polled.load(Ordering::SeqCst));
    let (source, _) = only(block(b"././@LongLink", 4097, b'L').to_vec());
    let error = block_on(TarStream::new(source, UNLIMITED).next_entry()).unwrap_err();
    assert!(
        matches!(error, ArchiveError::ExtendedHeaderTooLarge { .. }),
        "{error}"
    );
}

#[test]
fn entry_count_and_total_size_limits() {
    let data = archive(&[&file(b"a", b"1"), &file(b"b", b"2"), &file(b"c", b"3")]);
    let limits = Limits {
        max_entries: 2,
        max_entry_bytes: 10,
        max_total_bytes: 10,
    };
    let mut reader = TarStream::new(chunks(&data, 512), limits);
    block_on(async {
        assert!(reader.next_entry().await.unwrap().is_some());
        assert!(reader.next_entry().await.unwrap().is_some());
        let error = reader.next_entry().await.unwrap_err();
        assert!(
            matches!(&error, ArchiveError::TooManyEntries { path, limit: 2 } if path == "c"),
            "{error}"
        );
        assert!(error.is_too_large());
    });

    let data = archive(&[&file(b"a", &[1; 6]), &file(b"b", &[2; 6])]);
    let limits = Limits {
        max_entries: 10,
        max_entry_bytes: 10,
        max_total_bytes: 10,
    };
    let error = refuse_with(&data, limits);
    assert!(
        matches!(&error, ArchiveError::TotalTooLarge { path, .. } if path == "b"),
        "{error}"
    );
    assert!(error.is_too_large());
}

#[test]
fn structure_errors_are_refused() {
    // An entry hidden behind a single zero block.
    let hidden = archive(&[&file(b"a", b""), &[0; 512], &file(b"hidden", b"x")]);
    assert!(matches!(refuse(&hidden), ArchiveError::Malformed { .. }));
    // A directory that claims a body.
    let dir = block(b"d/", 5, b'5');
    assert!(matches!(
        refuse(&archive(&[&dir, &[0; 512]])),
        ArchiveError::Malformed { .. }
    ));
    // An extended header followed by the end marker.
    let pax = extended(b'x', record("path", "a").as_bytes());
    assert!(matches!(
        refuse(&archive(&[&pax])),
        ArchiveError::Malformed { .. }
    ));
}

#[test]
fn source_errors_pass_through_and_poison() {
    let head = file(b"a", &[1; 600]);
    let source = stream::iter([
        Ok(Bytes::from(head[..700].to_vec())),
        Err(io::Error::other("client went away")),
    ]);
    let mut reader = TarStream::new(source, UNLIMITED);
    block_on(async {
        assert!(reader.next_entry().await.unwrap().is_some());
        assert_eq!(reader.read_chunk().await.unwrap().unwrap().len(), 188);
        let error = reader.read_chunk().await.unwrap_err();
        assert!(
            matches!(&error, ArchiveError::Source(_))
                && error.to_string().contains("client went away")
        );
        assert!(matches!(
            reader.read_chunk().await,
            Err(ArchiveError::AlreadyFailed)
        ));
        assert!(matches!(
            reader.next_entry().await,
            Err(ArchiveError::AlreadyFailed)
        ));
    });
}

#[test]
fn error_messages_quote_bounded_names() {
    let long = format!("../{}", "x".repeat(5000));
    let pax = extended(b'x', record("path", &long).as_bytes());
    let message = refuse(&archive(&[&pax, &file(b"a", b"")])).to_string();
    assert!(message.len() < 400, "{message}");
    let message = refuse(&archive(&[&file(b"evil\x1b[2J", b"")])).to_string();
    assert!(
        !message.contains('\x1b'),
        "control characters are escaped: {message}"
    );
}
