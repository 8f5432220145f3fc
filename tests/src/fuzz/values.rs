//! Pools of hostile values (names, query values, JSON values, content types, `Range`
//! headers, routes and methods) and the small text helpers every generator builds with.

use std::collections::BTreeSet;

use super::Seeds;
use super::rng::Rng;

/// Hostile names for path parameters, folder fields and file names: traversal (plain and
/// encoded), absolute paths, backslashes, NUL and control characters, odd unicode, and
/// near misses of the seeded names.
pub(crate) const ODD_NAMES: &[&str] = &[
    "..",
    "../..",
    ".",
    "./x.wav",
    "x/./y.wav",
    "../voices/keep/narrator.wav",
    "keep/../keep/narrator.wav",
    "..\\..\\windows\\win.ini",
    "a\\b.wav",
    "/etc/passwd",
    "//server/share.wav",
    "C:\\x.wav",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e",
    "..%2f..%2f",
    "%00.wav",
    "%zz",
    "%",
    "nul\0byte.wav",
    "ctl\u{1}\u{1f}\u{7f}.wav",
    "line\nbreak.wav",
    "cr\rlf.wav",
    "tab\t.wav",
    " ",
    "",
    "   .wav",
    "a//b.wav",
    ".hidden.wav",
    "keep/",
    "keep",
    "keep/narrator",
    "narrator",
    "x.wav.json",
    "CON",
    "aux.wav",
    "ünïcödé.wav",
    "語音.wav",
    "🎤.wav",
    "\u{202e}vaw.exe",
    "\u{200b}",
    "\u{feff}x.wav",
    "*",
    "?x=1",
    "#frag",
    "a;b=c",
    "name with spaces.wav",
    "'quote\".wav",
    "<script>.wav",
    "x.WAV",
    "x.",
    ".wav",
    "unnamed",
];

/// Query values: numbers out of every range, non-numbers, traversal, odd text.
pub(crate) const QUERY_VALUES: &[&str] = &[
    "",
    "1",
    "0",
    "-1",
    "-9223372036854775809",
    "9223372036854775807",
    "18446744073709551616",
    "99999999999999999999999",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999",
    "-1e999",
    "1e-999",
    "0x10",
    "1.5",
    "+1",
    " 1",
    "٣",
    "true",
    "false",
    "TRUE",
    "yes",
    "null",
    "[]",
    "{}",
    "../..",
    "/etc",
    "a\\b",
    "\0",
    "%",
    "%zz",
    "ünï",
    "🎤",
    " ",
    "keep",
    "keep/",
    "a,b,,",
    ",",
    "tts",
    "vc",
    "concat",
    "unnamed",
];

/// Query parameter names no route knows (including odd ones).
pub(crate) const UNKNOWN_PARAMS: &[&str] = &[
    "sort_by",
    "fodler",
    "x",
    "",
    "confirm[]",
    "page[]",
    "\0",
    "\u{200b}",
    "a b",
    "__proto__",
    "limit",
    "offset",
    "dry_run",
    "recursive",
    "force",
    "🎤",
    "Confirm",
    "CONFIRM",
    "\n",
];

/// Silence tokens, mostly malformed or out of range.
pub(crate) const SILENCE_TOKENS: &[&str] = &[
    "(99999s)",
    "(-1ms)",
    "(1e9ms)",
    "(1e3ms)",
    "(NaNms)",
    "(infs)",
    "(0ms)",
    "(49ms)",
    "(10.001s)",
    "(ms)",
    "(s)",
    "()",
    "(1.5.5s)",
    "( 500ms)",
    "(500)",
    "(500MS)",
    "(500µs)",
    "((500ms))",
    "(500ms",
    "500ms)",
    "(18446744073709551616ms)",
    "(0.0000001s)",
    "(٥٠٠ms)",
    "(500ms)",
    "(1.5s)",
    "(10s)",
    "(50ms)",
];

/// Raw JSON values of every wrong kind (some make the whole document invalid JSON).
const WRONG_VALUES: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1.5",
    "-0.0",
    "1e999",
    "-1e999",
    "1e-999",
    "NaN",
    "-Infinity",
    "Infinity",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "9007199254740993",
    "2e9",
    "\"\"",
    "\"x\"",
    "\"NaN\"",
    "\"1\"",
    "\"true\"",
    "\"\\u0000\"",
    "\"../../etc/passwd\"",
    "\"\\u200b\"",
    "\"(99999s)\"",
    "\"\\ud800\"",
    "[]",
    "[null]",
    "[1,\"a\"]",
    "[[]]",
    "{}",
    "{\"a\":1}",
    "{\"id\":null}",
];

