//! The ustar header block and PAX records: layout, building, checksums and number parsing.
//!
//! Offsets follow POSIX.1-2001 `ustar` (pax(1), "ustar Interchange Format").

use std::ops::Range;

/// Size of a tar block: headers are one block, bodies are padded to whole blocks.
pub const BLOCK_SIZE: usize = 512;
/// Largest PAX extended header ('x' or 'g') read, in bytes: the reader buffers one whole.
pub const MAX_EXTENDED_HEADER_BYTES: u64 = 64 * 1024;
/// Largest GNU long name ('L') read, in bytes: the reader buffers one whole, and a valid
/// path is at most [`crate::MAX_PATH_BYTES`] anyway.
pub const MAX_GNU_LONG_NAME_BYTES: u64 = 4096;

pub(crate) const NAME: Range<usize> = 0..100;
const MODE: Range<usize> = 100..108;
const UID: Range<usize> = 108..116;
const GID: Range<usize> = 116..124;
pub(crate) const SIZE: Range<usize> = 124..136;
const MTIME: Range<usize> = 136..148;
pub(crate) const CHKSUM: Range<usize> = 148..156;
pub(crate) const TYPEFLAG: usize = 156;
const MAGIC: Range<usize> = 257..263;
const VERSION: Range<usize> = 263..265;
pub(crate) const PREFIX: Range<usize> = 345..500;

/// The POSIX magic; GNU's old format writes `"ustar  \0"` over magic and version instead
/// and uses the prefix area for other fields, so the prefix is only read after this one.
const USTAR_MAGIC: &[u8; 6] = b"ustar\0";
/// Largest size the 12-byte octal field holds with its terminating NUL (8 GiB - 1).
pub(crate) const MAX_OCTAL_SIZE: u64 = 0o777_7777_7777;

/// Zero bytes that follow a body of `size` bytes to reach the next block boundary.
pub(crate) fn padding_len(size: u64) -> u64 {
    (BLOCK_SIZE as u64 - size % BLOCK_SIZE as u64) % BLOCK_SIZE as u64
}

/// Builds a deterministic POSIX ustar header block. The caller guarantees that `name`
/// fits 100 bytes, `prefix` 155 and `size` [`MAX_OCTAL_SIZE`].
pub(crate) fn ustar_block(name: &[u8], prefix: &[u8], size: u64, typeflag: u8) -> [u8; BLOCK_SIZE] {
    let mut block = [0u8; BLOCK_SIZE];
    block[NAME.start..NAME.start + name.len()].copy_from_slice(name);
    write_octal(&mut block[MODE], 0o644);
    write_octal(&mut block[UID], 0);
    write_octal(&mut block[GID], 0);
    write_octal(&mut block[SIZE], size);
    write_octal(&mut block[MTIME], 0);
    block[TYPEFLAG] = typeflag;
    block[MAGIC].copy_from_slice(USTAR_MAGIC);
    block[VERSION].copy_from_slice(b"00");
    // Device numbers stay NUL, as Python's tarfile leaves them for regular files.
    block[PREFIX.start..PREFIX.start + prefix.len()].copy_from_slice(prefix);
    // Six digits, NUL, space: what GNU tar and Python write, so checksums compare equal.
    let sum = checksums(&block).0;
    let digits = format!("{sum:06o}");
    block[CHKSUM.start..CHKSUM.start + 6].copy_from_slice(digits.as_bytes());
    block[CHKSUM.start + 6] = 0;
    block[CHKSUM.start + 7] = b' ';
    block
}

/// Writes `value` as zero-padded octal filling all but the last byte, which is NUL.
fn write_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let digits = format!("{value:0width$o}");
    field[..width].copy_from_slice(&digits.as_bytes()[digits.len() - width..]);
    field[width] = 0;
}