/// Export format lists, mostly garbage.
pub(crate) const FORMAT_LISTS: &[&str] = &[
    "[\"exe\"]",
    "[]",
    "[\"wav\",\"wav\"]",
    "[\"WAV\"]",
    "[\" wav \"]",
    "[\"mp3:320\"]",
    "[\"aac\"]",
    "[\"opus\"]",
    "[\"pcm\"]",
    "[\"wav32\"]",
    "[\"wav\",1]",
    "\"wav,mp3\"",
    "[\"../wav\"]",
    "[\"\"]",
    "[\"wav\\u0000\"]",
    "[\"flac\",\"flac\",\"flac\",\"flac\",\"flac\",\"flac\",\"flac\",\"flac\"]",
    "[null]",
    "{\"wav\":true}",
];

/// Content types sent with JSON-ish bodies.
pub(crate) const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/vnd.api+json",
    "application/json; charset=latin1",
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=zzz",
    "application/octet-stream",
    "audio/wav",
    "",
    "application/jsonx",
    ";;;",
];

/// `Range` header values: malformed, multiple, non-byte, overflowing, non-ASCII.
pub(crate) const RANGES: &[&[u8]] = &[
    b"bytes=0-0",
    b"bytes=0-",
    b"bytes=-1",
    b"bytes=-0",
    b"bytes=5-1",
    b"bytes=0-1,5-9",
    b"bytes=abc",
    b"bytes=--1",
    b"bytes=-",
    b"bytes=",
    b"bytes",
    b"items=0-1",
    b"bytes=18446744073709551615-",
    b"bytes=18446744073709551616-",
    b"bytes=0-18446744073709551616",
    b"bytes=-18446744073709551616",
    b"bytes=999999999-",
    b"bytes=999999999-1000000000",
    b"bytes= 1 - 2 ",
    b"bytes=1-2-3",
    b"bytes=0x10-0x20",
    b"bytes=1e3-",
    b"bytes=\xff-\xfe",
    b"BYTES=0-1",
    b"bytes=0-1, ",
    b"",
    b" ",
    b"bytes=-9223372036854775808",
    b"bytes=1.5-2",
];

/// Every route, as one concrete URI each (for the wrong-method family).
pub(crate) const ROUTES: &[&str] = &[
    "/api/v1/voices",
    "/api/v1/voice",
    "/api/v1/voice/keep%2Fnarrator.wav/metadata",
    "/api/v1/voice/keep%2Fnarrator.wav",
    "/api/v1/voices/folders",
    "/api/v1/vc_inputs",
    "/api/v1/vc_input",
    "/api/v1/vc_input/keep%2Fline.wav",
    "/api/v1/vc_inputs/folders",
    "/api/v1/outputs",
    "/api/v1/output/x.wav",
    "/api/v1/outputs/folders",
    "/outputs/x.wav",
    "/api/v1/tts",
    "/api/v1/vc",
    "/api/v1/concat",
    "/api/v1/concat/mixed",
    "/api/v1/health",
    "/api/v1/config",
    "/api/v1/resources",
    "/api/v1/cleanup",
    "/api/v1/cleanup/status",
    "/",
    "/docs",
    "/openapi.json",
    "/v1/audio/speech",
    "/audio/speech",
    "/v1/models",
    "/v1/models/tts-1",
    "/v1/audio/voices",
];

pub(crate) const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
    "FOO", "M-SEARCH",
];

/// A string longer than every text limit (TTS 10,000 and OpenAI 4,096 characters), so a
/// "valid" text field never makes an engine speak for long.
pub(crate) fn long_text() -> String {
    "a".repeat(20_001)
}