/// The header's unsigned and signed byte sums, with the checksum field counted as spaces
/// (some historic writers summed signed bytes, so readers accept either).
pub(crate) fn checksums(block: &[u8; BLOCK_SIZE]) -> (u64, i64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (index, &byte) in block.iter().enumerate() {
        let byte = if CHKSUM.contains(&index) { b' ' } else { byte };
        unsigned += u64::from(byte);
        signed += i64::from(byte as i8);
    }
    (unsigned, signed)
}

/// Whether the stored checksum matches the block.
pub(crate) fn checksum_ok(block: &[u8; BLOCK_SIZE]) -> bool {
    let Some(stored) = parse_octal(&block[CHKSUM]) else {
        return false;
    };
    let (unsigned, signed) = checksums(block);
    stored == unsigned || i64::try_from(stored).is_ok_and(|stored| stored == signed)
}

/// Whether the block carries the POSIX ustar magic (and so a meaningful prefix field).
pub(crate) fn is_posix_ustar(block: &[u8; BLOCK_SIZE]) -> bool {
    &block[MAGIC] == USTAR_MAGIC
}

/// A string field up to its first NUL (or whole, when it fills the field).
pub(crate) fn field_bytes(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(end) => &field[..end],
        None => field,
    }
}

/// Parses an octal field: optional leading spaces, octal digits, then only NULs or
/// spaces. An empty field is 0 (old writers leave unused fields blank). `None` on any
/// other byte or on overflow.
pub(crate) fn parse_octal(field: &[u8]) -> Option<u64> {
    let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
    let mut value = 0u64;
    let mut end = start;
    while let Some(&digit @ b'0'..=b'7') = field.get(end) {
        value = value.checked_mul(8)?.checked_add(u64::from(digit - b'0'))?;
        end += 1;
    }
    field[end..]
        .iter()
        .all(|&b| b == 0 || b == b' ')
        .then_some(value)
}

/// Parses the size field: octal, or GNU base-256 (first byte 0x80, then a big-endian
/// number) which GNU tar writes for sizes of 8 GiB and more. Negative base-256 (0xff)
/// and overflow give `None`.
pub(crate) fn parse_size(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(0x80) => field[1..].iter().try_fold(0u64, |value, &byte| {
            value.checked_mul(256)?.checked_add(u64::from(byte))
        }),
        Some(byte) if byte & 0x80 != 0 => None,
        _ => parse_octal(field),
    }
}

/// Splits `path` into ustar `(prefix, name)` when it fits without PAX: the name alone
/// when at most 100 bytes, else the longest prefix of at most 155 bytes ending before a
/// `/` whose remainder fits 100 bytes (the split GNU tar and Python choose).
pub(crate) fn split_ustar(path: &str) -> Option<(&str, &str)> {
    if path.len() <= NAME.len() {
        return Some(("", path));
    }
    let limit = path.len().min(PREFIX.len() + 1);
    let slash = path.as_bytes()[..limit].iter().rposition(|&b| b == b'/')?;
    let (prefix, name) = (&path[..slash], &path[slash + 1..]);
    (!prefix.is_empty() && !name.is_empty() && name.len() <= NAME.len()).then_some((prefix, name))
}