/// A hostile name: from the pool, very long, random unicode, or a seeded path twisted.
pub(crate) fn odd_name(rng: &mut Rng, seeds: &Seeds) -> String {
    match rng.below(20) {
        0 => format!("{}.wav", "a".repeat(2000)),
        1 => "é".repeat(300),
        2 => String::from_utf8_lossy(&rng.bytes(12)).into_owned(),
        3 => format!("../{}", seeds.voice),
        4 => format!("{}/../../{}", seeds.outputs[0], seeds.voice),
        5 => format!("/{}", seeds.outputs[0]),
        6 => seeds.outputs[0].replace('/', "\\"),
        _ => (*rng.pick(ODD_NAMES)).to_owned(),
    }
}

/// Percent-encodes every byte outside the unreserved set: the server decodes exactly `raw`.
pub(crate) fn encode_all(raw: &str) -> String {
    let mut out = String::new();
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes only what a URI cannot carry, leaving `/`, `%` and `.` as written,
/// so `..` segments, literal `%2e%2e%2f` and broken escapes such as `%zz` reach the router.
pub(crate) fn encode_loose(raw: &str) -> String {
    let mut out = String::new();
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A JSON string literal.
pub(crate) fn jstr(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A raw JSON object from raw key/value texts (values may be invalid JSON on purpose).
pub(crate) fn object(fields: &[(String, String)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", jstr(k)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Sets (or adds) `key` to the raw `value` in a field list.
pub(crate) fn set(fields: &mut Vec<(String, String)>, key: &str, value: String) {
    match fields.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => fields.push((key.to_owned(), value)),
    }
}

/// A wrong value for any field: the generic pool, a long string or deep nesting.
pub(crate) fn wrong_value(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => jstr(&long_text()),
        1 => format!("{}{}", "[".repeat(300), "]".repeat(300)),
        _ => (*rng.pick(WRONG_VALUES)).to_owned(),
    }
}

/// Damages a raw JSON text: truncation, junk, BOM, invalid UTF-8, or a non-object top level.
pub(crate) fn damage_json(rng: &mut Rng, raw: String) -> Vec<u8> {
    let mut bytes = raw.into_bytes();
    match rng.below(9) {
        0 => {
            let cut = rng.below(bytes.len().max(1));
            bytes.truncate(cut);
        }
        1 => bytes.extend_from_slice(b"}}garbage"),
        2 => {
            let mut with_bom = b"\xef\xbb\xbf".to_vec();
            with_bom.extend(bytes);
            bytes = with_bom;
        }
        3 => {
            let at = rng.below(bytes.len().max(1));
            bytes.insert(at, 0xff);
        }
        4 => {
            bytes = (*rng.pick(&["[]", "\"text\"", "null", "1", "[{}]", "", " ", "{", "{]"])).into()
        }
        5 => {
            let len = rng.below(200);
            bytes = rng.bytes(len);
        }
        6 => {
            // The same key twice.
            let dup = b",\"text\":\"again\"}";
            if bytes.last() == Some(&b'}') {
                bytes.pop();
                bytes.extend_from_slice(dup);
            }
        }
        7 => bytes = format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        _ => bytes.extend_from_slice(b"\n\n"),
    }
    bytes
}

/// A query string of 0–4 pairs: known names with hostile values, unknown names, and now
/// and then raw fragments (`=`, `&&`, a bare name, broken escapes).
pub(crate) fn random_query(rng: &mut Rng, known: &[&str], unknown_percent: u64) -> String {
    let mut pairs = Vec::new();
    let mut names = BTreeSet::new();
    for _ in 0..rng.below(5) {
        let name = if known.is_empty() || rng.chance(unknown_percent) {
            (*rng.pick(UNKNOWN_PARAMS)).to_owned()
        } else {
            (*rng.pick(known)).to_owned()
        };
        // A repeated name is a 422 before anything else runs; once per query goes deeper.
        if !names.insert(name.clone()) {
            continue;
        }
        let value = if rng.chance(10) {
            "x".repeat(3000)
        } else {
            (*rng.pick(QUERY_VALUES)).to_owned()
        };
        pairs.push(format!("{}={}", encode_all(&name), encode_all(&value)));
    }
    if rng.chance(15) {
        pairs.push((*rng.pick(&["=", "&", "a", "%zz=1", "page=%ff", "a=b=c", ";", "+=+"])).into());
    }
    pairs.join("&")
}

/// How many fields a case breaks: usually one, sometimes up to three.
pub(crate) fn mutations(rng: &mut Rng) -> usize {
    if rng.chance(60) { 1 } else { 2 + rng.below(2) }
}

pub(crate) fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}