/// One PAX record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record
/// including its own digits.
pub(crate) fn pax_record(key: &str, value: &str) -> String {
    let base = key.len() + value.len() + 3; // space, '=', newline
    let mut len = base + 1;
    while len != base + len.to_string().len() {
        len = base + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

/// What a PAX extended header overrides for the next entry (other keywords are ignored).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PaxOverrides {
    /// The `path` record, raw (validated later, with the entry).
    pub(crate) path: Option<Vec<u8>>,
    /// The `size` record.
    pub(crate) size: Option<u64>,
}

/// Parses PAX records strictly: every byte must belong to a well-formed record.
pub(crate) fn parse_pax(mut data: &[u8]) -> Result<PaxOverrides, &'static str> {
    let mut overrides = PaxOverrides::default();
    while !data.is_empty() {
        // A length over 20 digits cannot fit a u64, let alone a 64 KiB header.
        let space = data
            .iter()
            .take(21)
            .position(|&b| b == b' ')
            .ok_or("record length is not followed by a space")?;
        let digits = &data[..space];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err("record length is not a decimal number");
        }
        let len = parse_decimal(digits).ok_or("record length overflows")?;
        let len = usize::try_from(len).map_err(|_| "record length runs past the header")?;
        if len > data.len() {
            return Err("record length runs past the header");
        }
        if len < space + 3 {
            return Err("record length is shorter than its record");
        }
        let record = &data[space + 1..len];
        let Some((&b'\n', body)) = record.split_last() else {
            return Err("record does not end with a newline where its length says");
        };
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or("record has no '='")?;
        let (key, value) = (&body[..eq], &body[eq + 1..]);
        match key {
            b"" => return Err("record has an empty keyword"),
            // An empty value deletes the override (POSIX), falling back to the header.
            b"path" => overrides.path = (!value.is_empty()).then(|| value.to_vec()),
            b"size" if value.is_empty() => overrides.size = None,
            b"size" => {
                if !value.iter().all(u8::is_ascii_digit) {
                    return Err("size record is not a decimal number");
                }
                overrides.size = Some(parse_decimal(value).ok_or("size record overflows")?);
            }
            _ => {}
        }
        data = &data[len..];
    }
    Ok(overrides)
}

/// Parses ASCII decimal digits (already checked) with overflow detection.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &d| {
        value.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields() {
        assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
        assert_eq!(parse_octal(b"   644 \0"), Some(0o644));
        assert_eq!(parse_octal(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_octal(b"00006448"), None);
        assert_eq!(parse_octal(b"12 34\0\0\0"), None);
        assert_eq!(parse_octal(b"0x12\0"), None);
        assert_eq!(parse_octal(&[b'7'; 30]), None, "overflow");
    }

    #[test]
    fn size_fields() {
        assert_eq!(parse_size(b"00000000012\0"), Some(10));
        assert_eq!(parse_size(b"777777777777"), Some(0o7777_7777_7777));
        let mut base256 = [0u8; 12];
        base256[0] = 0x80;
        base256[7] = 0x02; // 2 << 32
        assert_eq!(parse_size(&base256), Some(2 << 32));
        base256[1] = 0x01; // 2^80: overflows u64
        assert_eq!(parse_size(&base256), None);
        assert_eq!(parse_size(&[0xff; 12]), None, "negative");
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        assert_eq!(pax_record("path", "a"), "9 path=a\n");
        assert_eq!(pax_record("path", "abc"), "12 path=abc\n");
        // 95 + 3 = 98 bytes without digits; 2 digits would make 100, which needs 3.
        let value = "v".repeat(91);
        let record = pax_record("path", &value);
        assert_eq!(record.len(), 101);
        assert!(record.starts_with("101 "));
    }

    #[test]
    fn pax_parsing() {
        let data = format!(
            "{}{}{}",
            pax_record("mtime", "1.5"),
            pax_record("path", "a/b"),
            pax_record("size", "42")
        );
        let parsed = parse_pax(data.as_bytes());
        assert_eq!(
            parsed,
            Ok(PaxOverrides {
                path: Some(b"a/b".to_vec()),
                size: Some(42)
            })
        );
        for bad in [
            &b"9 path=a"[..],
            b"99 path=a\n",
            b"x path=a\n",
            b"5 path=a\n",
            b"9 patha\nb",
            b"4 =\n",
            b"11 size=1x\n",
            b"30 size=99999999999999999999\n",
            b"9 path=a\nX",
        ] {
            assert!(
                parse_pax(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn ustar_splits() {
        assert_eq!(split_ustar("a/b"), Some(("", "a/b")));
        let long = format!("{}/{}", "p".repeat(155), "n".repeat(100));
        assert_eq!(split_ustar(&long), Some((&long[..155], &long[156..])));
        assert_eq!(split_ustar(&format!("{}/{}", "p".repeat(156), "n")), None);
        assert_eq!(split_ustar(&format!("{}/{}", "p", "n".repeat(101))), None);
        assert_eq!(split_ustar(&"x".repeat(101)), None);
    }
}
