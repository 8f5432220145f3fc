//! A bounded, deterministic fuzz suite over every route of the API (native and OpenAI).
//!
//! A seeded xorshift generator builds malformed requests (unknown and absurd query
//! parameters, NaN / Infinity / `1e999` numbers, wrong JSON types for every field of the
//! TTS, VC, concat and OpenAI bodies, truncated JSON, wrong content types, broken
//! multipart forms, path traversal and odd names, invalid `Range` headers, unknown
//! methods, garbage and hostile audio) and sends them through the real router in-process.
//! For every answer it checks what a client and an operator rely on, whatever the input:
//! 1. no 500, and a 503 only for the operational states (`SERVER_BUSY`,
//!    `STORAGE_UNAVAILABLE`, `MODEL_NOT_INSTALLED`, `ENCODER_UNAVAILABLE`);
//! 2. no panic (each request runs on its own task, so a panic is reported, not fatal);
//! 3. every error is in its dialect's envelope (OpenAI's for `/v1/…` and `/audio/…`, the
//!    native one elsewhere, with the `x-request-id` header in the body), and `HEAD`
//!    answers carry no body;
//! 4. a refused request leaves the store exactly as it was (keys and sizes), and no write
//!    plan is left in `journal/` once any request has returned.
//!
//! Violations are collected and reported together as (method, path, body summary,
//! status, problem), so one run lists every distinct failure. The bulk runs on the memory
//! store; a smaller slice of the storage-touching routes runs on the filesystem store and
//! a real S3 server. `FUZZ_API_SEED=<n>` replays another sequence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tests::fixtures::{fixture, wav};
use tests::multipart::Form;
use tests::{Backend, TestApp};

/// The default sequence; any other value replays a different one.
const DEFAULT_SEED: u64 = 0x5eed_f022_a11e_0001;

/// Longest a single request may take before it is reported as hung.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------

/// xorshift64*: tiny and seedable, so a failing case replays exactly (not for cryptography).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

fn suite_seed() -> u64 {
    std::env::var("FUZZ_API_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

// ---------------------------------------------------------------------------------------
// Pools of hostile values
// ---------------------------------------------------------------------------------------

/// Hostile names for path parameters, folder fields and file names: traversal (plain and
/// encoded), absolute paths, backslashes, NUL and control characters, odd unicode, and
/// near misses of the seeded names.
const ODD_NAMES: &[&str] = &[
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
const QUERY_VALUES: &[&str] = &[
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
const UNKNOWN_PARAMS: &[&str] = &[
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
const SILENCE_TOKENS: &[&str] = &[
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
const FORMAT_LISTS: &[&str] = &[
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
const CONTENT_TYPES: &[&str] = &[
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
const RANGES: &[&[u8]] = &[
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
const ROUTES: &[&str] = &[
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

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
    "FOO", "M-SEARCH",
];

/// A string longer than every text limit (TTS 10,000 and OpenAI 4,096 characters), so a
/// "valid" text field never makes an engine speak for long.
fn long_text() -> String {
    "a".repeat(20_001)
}

/// A hostile name: from the pool, very long, random unicode, or a seeded path twisted.
fn odd_name(rng: &mut Rng, seeds: &Seeds) -> String {
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
fn encode_all(raw: &str) -> String {
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
fn encode_loose(raw: &str) -> String {
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
fn jstr(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A raw JSON object from raw key/value texts (values may be invalid JSON on purpose).
fn object(fields: &[(String, String)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", jstr(k)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Sets (or adds) `key` to the raw `value` in a field list.
fn set(fields: &mut Vec<(String, String)>, key: &str, value: String) {
    match fields.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => fields.push((key.to_owned(), value)),
    }
}

/// A wrong value for any field: the generic pool, a long string or deep nesting.
fn wrong_value(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => jstr(&long_text()),
        1 => format!("{}{}", "[".repeat(300), "]".repeat(300)),
        _ => (*rng.pick(WRONG_VALUES)).to_owned(),
    }
}

/// Damages a raw JSON text: truncation, junk, BOM, invalid UTF-8, or a non-object top level.
fn damage_json(rng: &mut Rng, raw: String) -> Vec<u8> {
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
fn random_query(rng: &mut Rng, known: &[&str], unknown_percent: u64) -> String {
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
fn mutations(rng: &mut Rng) -> usize {
    if rng.chance(60) { 1 } else { 2 + rng.below(2) }
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

// ---------------------------------------------------------------------------------------
// Hostile audio and multipart forms
// ---------------------------------------------------------------------------------------

/// A WAV header with any field values, followed by `data`.
fn wav_header(
    format_tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data_len: u32,
    data: &[u8],
) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let byte_rate = rate.wrapping_mul(u32::from(block_align));
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&format_tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// A 32-bit float WAV cycling through `values` (NaN, infinities, absurd magnitudes).
fn float_wav(values: &[f32], frames: usize) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22_050,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..frames {
            writer.write_sample(values[i % values.len()]).unwrap();
        }
        writer.finalize().unwrap();
    }
    cursor.into_inner()
}

/// Audio bytes an upload may carry: garbage, truncated or hand-broken WAVs, float WAVs
/// with NaN, magic numbers followed by junk, and now and then real audio.
fn audio_bytes(rng: &mut Rng) -> (Vec<u8>, String) {
    let kind = rng.below(AUDIO_KINDS);
    audio_of_kind(rng, kind)
}

/// How many kinds [`audio_of_kind`] makes.
const AUDIO_KINDS: usize = 14;

fn audio_of_kind(rng: &mut Rng, kind: usize) -> (Vec<u8>, String) {
    let real = wav();
    match kind {
        0 => {
            let len = rng.below(4096);
            (rng.bytes(len), format!("{len} random bytes"))
        }
        1 => {
            let cut = rng.below(60);
            (real[..cut].to_vec(), format!("WAV truncated to {cut} B"))
        }
        2 => {
            let cut = rng.below(real.len());
            (real[..cut].to_vec(), format!("WAV truncated to {cut} B"))
        }
        3 => (float_wav(&[f32::NAN], 2205), "float WAV of NaN".into()),
        4 => (
            float_wav(&[0.1, f32::NAN, f32::INFINITY, f32::NEG_INFINITY], 2205),
            "float WAV with NaN and infinities".into(),
        ),
        5 => (float_wav(&[1e30, -1e30], 2205), "float WAV of ±1e30".into()),
        6 => {
            let data = rng.bytes(64);
            let (bytes, label) = match rng.below(8) {
                0 => (wav_header(1, 0, 22_050, 16, 64, &data), "0 channels"),
                1 => (wav_header(1, 1, 0, 16, 64, &data), "0 Hz"),
                2 => (wav_header(1, 1, 22_050, 0, 64, &data), "0 bits"),
                3 => (wav_header(1, 1, 22_050, 7, 64, &data), "7 bits"),
                4 => (
                    wav_header(0xfffe, 1, 22_050, 16, 64, &data),
                    "extensible without extension",
                ),
                5 => (
                    wav_header(1, 1, 22_050, 16, u32::MAX, &data),
                    "data length 4 GiB",
                ),
                6 => (wav_header(1, 1, u32::MAX, 16, 64, &data), "4 GHz"),
                _ => (
                    wav_header(3, 65_535, 22_050, 32, 64, &data),
                    "65535 float channels",
                ),
            };
            (bytes, format!("crafted WAV: {label}"))
        }
        7 => {
            let magics: [&[u8]; 8] = [
                b"ID3\x04\x00\x00\x00\x00\x00\x00",
                b"fLaC",
                b"OggS\x00\x02",
                b"RIFF\xff\xff\xff\xffWAVE",
                b"\xff\xfb\x90\x00",
                b"\x00\x00\x00\x20ftypM4A ",
                b"\xff\xf1\x50\x80",
                b"OpusHead",
            ];
            let magic = *rng.pick(&magics);
            let mut bytes = magic.to_vec();
            let len = rng.below(2048);
            bytes.extend(rng.bytes(len));
            (
                bytes,
                format!("magic {:?} + junk", String::from_utf8_lossy(magic)),
            )
        }
        8 => (Vec::new(), "empty file".into()),
        9 => {
            let name = *rng.pick(&["tone.mp3", "tone.flac", "tone.ogg", "tone.m4a", "tone.aac"]);
            (fixture(name), format!("real {name}"))
        }
        10 => {
            let mut bytes = real;
            for _ in 0..8 {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            (bytes, "WAV with 8 random bytes changed".into())
        }
        _ => (real, "real WAV".into()),
    }
}

/// A file name for an upload: usually unique with an audio extension, sometimes hostile.
fn upload_name(rng: &mut Rng, seeds: &Seeds) -> String {
    let ext = *rng.pick(&[
        "wav", "mp3", "flac", "ogg", "m4a", "aac", "opus", "txt", "", "WAV", "wav.exe",
    ]);
    if rng.chance(20) {
        return format!("{}.{ext}", odd_name(rng, seeds));
    }
    let n = rng.next() % 1_000_000;
    if ext.is_empty() {
        format!("fuzz{n}")
    } else {
        format!("fuzz{n}.{ext}")
    }
}

/// One raw multipart part.
struct Part {
    headers: Vec<u8>,
    data: Vec<u8>,
}

impl Part {
    fn text(name: &str, value: &[u8]) -> Self {
        Self {
            headers: format!("Content-Disposition: form-data; name=\"{name}\"\r\n").into_bytes(),
            data: value.to_vec(),
        }
    }

    fn file(name: &str, file_name: &str, data: Vec<u8>) -> Self {
        Self {
            headers: format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n"
            )
            .into_bytes(),
            data,
        }
    }
}

fn encode_parts(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(&part.headers);
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// A text field of a form and the hostile values it may get (besides the generic ones).
struct TextField {
    name: &'static str,
    values: &'static [&'static str],
}

const BOUNDARY: &str = "fuzz-boundary-1234567890";

/// How many shapes [`multipart_case`] makes (0–7 well-formed, then one breakage each).
const MULTIPART_MODES: usize = 22;

/// A multipart request to `uri`: well-formed with hostile content, or broken in one of
/// many ways (no boundary, wrong boundary, truncated, unnamed parts, no file name, huge
/// field names, 300 parts, oversized or non-UTF-8 text, duplicate files, LF-only lines).
fn multipart_case(
    rng: &mut Rng,
    seeds: &Seeds,
    route: &'static str,
    uri: String,
    file_field: &str,
    texts: &[TextField],
    mode: Option<usize>,
) -> Case {
    let (audio, audio_label) = audio_bytes(rng);
    let file_name = upload_name(rng, seeds);
    let mut parts = vec![Part::file(file_field, &file_name, audio.clone())];
    let mut labels = vec![format!("{file_field}={file_name:?} ({audio_label})")];
    for field in texts {
        if rng.chance(55) {
            let value = match rng.below(4) {
                0 => odd_name(rng, seeds),
                1 => (*rng.pick(QUERY_VALUES)).to_owned(),
                _ if !field.values.is_empty() => (*rng.pick(field.values)).to_owned(),
                _ => odd_name(rng, seeds),
            };
            labels.push(format!(
                "{}={}",
                field.name,
                summarize(value.as_bytes(), 60)
            ));
            parts.push(Part::text(field.name, value.as_bytes()));
        }
    }
    rng.shuffle(&mut parts);
    let mut content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let mode = mode.unwrap_or_else(|| rng.below(MULTIPART_MODES));
    let body = match mode {
        0..=7 => encode_parts(BOUNDARY, &parts),
        8 => {
            content_type = "multipart/form-data".into();
            labels.push("no boundary in Content-Type".into());
            encode_parts(BOUNDARY, &parts)
        }
        9 => {
            labels.push("boundary differs from the body's".into());
            encode_parts("another-boundary", &parts)
        }
        10 => {
            let full = encode_parts(BOUNDARY, &parts);
            let cut = rng.below(full.len());
            labels.push(format!("truncated at {cut}/{} B", full.len()));
            full[..cut].to_vec()
        }
        11 => {
            labels.push("file part without filename".into());
            parts.push(Part::text(file_field, &audio));
            parts.retain(|p| !String::from_utf8_lossy(&p.headers).contains("filename="));
            encode_parts(BOUNDARY, &parts)
        }
        12 => {
            labels.push("part without a name".into());
            parts.push(Part {
                headers: b"Content-Disposition: form-data\r\n".to_vec(),
                data: b"x".to_vec(),
            });
            parts.push(Part {
                headers: Vec::new(),
                data: b"no disposition".to_vec(),
            });
            encode_parts(BOUNDARY, &parts)
        }
        13 => {
            labels.push("20,000-character field name".into());
            parts.push(Part::text(&"n".repeat(20_000), b"v"));
            encode_parts(BOUNDARY, &parts)
        }
        14 => {
            labels.push("300 parts".into());
            for i in 0..300 {
                parts.push(Part::text(&format!("f{i}"), b"v"));
            }
            encode_parts(BOUNDARY, &parts)
        }
        15 => {
            let name = texts.first().map_or("text", |f| f.name);
            labels.push(format!("{name} of 70,000 bytes"));
            parts.push(Part::text(name, "x".repeat(70_000).as_bytes()));
            encode_parts(BOUNDARY, &parts)
        }
        16 => {
            let name = texts.first().map_or("text", |f| f.name);
            labels.push(format!("{name} not UTF-8"));
            parts.push(Part::text(name, b"\xff\xfe\xc3\x28"));
            encode_parts(BOUNDARY, &parts)
        }
        17 => {
            labels.push("the file twice".into());
            parts.push(Part::file(file_field, "second.wav", wav()));
            encode_parts(BOUNDARY, &parts)
        }
        18 => {
            let raw = encode_parts(BOUNDARY, &parts);
            labels.push("LF line endings".into());
            String::from_utf8_lossy(&raw)
                .replace("\r\n", "\n")
                .into_bytes()
        }
        19 => {
            content_type = (*rng.pick(&[
                "multipart/mixed; boundary=fuzz-boundary-1234567890",
                "multipart/form-data; boundary=\"\"",
                "multipart/form-data; boundary=",
                "application/x-www-form-urlencoded",
                "application/json",
                "text/plain",
                "",
            ]))
            .into();
            labels.push(format!("Content-Type {content_type:?}"));
            encode_parts(BOUNDARY, &parts)
        }
        20 => {
            labels.push("empty body".into());
            Vec::new()
        }
        _ => {
            labels.push("only the closing boundary".into());
            format!("--{BOUNDARY}--\r\n").into_bytes()
        }
    };
    let mut case = Case::new(route, Method::POST, uri).body_bytes(body, labels.join("; "));
    if !content_type.is_empty() {
        case = case.header("content-type", content_type.into_bytes());
    }
    case
}

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

/// What a case must answer beyond the universal checks.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Any status the universal checks allow.
    Any,
    /// A 4xx: destructive requests built to be refused.
    Refused,
    /// Exactly one of these.
    OneOf(&'static [u16]),
    /// Any status, but no seeded object may go (deletes of hostile names with
    /// `confirm=true`, which may legitimately remove what an earlier fuzz upload created).
    SparesSeeds,
}

/// One generated request.
struct Case {
    /// The route family, for the per-route counts (`METHOD /template`).
    route: &'static str,
    method: Method,
    uri: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    /// What the body holds, for reports.
    note: String,
    expect: Expect,
}

impl Case {
    fn new(route: &'static str, method: Method, uri: String) -> Self {
        Self {
            route,
            method,
            uri,
            headers: Vec::new(),
            body: Vec::new(),
            note: String::new(),
            expect: Expect::Any,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn body_bytes(mut self, body: Vec<u8>, note: String) -> Self {
        self.body = body;
        self.note = note;
        self
    }

    /// A JSON-ish body with a (usually JSON) content type.
    fn json(self, rng: &mut Rng, body: Vec<u8>) -> Self {
        let content_type = if rng.chance(80) {
            "application/json"
        } else {
            *rng.pick(CONTENT_TYPES)
        };
        let note = format!("[{content_type}] {}", summarize(&body, 160));
        let case = self.body_bytes(body, note);
        if content_type.is_empty() {
            case
        } else {
            case.header("content-type", content_type)
        }
    }

    fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }
}

fn summarize(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut short: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        short.push_str(&format!("… ({} B)", bytes.len()));
    }
    format!("{short:?}")
}

/// The objects the suite seeds, by path relative to their area.
#[derive(Debug, Clone)]
struct Seeds {
    voice: String,
    vc_input: String,
    outputs: Vec<String>,
}

impl Seeds {
    /// Every key the seeds occupy (objects and sidecars).
    fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut add = |area: &str, path: &str| {
            keys.push(format!("{area}/{path}"));
            keys.push(format!("{area}/{path}.json"));
        };
        add("voices", &self.voice);
        add("vc_inputs", &self.vc_input);
        for output in &self.outputs {
            add("outputs", output);
        }
        keys
    }
}

type Generator = fn(&mut Rng, &Seeds) -> Case;

// --- Library listings and folders --------------------------------------------------------

fn gen_list(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path, known): (&'static str, &str, &[&str]) = match rng.below(3) {
        0 => (
            "/api/v1/voices",
            "/api/v1/voices",
            &["page", "page_size", "search", "folder", "project"],
        ),
        1 => (
            "/api/v1/vc_inputs",
            "/api/v1/vc_inputs",
            &[
                "page",
                "page_size",
                "search",
                "filenames",
                "folder",
                "project",
            ],
        ),
        _ => (
            "/api/v1/outputs",
            "/api/v1/outputs",
            &[
                "page",
                "page_size",
                "generation_type",
                "search",
                "filenames",
                "folder",
                "project",
            ],
        ),
    };
    let mut query = random_query(rng, known, 25);
    if rng.chance(30) {
        // Traversal in the folder filters, which must never list outside the area.
        let name = *rng.pick(&["folder", "project", "search", "filenames"]);
        let value = encode_all(rng.pick_str(ODD_NAMES));
        query = format!("{query}&{name}={value}");
    }
    let method = if rng.chance(15) {
        Method::HEAD
    } else {
        Method::GET
    };
    Case::new(route, method, with_query(path, &query))
}

fn gen_folders(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path) = *rng.pick(&[
        ("/api/v1/voices/folders", "/api/v1/voices/folders"),
        ("/api/v1/vc_inputs/folders", "/api/v1/vc_inputs/folders"),
        ("/api/v1/outputs/folders", "/api/v1/outputs/folders"),
    ]);
    let method = if rng.chance(25) {
        Method::HEAD
    } else {
        Method::GET
    };
    Case::new(
        route,
        method,
        with_query(path, &random_query(rng, &[], 100)),
    )
}

// --- Voice metadata ------------------------------------------------------------------------

const METADATA_FIELDS: &[&str] = &[
    "name",
    "description",
    "tags",
    "folder_path",
    "default_parameters",
];

fn gen_metadata(rng: &mut Rng, seeds: &Seeds) -> Case {
    let target = if rng.chance(50) {
        encode_all(&seeds.voice)
    } else if rng.chance(80) {
        encode_all(&odd_name(rng, seeds))
    } else {
        encode_loose(&odd_name(rng, seeds))
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let field = *rng.pick(METADATA_FIELDS);
        let value = match (field, rng.below(3)) {
            ("folder_path", 0) => jstr(&odd_name(rng, seeds)),
            ("tags", 0) => {
                (*rng.pick(&["[\"a\",1]", "[\"\"]", "\"a,b\"", "[[\"x\"]]", "[null]"])).to_owned()
            }
            ("default_parameters", 0) => (*rng.pick(&[
                "[]",
                "\"x\"",
                "{\"temperature\":NaN}",
                "{\"temperature\":\"hot\"}",
                "{\"seed\":1e999}",
                "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":null}]}}}",
            ]))
            .to_owned(),
            _ => wrong_value(rng),
        };
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(25) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    Case::new(
        "/api/v1/voice/{f}/metadata",
        Method::PUT,
        format!("/api/v1/voice/{target}/metadata"),
    )
    .json(rng, body)
}

// --- Deletes (destructive: every generated request must be refused) ------------------------

/// Queries a single delete must refuse, as (query, whether it names an unknown parameter).
fn refused_confirm(rng: &mut Rng) -> (String, bool) {
    match rng.below(7) {
        0 => (String::new(), false),
        1 => ("confirm=false".into(), false),
        2 => (
            format!(
                "confirm={}",
                encode_all(
                    rng.pick_str(&["maybe", "1", "TRUE", "yes", "NaN", "tru", "\0", "1e999"])
                )
            ),
            false,
        ),
        3 => ("confirm=true&confirm=true".into(), false),
        _ => {
            let unknown = encode_all(rng.pick_str(UNKNOWN_PARAMS));
            let value = encode_all(rng.pick_str(QUERY_VALUES));
            (format!("confirm=true&{unknown}={value}"), true)
        }
    }
}

fn gen_delete_one(rng: &mut Rng, seeds: &Seeds) -> Case {
    let (route, prefix, seeded): (&'static str, &str, &str) = match rng.below(3) {
        0 => ("/api/v1/voice/{f}", "/api/v1/voice", seeds.voice.as_str()),
        1 => (
            "/api/v1/vc_input/{f}",
            "/api/v1/vc_input",
            seeds.vc_input.as_str(),
        ),
        _ => (
            "/api/v1/output/{f}",
            "/api/v1/output",
            seeds.outputs[0].as_str(),
        ),
    };
    let (query, unknown) = refused_confirm(rng);
    if rng.chance(50) {
        // A seeded file: only a refused query may reach it.
        let name = encode_all(seeded);
        let expect = if unknown {
            Expect::OneOf(&[422])
        } else {
            Expect::Refused
        };
        return Case::new(
            route,
            Method::DELETE,
            with_query(&format!("{prefix}/{name}"), &query),
        )
        .expect(expect);
    }
    // A hostile name, even with confirm=true: no seeded object may go.
    let name = odd_name(rng, seeds);
    let encoded = if rng.chance(80) {
        encode_all(&name)
    } else {
        encode_loose(&name)
    };
    if rng.chance(50) {
        let uri = with_query(&format!("{prefix}/{encoded}"), "confirm=true");
        return Case::new(route, Method::DELETE, uri).expect(Expect::SparesSeeds);
    }
    let uri = with_query(&format!("{prefix}/{encoded}"), &query);
    let expect = if unknown && !name.is_empty() && encoded == encode_all(&name) {
        Expect::OneOf(&[422])
    } else {
        Expect::Refused
    };
    Case::new(route, Method::DELETE, uri).expect(expect)
}

fn gen_delete_many(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path, filters): (&'static str, &str, &[&str]) = match rng.below(3) {
        0 => (
            "/api/v1/voices",
            "/api/v1/voices",
            &["folder", "project", "tag", "search", "filenames"],
        ),
        1 => (
            "/api/v1/vc_inputs",
            "/api/v1/vc_inputs",
            &["folder", "project", "search", "filenames"],
        ),
        _ => (
            "/api/v1/outputs",
            "/api/v1/outputs",
            &[
                "folder",
                "project",
                "generation_type",
                "search",
                "filenames",
            ],
        ),
    };
    let filter = *rng.pick(filters);
    let (query, expect) = match rng.below(8) {
        // Unknown parameters, also beside a filter that would match the seeds: 422.
        0..=2 => {
            let unknown = encode_all(rng.pick_str(UNKNOWN_PARAMS));
            let value = encode_all(rng.pick_str(QUERY_VALUES));
            let base = *rng.pick(&[
                "confirm=true&all=true",
                "confirm=true&folder=keep",
                "confirm=true",
                "",
            ]);
            let query = if base.is_empty() {
                format!("{unknown}={value}")
            } else {
                format!("{base}&{unknown}={value}")
            };
            (query, Expect::OneOf(&[422]))
        }
        3 => (format!("{filter}=keep"), Expect::Refused),
        4 => ("confirm=true".into(), Expect::Refused),
        5 => (
            format!("confirm=true&all=true&{filter}=keep"),
            Expect::Refused,
        ),
        6 => (
            format!(
                "confirm={}&all=true",
                encode_all(rng.pick_str(&["1", "yes", "TRUE", "maybe", "", "NaN"]))
            ),
            Expect::Refused,
        ),
        _ => {
            let folder = *rng.pick(&["../keep", "/keep", "keep/../..", "..", "a//b", "a\\b", "\0"]);
            (
                format!("confirm=true&folder={}", encode_all(folder)),
                Expect::Refused,
            )
        }
    };
    Case::new(route, Method::DELETE, with_query(path, &query)).expect(expect)
}

// --- Uploads ----------------------------------------------------------------------------------

const VOICE_TEXTS: &[TextField] = &[
    TextField {
        name: "name",
        values: &["", "\u{200b}", "Narrator"],
    },
    TextField {
        name: "description",
        values: &["", "x"],
    },
    TextField {
        name: "tags",
        values: &[",,,", "a,,b", " , "],
    },
    TextField {
        name: "folder_path",
        values: &["keep", "../keep", "/abs", "a//b", "a\\b"],
    },
    TextField {
        name: "default_parameters",
        values: &[
            "{",
            "[]",
            "null",
            "{\"temperature\":\"hot\"}",
            "{\"a\":NaN}",
            "\"x\"",
        ],
    },
    TextField {
        name: "overwrite",
        values: &["true", "maybe", "TRUE", "2", ""],
    },
];

fn gen_voice_upload(rng: &mut Rng, seeds: &Seeds) -> Case {
    let mut case = upload_case(rng, seeds, &UPLOAD_ROUTES[0], None);
    if rng.chance(25) {
        // Broken audio over the seeded voice with overwrite=true: refused, and the seed stays.
        let (audio, label) = audio_bytes(rng);
        let (audio, label) = if label.starts_with("real") {
            (b"not audio".to_vec(), "\"not audio\"".to_owned())
        } else {
            (audio, label)
        };
        let form = vec![
            Part::file("voice_file", "narrator.wav", audio),
            Part::text("folder_path", b"keep"),
            Part::text("overwrite", b"true"),
        ];
        case = Case::new("/api/v1/voice", Method::POST, "/api/v1/voice".into())
            .body_bytes(
                encode_parts(BOUNDARY, &form),
                format!("overwrite the seeded voice with {label}"),
            )
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            );
    }
    case
}

const VC_INPUT_TEXTS: &[TextField] = &[
    TextField {
        name: "text",
        values: &["", "\u{200b}", "Hello"],
    },
    TextField {
        name: "folder_path",
        values: &["keep", "../keep", "/abs", "a//b"],
    },
    TextField {
        name: "project",
        values: &["keep", "other", "..", "unnamed"],
    },
    TextField {
        name: "overwrite",
        values: &["true", "maybe", "TRUE", "2", ""],
    },
];

fn gen_vc_input_upload(rng: &mut Rng, seeds: &Seeds) -> Case {
    upload_case(rng, seeds, &UPLOAD_ROUTES[1], None)
}

// --- Downloads --------------------------------------------------------------------------------

fn gen_download(rng: &mut Rng, seeds: &Seeds) -> Case {
    let seeded = rng.pick(&seeds.outputs).clone();
    let path = match rng.below(8) {
        0..=2 => seeded
            .split('/')
            .map(encode_all)
            .collect::<Vec<_>>()
            .join("/"),
        3 => format!("{}.json", seeded),
        4 => encode_loose(&odd_name(rng, seeds)),
        5 => encode_all(&odd_name(rng, seeds)),
        6 => (*rng.pick(&[
            "../voices/keep/narrator.wav",
            "%2e%2e/voices/keep/narrator.wav",
            "keep%2F..%2F..%2Fvoices%2Fkeep%2Fnarrator.wav",
            "/etc/passwd",
            "keep/",
            "keep//x.wav",
            "%5c..%5cx.wav",
            "%00",
            "%ff%fe.wav",
            "keep/%2e%2e/%2e%2e/journal/",
            ".",
            "..",
        ]))
        .to_owned(),
        _ => format!("keep/missing{}.wav", rng.below(100)),
    };
    let method = if rng.chance(30) {
        Method::HEAD
    } else {
        Method::GET
    };
    let mut case = Case::new(
        "/outputs/{path}",
        method,
        with_query(&format!("/outputs/{path}"), &random_query(rng, &[], 100)),
    );
    if rng.chance(85) {
        let range = if rng.chance(30) {
            let a = rng.next() % 200_000;
            let b = rng.next() % 200_000;
            format!("bytes={a}-{b}").into_bytes()
        } else {
            rng.pick(RANGES).to_vec()
        };
        case.note = format!("Range: {}", summarize(&range, 60));
        case = case.header("range", range);
    }
    if case.method == Method::HEAD {
        case.route = "/outputs/{path}";
    }
    case
}

// --- TTS ----------------------------------------------------------------------------------------

const TTS_FIELDS: &[&str] = &[
    "text",
    "model",
    "reference_audio_filename",
    "exaggeration",
    "temperature",
    "seed",
    "cfg_weight",
    "top_p",
    "min_p",
    "repetition_penalty",
    "num_candidates_per_chunk",
    "max_attempts_per_candidate",
    "bypass_whisper_checking",
    "whisper_model_name",
    "use_faster_whisper",
    "use_longest_transcript_on_fail",
    "enable_batching",
    "smart_batch_short_sentences",
    "to_lowercase",
    "normalize_spacing",
    "fix_dot_letters",
    "remove_reference_numbers",
    "use_auto_editor",
    "keep_original_wav_ae",
    "ae_threshold",
    "ae_margin",
    "normalize_audio",
    "normalize_method",
    "normalize_level",
    "normalize_tp",
    "normalize_lra",
    "sound_words_field",
    "speed_factor",
    "speed_factor_library",
    "project",
    "folder",
    "trim",
    "trim_threshold_ms",
    "export_formats",
    "disable_watermark",
    "response_mode",
];

/// Texts with nothing to speak, or beyond the limits (never a long speakable text).
fn hostile_text(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => jstr(&long_text()),
        _ => jstr(rng.pick_str(&[
            "...",
            "\u{200b}",
            "\u{200b}\u{200c}\u{200d}\u{feff}",
            " ",
            "",
            "!!!???",
            "\u{0}",
            "\u{1}\u{2}",
            "(500ms)",
            "😀",
            "\u{202e}",
            "-- -- --",
            "Hi.",
            "Ok",
        ])),
    }
}

/// A value for one TTS field: a wrong type, an out-of-range number, or a field-specific
/// hostile value.
fn tts_value(rng: &mut Rng, seeds: &Seeds, field: &str) -> String {
    if rng.chance(50) {
        let value = wrong_value(rng);
        // A long string in `text` is over the limit; anything else generic is fine too.
        return value;
    }
    match field {
        "text" => hostile_text(rng),
        "export_formats" => (*rng.pick(FORMAT_LISTS)).to_owned(),
        "project" | "folder" | "reference_audio_filename" => match rng.below(4) {
            0 => jstr(rng.pick_str(&[
                "http://127.0.0.1:9/x.wav",
                "https://[::1]:9/v.wav",
                "file:///etc/passwd",
                "unnamed",
            ])),
            1 => jstr(&seeds.voice),
            _ => jstr(&odd_name(rng, seeds)),
        },
        "model" => jstr(rng.pick_str(&["piper", "chatterbox", "auto", "PIPER", "gpt", "", " "])),
        "seed" => {
            (*rng.pick(&["-1", "4294967296", "9223372036854775807", "1.5", "\"7\""])).to_owned()
        }
        "num_candidates_per_chunk" | "max_attempts_per_candidate" | "trim_threshold_ms" => {
            (*rng.pick(&["0", "11", "-1", "4294967295", "4294967296", "49", "1001"])).to_owned()
        }
        "speed_factor" => (*rng.pick(&["0", "0.24", "4.01", "-1", "1e308", "5e-324"])).to_owned(),
        "normalize_method" | "speed_factor_library" | "whisper_model_name" | "response_mode" => {
            jstr(rng.pick_str(&["", "EBU", "peak ", "librosa", "x", "huge"]))
        }
        _ => (*rng.pick(&[
            "-0.0001", "2.0001", "1e308", "-1e308", "5e-324", "100", "-100",
        ]))
        .to_owned(),
    }
}

fn gen_tts(rng: &mut Rng, seeds: &Seeds) -> Case {
    let mut fields = vec![
        ("text".to_owned(), jstr("Hi.")),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    // Most cases break one field, so validation runs past the first problem; some break
    // several at once.
    for _ in 0..mutations(rng) {
        let field = *rng.pick(TTS_FIELDS);
        let value = tts_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    if rng.chance(10) {
        fields.push((odd_name(rng, seeds), wrong_value(rng)));
    }
    let raw = object(&fields);
    let body = if rng.chance(20) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    Case::new(
        "/api/v1/tts",
        Method::POST,
        with_query("/api/v1/tts", &query),
    )
    .json(rng, body)
}

// --- VC ---------------------------------------------------------------------------------------

const VC_FIELDS: &[&str] = &[
    "input_audio_source",
    "target_voice_source",
    "chunk_sec",
    "overlap_sec",
    "disable_watermark",
    "export_formats",
    "project",
    "folder",
    "response_mode",
];

const VC_TEXTS: &[TextField] = &[
    TextField {
        name: "target_voice_source",
        values: &["keep/narrator.wav", "narrator", "", "../voices/x"],
    },
    TextField {
        name: "chunk_sec",
        values: &[
            "NaN",
            "1e999",
            "-1",
            "0",
            "301",
            "9999999999999999999",
            "1.5",
        ],
    },
    TextField {
        name: "overlap_sec",
        values: &["NaN", "inf", "-0.1", "5.1", "60"],
    },
    TextField {
        name: "export_formats",
        values: &["exe", ",", "wav,,mp3", "", "WAV"],
    },
    TextField {
        name: "project",
        values: &["unnamed", "..", "keep"],
    },
    TextField {
        name: "folder",
        values: &["other", "/abs"],
    },
    TextField {
        name: "disable_watermark",
        values: &["maybe", "false"],
    },
    TextField {
        name: "response_mode",
        values: &["url", "stream", ""],
    },
];

/// A route that reads a multipart form: where, its file field and its text fields.
struct UploadRoute {
    path: &'static str,
    file_field: &'static str,
    texts: &'static [TextField],
}

/// Every route that reads a multipart form.
const UPLOAD_ROUTES: [UploadRoute; 5] = [
    UploadRoute {
        path: "/api/v1/voice",
        file_field: "voice_file",
        texts: VOICE_TEXTS,
    },
    UploadRoute {
        path: "/api/v1/vc_input",
        file_field: "vc_input_file",
        texts: VC_INPUT_TEXTS,
    },
    UploadRoute {
        path: "/api/v1/vc",
        file_field: "input_audio",
        texts: VC_TEXTS,
    },
    UploadRoute {
        path: "/api/v1/concat/mixed",
        file_field: "uploaded_files",
        texts: &[TextField {
            name: "request_json",
            values: &["{", "[]", "null", "{\"segments\":[]}"],
        }],
    },
    UploadRoute {
        path: "/v1/audio/voices",
        file_field: "audio_sample",
        texts: &[TextField {
            name: "name",
            values: &["", " ", "\u{200b}", "narrator", "!!!", "a/b", "..", "🎤"],
        }],
    },
];

fn upload_case(rng: &mut Rng, seeds: &Seeds, route: &UploadRoute, mode: Option<usize>) -> Case {
    multipart_case(
        rng,
        seeds,
        route.path,
        route.path.to_owned(),
        route.file_field,
        route.texts,
        mode,
    )
}

fn gen_vc(rng: &mut Rng, seeds: &Seeds) -> Case {
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    let uri = with_query("/api/v1/vc", &query);
    if rng.chance(40) {
        let mut case = upload_case(rng, seeds, &UPLOAD_ROUTES[2], None);
        case.uri = uri;
        return case;
    }
    let mut fields = vec![
        ("input_audio_source".to_owned(), jstr(&seeds.vc_input)),
        ("target_voice_source".to_owned(), jstr(&seeds.voice)),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    for _ in 0..mutations(rng) {
        let field = *rng.pick(VC_FIELDS);
        let value = match (field, rng.below(2)) {
            ("chunk_sec", 0) => {
                (*rng.pick(&["0", "301", "-1", "9223372036854775808", "1.5"])).to_owned()
            }
            ("overlap_sec", 0) => (*rng.pick(&["-0.1", "5.1", "60", "1e308"])).to_owned(),
            ("export_formats", 0) => (*rng.pick(FORMAT_LISTS)).to_owned(),
            ("input_audio_source" | "target_voice_source" | "project" | "folder", 0) => {
                jstr(&odd_name(rng, seeds))
            }
            _ => wrong_value(rng),
        };
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(20) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    Case::new("/api/v1/vc", Method::POST, uri).json(rng, body)
}

// --- Concatenation ---------------------------------------------------------------------------

const CONCAT_SETTINGS: &[&str] = &[
    "export_formats",
    "normalize_levels",
    "crossfade_ms",
    "pause_duration_ms",
    "pause_variation_ms",
    "trim",
    "trim_threshold_ms",
    "output_filename",
    "project",
    "folder",
    "seed",
    "mp3_bitrate_kbps",
    "opus_bitrate_kbps",
    "response_mode",
];

/// A value for one concat setting.
fn concat_value(rng: &mut Rng, seeds: &Seeds, field: &str) -> String {
    if rng.chance(45) {
        return wrong_value(rng);
    }
    match field {
        "export_formats" => (*rng.pick(FORMAT_LISTS)).to_owned(),
        "crossfade_ms" => (*rng.pick(&["5001", "99999", "-1", "4294967296", "\"100\""])).to_owned(),
        "pause_duration_ms" => (*rng.pick(&["3001", "-1", "4294967295", "3000"])).to_owned(),
        "pause_variation_ms" => (*rng.pick(&["501", "-5", "4294967295"])).to_owned(),
        "trim_threshold_ms" => (*rng.pick(&["0", "49", "1001", "4294967295"])).to_owned(),
        "seed" => (*rng.pick(&[
            "-1",
            "1.5",
            "18446744073709551616",
            "\"7\"",
            "18446744073709551615",
        ]))
        .to_owned(),
        "mp3_bitrate_kbps" | "opus_bitrate_kbps" => {
            (*rng.pick(&["0", "1", "7", "65535", "65536", "-1", "100000"])).to_owned()
        }
        "output_filename" | "project" | "folder" => match rng.below(3) {
            0 => jstr(rng.pick_str(&["", "x.exe", "a/b.wav", "../x.wav", "unnamed", "x.wav.json"])),
            _ => jstr(&odd_name(rng, seeds)),
        },
        _ => (*rng.pick(&["\"yes\"", "1", "null", "\"\""])).to_owned(),
    }
}

/// One item of a concat `files` list: silence tokens, seeded outputs, sidecars, other
/// areas, traversal, or not a string at all.
fn concat_item(rng: &mut Rng, seeds: &Seeds) -> String {
    match rng.below(10) {
        0..=3 => jstr(rng.pick_str(SILENCE_TOKENS)),
        4 => jstr(rng.pick(seeds.outputs.as_slice()).as_str()),
        5 => jstr(&format!("{}.json", seeds.outputs[0])),
        6 => jstr(rng.pick_str(&[
            "voices/keep/narrator.wav",
            "../voices/keep/narrator.wav",
            "missing.wav",
            "keep/",
        ])),
        7 => jstr(&odd_name(rng, seeds)),
        _ => (*rng.pick(&["1", "null", "[]", "{}", "true"])).to_owned(),
    }
}

fn gen_concat(rng: &mut Rng, seeds: &Seeds) -> Case {
    let items: Vec<String> = (0..rng.below(5)).map(|_| concat_item(rng, seeds)).collect();
    let mut fields = vec![
        ("files".to_owned(), format!("[{}]", items.join(","))),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    if rng.chance(20) {
        set(&mut fields, "files", wrong_value(rng));
    }
    for _ in 0..rng.below(3) {
        let field = *rng.pick(CONCAT_SETTINGS);
        let value = concat_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(15) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    Case::new(
        "/api/v1/concat",
        Method::POST,
        with_query("/api/v1/concat", &query),
    )
    .json(rng, body)
}

/// A `request_json` for a mixed concatenation: segments of every wrong shape.
fn mixed_request_json(rng: &mut Rng, seeds: &Seeds) -> String {
    let mut segments = Vec::new();
    for _ in 0..rng.below(5) {
        let mut segment = Vec::new();
        let kind = *rng.pick(&[
            "\"upload\"",
            "\"silence\"",
            "\"server_file\"",
            "\"\"",
            "\"UPLOAD\"",
            "\"file\"",
            "1",
            "null",
        ]);
        segment.push(("type".to_owned(), kind.to_owned()));
        if rng.chance(60) {
            let source = match rng.below(4) {
                0 => jstr(rng.pick_str(SILENCE_TOKENS)),
                1 => jstr(rng.pick(seeds.outputs.as_slice()).as_str()),
                2 => jstr(&odd_name(rng, seeds)),
                _ => wrong_value(rng),
            };
            segment.push(("source".to_owned(), source));
        }
        if rng.chance(50) {
            let index = *rng.pick(&[
                "0",
                "1",
                "2",
                "-1",
                "1e999",
                "18446744073709551616",
                "9223372036854775807",
                "\"0\"",
                "null",
                "1.5",
            ]);
            segment.push(("index".to_owned(), index.to_owned()));
        }
        segments.push(object(&segment));
    }
    let mut fields = vec![
        ("segments".to_owned(), format!("[{}]", segments.join(","))),
        ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
    ];
    if rng.chance(15) {
        set(&mut fields, "segments", wrong_value(rng));
    }
    for _ in 0..rng.below(3) {
        let field = *rng.pick(CONCAT_SETTINGS);
        let value = concat_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    if rng.chance(15) {
        String::from_utf8_lossy(&damage_json(rng, raw)).into_owned()
    } else {
        raw
    }
}

fn gen_concat_mixed(rng: &mut Rng, seeds: &Seeds) -> Case {
    let query = random_query(rng, &["response_mode", "return_format"], 30);
    let uri = with_query("/api/v1/concat/mixed", &query);
    let request_json = mixed_request_json(rng, seeds);
    match rng.below(10) {
        // URL-encoded, as clients without uploads send it.
        0 | 1 => {
            let body = if rng.chance(20) {
                b"request_json=%zz&&=".to_vec()
            } else {
                format!("request_json={}", encode_all(&request_json)).into_bytes()
            };
            let note = format!(
                "urlencoded request_json={}",
                summarize(request_json.as_bytes(), 160)
            );
            Case::new("/api/v1/concat/mixed", Method::POST, uri)
                .body_bytes(body, note)
                .header("content-type", "application/x-www-form-urlencoded")
        }
        // A well-formed form: request_json plus 0–3 uploads (garbage or real).
        2..=6 => {
            let mut parts = Vec::new();
            let mut labels = vec![format!(
                "request_json={}",
                summarize(request_json.as_bytes(), 160)
            )];
            if rng.chance(90) {
                parts.push(Part::text("request_json", request_json.as_bytes()));
            }
            for _ in 0..rng.below(4) {
                let (audio, label) = audio_bytes(rng);
                let field = *rng.pick(&["uploaded_files", "uploaded_files[]", "file"]);
                parts.push(Part::file(field, &upload_name(rng, seeds), audio));
                labels.push(format!("{field}: {label}"));
            }
            Case::new("/api/v1/concat/mixed", Method::POST, uri)
                .body_bytes(encode_parts(BOUNDARY, &parts), labels.join("; "))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
        }
        // A broken form.
        _ => {
            let mut case = upload_case(rng, seeds, &UPLOAD_ROUTES[3], None);
            case.uri = uri;
            case
        }
    }
}

// --- Service routes and documentation ------------------------------------------------------

fn gen_admin(rng: &mut Rng, _: &Seeds) -> Case {
    match rng.below(6) {
        0 => {
            // Unknown parameters on the cleanup: 422, nothing done.
            let query = format!(
                "{}={}",
                encode_all(rng.pick_str(UNKNOWN_PARAMS)),
                encode_all(rng.pick_str(QUERY_VALUES))
            );
            Case::new(
                "/api/v1/cleanup",
                Method::POST,
                format!("/api/v1/cleanup?{query}"),
            )
            .expect(Expect::OneOf(&[422]))
        }
        1 => {
            let len = rng.below(300);
            let body = rng.bytes(len);
            let note = summarize(&body, 60);
            Case::new("/api/v1/cleanup", Method::POST, "/api/v1/cleanup".into())
                .body_bytes(body, note)
                .header("content-type", *rng.pick(CONTENT_TYPES))
        }
        _ => {
            let (route, path) = *rng.pick(&[
                ("/api/v1/health", "/api/v1/health"),
                ("/api/v1/config", "/api/v1/config"),
                ("/api/v1/resources", "/api/v1/resources"),
                ("/api/v1/cleanup/status", "/api/v1/cleanup/status"),
            ]);
            let method = if rng.chance(25) {
                Method::HEAD
            } else {
                Method::GET
            };
            let mut case = Case::new(
                route,
                method,
                with_query(path, &random_query(rng, &[], 100)),
            );
            if rng.chance(20) {
                case = case.header(
                    "authorization",
                    rng.pick_str(&["Bearer ", "Bearer \t", "Basic Og==", "x"]),
                );
            }
            case
        }
    }
}

fn gen_docs(rng: &mut Rng, _: &Seeds) -> Case {
    let (route, path) = *rng.pick(&[
        ("/", "/"),
        ("/docs", "/docs"),
        ("/docs", "/docs/"),
        ("/docs", "/docs/index.html"),
        ("/docs", "/docs/swagger-initializer.js"),
        ("/docs", "/docs/nonexistent.js"),
        ("/docs", "/docs/%2e%2e/%2e%2e/Cargo.toml"),
        ("/docs", "/docs/../openapi.json"),
        ("/docs", "/docs/%00"),
        ("/openapi.json", "/openapi.json"),
    ]);
    let method = if rng.chance(25) {
        Method::HEAD
    } else {
        Method::GET
    };
    Case::new(
        route,
        method,
        with_query(path, &random_query(rng, &[], 100)),
    )
}

// --- OpenAI ---------------------------------------------------------------------------------

const OPENAI_FIELDS: &[&str] = &[
    "model",
    "input",
    "voice",
    "response_format",
    "speed",
    "stream_format",
    "instructions",
    "extra_body",
    "seed",
    "temperature",
    "exaggeration",
    "cfg_weight",
];

fn openai_value(rng: &mut Rng, seeds: &Seeds, field: &str) -> String {
    if rng.chance(45) {
        return wrong_value(rng);
    }
    match field {
        "model" => jstr(rng.pick_str(&[
            "tts-1",
            "tts-1-hd",
            "gpt-4o-mini-tts",
            "",
            "piper",
            "chatterbox",
            "../x",
            "x",
        ])),
        "voice" => match rng.below(3) {
            0 => jstr(&odd_name(rng, seeds)),
            1 => format!("{{\"id\":{}}}", jstr(&odd_name(rng, seeds))),
            _ => (*rng.pick(&[
                "\"alloy\"",
                "\"\"",
                "\"keep/narrator.wav\"",
                "{\"id\":\"alloy\"}",
                "{\"id\":\"\"}",
                "{\"id\":1}",
                "{\"id\":\"a\",\"x\":1}",
                "{}",
            ]))
            .to_owned(),
        },
        "input" => hostile_text(rng),
        "response_format" => jstr(rng.pick_str(&[
            "mp3", "opus", "aac", "flac", "wav", "pcm", "MP3", "wav32", "exe", "",
        ])),
        "speed" => {
            (*rng.pick(&["0.25", "4", "0.24", "4.01", "-1", "0", "1e308", "\"1\""])).to_owned()
        }
        "stream_format" => jstr(rng.pick_str(&["sse", "audio", "SSE", "", "raw"])),
        "instructions" => match rng.below(2) {
            0 => jstr(&"i".repeat(4097)),
            _ => jstr(rng.pick_str(&["", "\u{0}", "speak"])),
        },
        "extra_body" => (*rng.pick(&[
            "1",
            "\"x\"",
            "[]",
            "{\"speed\":99}",
            "{\"model\":1}",
            "{\"seed\":-1}",
            "{\"temperature\":NaN}",
        ]))
        .to_owned(),
        _ => (*rng.pick(&["-1", "2.0001", "4294967296", "1e308", "-0.0001"])).to_owned(),
    }
}

fn gen_openai_speech(rng: &mut Rng, seeds: &Seeds) -> Case {
    let (route, path) = if rng.chance(75) {
        ("/v1/audio/speech", "/v1/audio/speech")
    } else {
        ("/audio/speech", "/audio/speech")
    };
    let mut fields = vec![
        ("model".to_owned(), jstr("tts-1")),
        ("voice".to_owned(), jstr("alloy")),
        ("input".to_owned(), jstr("Hi.")),
        ("response_format".to_owned(), jstr("wav")),
    ];
    if rng.chance(15) {
        // A required field left out.
        let index = rng.below(3);
        fields.remove(index);
    }
    for _ in 0..mutations(rng) {
        let field = *rng.pick(OPENAI_FIELDS);
        let value = openai_value(rng, seeds, field);
        set(&mut fields, field, value);
    }
    let raw = object(&fields);
    let body = if rng.chance(20) {
        damage_json(rng, raw)
    } else {
        raw.into_bytes()
    };
    let query = random_query(rng, &[], 100);
    Case::new(route, Method::POST, with_query(path, &query)).json(rng, body)
}

fn gen_openai_models(rng: &mut Rng, seeds: &Seeds) -> Case {
    if rng.chance(30) {
        return Case::new(
            "/v1/models",
            Method::GET,
            with_query("/v1/models", &random_query(rng, &[], 100)),
        );
    }
    let id = match rng.below(4) {
        0 => encode_loose(&odd_name(rng, seeds)),
        1 => (*rng.pick(&["%ff", "%c3%28", "%zz", "%", "tts-1%00", "%2e%2e"])).to_owned(),
        _ => encode_all(&odd_name(rng, seeds)),
    };
    let method = if rng.chance(15) {
        Method::HEAD
    } else {
        Method::GET
    };
    Case::new("/v1/models/{id}", method, format!("/v1/models/{id}"))
}

fn gen_openai_voices(rng: &mut Rng, seeds: &Seeds) -> Case {
    if rng.chance(25) {
        let method = if rng.chance(20) {
            Method::HEAD
        } else {
            Method::GET
        };
        return Case::new(
            "/v1/audio/voices",
            method,
            with_query("/v1/audio/voices", &random_query(rng, &[], 100)),
        );
    }
    upload_case(rng, seeds, &UPLOAD_ROUTES[4], None)
}

// --- Wrong methods and unknown routes ----------------------------------------------------------

fn gen_wrong_method(rng: &mut Rng, _: &Seeds) -> Case {
    let path = *rng.pick(ROUTES);
    let method = Method::from_bytes(rng.pick(METHODS).as_bytes()).unwrap();
    let mut case = Case::new("*", method, path.to_owned());
    case.route = "ANY METHOD on every route";
    if rng.chance(50) {
        let len = rng.below(200);
        let body = rng.bytes(len);
        let note = summarize(&body, 40);
        case = case
            .body_bytes(body, note)
            .header("content-type", *rng.pick(CONTENT_TYPES));
    }
    case
}

fn gen_unknown_route(rng: &mut Rng, _: &Seeds) -> Case {
    let path = match rng.below(5) {
        0 => format!(
            "/api/v1/{}",
            encode_all(&String::from_utf8_lossy(&rng.bytes(6)))
        ),
        _ => (*rng.pick(&[
            "/api",
            "/api/v1",
            "/api/v1/",
            "/api/v2/voices",
            "/api/v1/voice/",
            "/api/v1/voices/",
            "/api/v1/voice/x/metadata/extra",
            "/api/v1/tts/",
            "//api/v1/voices",
            "/API/V1/VOICES",
            "/v1",
            "/v1/",
            "/v1/audio",
            "/v1/audio/speech/",
            "/v1/audio/transcriptions",
            "/v1/chat/completions",
            "/audio",
            "/audio/voices",
            "/audio/speech/x",
            "/outputs",
            "/outputs/",
            "/%2e%2e/etc/passwd",
            "/..",
            "/api/v1/%00",
            "/favicon.ico",
            "/.env",
            "/api/v1/voice/%ff",
            "/api/v1/voice/%ff/metadata",
            "/api/v1/vc_input/%c3%28",
            "/api/v1/output/%",
        ]))
        .to_owned(),
    };
    let method = Method::from_bytes(
        rng.pick(&["GET", "POST", "HEAD", "DELETE", "PUT"])
            .as_bytes(),
    )
    .unwrap();
    let mut case = Case::new("*", method, path);
    case.route = "unknown routes";
    case
}

// --- The systematic corpus ----------------------------------------------------------------

/// A well-formed form for upload route `index` carrying `bytes` as its file, with the
/// other fields a request needs, so the audio itself is what gets judged.
fn form_with_file(index: usize, file_name: &str, bytes: Vec<u8>, label: &str) -> Case {
    let route = &UPLOAD_ROUTES[index];
    let mut parts = vec![Part::file(route.file_field, file_name, bytes)];
    match index {
        2 => parts.push(Part::text("target_voice_source", b"keep/narrator.wav")),
        3 => parts.push(Part::text(
            "request_json",
            br#"{"segments":[{"type":"upload","index":0},{"type":"silence","source":"(100ms)"}],"export_formats":["wav"]}"#,
        )),
        4 => parts.push(Part::text("name", file_name.as_bytes())),
        _ => {}
    }
    Case::new(route.path, Method::POST, route.path.to_owned())
        .body_bytes(
            encode_parts(BOUNDARY, &parts),
            format!("{} = {file_name:?} ({label})", route.file_field),
        )
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
}

fn json_case(route: &'static str, uri: String, fields: &[(String, String)]) -> Case {
    let body = object(fields).into_bytes();
    let note = format!("[application/json] {}", summarize(&body, 160));
    Case::new(route, Method::POST, uri)
        .body_bytes(body, note)
        .header("content-type", "application/json")
}

/// The systematic part of the suite: every `Range` on a seeded output, every hostile name
/// in every path parameter, every unknown parameter on every destructive route, every
/// hostile audio kind and broken-form shape on every upload route and, with `full`, every
/// field of every JSON body alone with wrong values, every silence token, every method on
/// every route and every hostile number in the listings' pagination.
fn corpus(rng: &mut Rng, seeds: &Seeds, full: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let output_path = seeds.outputs[0]
        .split('/')
        .map(encode_all)
        .collect::<Vec<_>>()
        .join("/");

    for range in RANGES {
        for method in [Method::GET, Method::HEAD] {
            let mut case = Case::new("/outputs/{path}", method, format!("/outputs/{output_path}"))
                .header("range", range.to_vec());
            case.note = format!("Range: {}", summarize(range, 60));
            cases.push(case);
        }
    }

    let deletes = [
        ("/api/v1/voice/{f}", "/api/v1/voice"),
        ("/api/v1/vc_input/{f}", "/api/v1/vc_input"),
        ("/api/v1/output/{f}", "/api/v1/output"),
    ];
    for name in ODD_NAMES {
        let (all, loose) = (encode_all(name), encode_loose(name));
        cases.push(Case::new(
            "/outputs/{path}",
            Method::GET,
            format!("/outputs/{loose}"),
        ));
        for (route, prefix) in deletes {
            cases.push(
                Case::new(
                    route,
                    Method::DELETE,
                    format!("{prefix}/{all}?confirm=true"),
                )
                .expect(Expect::SparesSeeds),
            );
        }
        if full {
            cases.push(
                json_case(
                    "/api/v1/voice/{f}/metadata",
                    format!("/api/v1/voice/{all}/metadata"),
                    &[("description".into(), jstr("fuzz"))],
                )
                .method(Method::PUT),
            );
            cases.push(Case::new(
                "/v1/models/{id}",
                Method::GET,
                format!("/v1/models/{loose}"),
            ));
        }
    }

    let destructive = [
        (
            "/api/v1/voices",
            "/api/v1/voices".to_owned(),
            "confirm=true&all=true&",
        ),
        (
            "/api/v1/vc_inputs",
            "/api/v1/vc_inputs".to_owned(),
            "confirm=true&all=true&",
        ),
        (
            "/api/v1/outputs",
            "/api/v1/outputs".to_owned(),
            "confirm=true&all=true&",
        ),
        (
            "/api/v1/voice/{f}",
            format!("/api/v1/voice/{}", encode_all(&seeds.voice)),
            "confirm=true&",
        ),
        (
            "/api/v1/vc_input/{f}",
            format!("/api/v1/vc_input/{}", encode_all(&seeds.vc_input)),
            "confirm=true&",
        ),
        (
            "/api/v1/output/{f}",
            format!("/api/v1/output/{}", encode_all(&seeds.outputs[0])),
            "confirm=true&",
        ),
    ];
    let params = if full {
        UNKNOWN_PARAMS
    } else {
        &UNKNOWN_PARAMS[..6]
    };
    for param in params {
        let value = encode_all(rng.pick_str(QUERY_VALUES));
        for (route, path, prefix) in &destructive {
            let uri = format!("{path}?{prefix}{}={value}", encode_all(param));
            cases.push(Case::new(route, Method::DELETE, uri).expect(Expect::OneOf(&[422])));
        }
        let uri = format!("/api/v1/cleanup?{}={value}", encode_all(param));
        cases.push(Case::new("/api/v1/cleanup", Method::POST, uri).expect(Expect::OneOf(&[422])));
    }

    for (index, route) in UPLOAD_ROUTES.iter().enumerate() {
        // The conversion route stores nothing: the persistent backends skip it.
        if !full && index == 2 {
            continue;
        }
        for mode in 8..MULTIPART_MODES {
            cases.push(upload_case(rng, seeds, route, Some(mode)));
        }
        for kind in 0..AUDIO_KINDS {
            let (bytes, label) = audio_of_kind(rng, kind);
            let extension = ["wav", "mp3", "flac", "ogg", "m4a", "aac"][kind % 6];
            let name = format!("kind{kind}-{}.{extension}", rng.next() % 1_000_000);
            cases.push(form_with_file(index, &name, bytes, &label));
        }
    }
    // Bodies over every limit: uploads (1–2 MB in this suite), URL-encoded forms (1 MB),
    // JSON bodies (64 KB on the VC and OpenAI routes, axum's 2 MB elsewhere).
    for index in 0..UPLOAD_ROUTES.len() {
        if !full && index == 2 {
            continue;
        }
        let mut big = wav();
        big.resize(2_500_000, 0);
        cases.push(form_with_file(index, "big.wav", big, "2.5 MB WAV"));
    }
    let oversized =
        |size: usize| format!("{{\"text\":\"{}\",\"files\":[]}}", "a".repeat(size)).into_bytes();
    let mut big_form = b"request_json=".to_vec();
    big_form.resize(1_100_000, b'a');
    cases.push(
        Case::new(
            "/api/v1/concat/mixed",
            Method::POST,
            "/api/v1/concat/mixed".into(),
        )
        .body_bytes(big_form, "1.1 MB URL-encoded form".into())
        .header("content-type", "application/x-www-form-urlencoded"),
    );
    for (route, method, uri, size) in [
        (
            "/api/v1/voice/{f}/metadata",
            Method::PUT,
            format!("/api/v1/voice/{}/metadata", encode_all(&seeds.voice)),
            3_000_000,
        ),
        (
            "/api/v1/concat",
            Method::POST,
            "/api/v1/concat".to_owned(),
            3_000_000,
        ),
        (
            "/api/v1/tts",
            Method::POST,
            "/api/v1/tts".to_owned(),
            3_000_000,
        ),
        ("/api/v1/vc", Method::POST, "/api/v1/vc".to_owned(), 100_000),
        (
            "/v1/audio/speech",
            Method::POST,
            "/v1/audio/speech".to_owned(),
            100_000,
        ),
    ] {
        if !full && route != "/api/v1/voice/{f}/metadata" && route != "/api/v1/concat" {
            continue;
        }
        cases.push(
            Case::new(route, method, uri)
                .body_bytes(oversized(size), format!("{size}-byte JSON"))
                .header("content-type", "application/json"),
        );
    }
    if !full {
        return cases;
    }

    let tts_base = || {
        vec![
            ("text".to_owned(), jstr("Hi.")),
            ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
        ]
    };
    for field in TTS_FIELDS {
        for i in 0..3 {
            let value = if i == 0 {
                wrong_value(rng)
            } else {
                tts_value(rng, seeds, field)
            };
            let mut fields = tts_base();
            set(&mut fields, field, value);
            cases.push(json_case("/api/v1/tts", "/api/v1/tts".into(), &fields));
        }
    }
    for field in VC_FIELDS {
        for _ in 0..3 {
            let mut fields = vec![
                ("input_audio_source".to_owned(), jstr(&seeds.vc_input)),
                ("target_voice_source".to_owned(), jstr(&seeds.voice)),
            ];
            set(&mut fields, field, wrong_value(rng));
            cases.push(json_case("/api/v1/vc", "/api/v1/vc".into(), &fields));
        }
    }
    for field in OPENAI_FIELDS {
        for _ in 0..4 {
            let mut fields = vec![
                ("model".to_owned(), jstr("tts-1")),
                ("voice".to_owned(), jstr("alloy")),
                ("input".to_owned(), jstr("Hi.")),
                ("response_format".to_owned(), jstr("wav")),
            ];
            let value = openai_value(rng, seeds, field);
            set(&mut fields, field, value);
            cases.push(json_case(
                "/v1/audio/speech",
                "/v1/audio/speech".into(),
                &fields,
            ));
        }
    }
    let files = format!("[{},\"(100ms)\"]", jstr(&seeds.outputs[0]));
    for field in CONCAT_SETTINGS {
        for _ in 0..3 {
            let mut fields = vec![("files".to_owned(), files.clone())];
            let value = concat_value(rng, seeds, field);
            set(&mut fields, field, value);
            cases.push(json_case(
                "/api/v1/concat",
                "/api/v1/concat?response_mode=url".into(),
                &fields,
            ));
        }
    }
    for _ in 0..4 {
        cases.push(json_case(
            "/api/v1/concat",
            "/api/v1/concat".into(),
            &[("files".to_owned(), wrong_value(rng))],
        ));
    }
    for token in SILENCE_TOKENS {
        let fields = [
            (
                "files".to_owned(),
                format!("[{},{}]", jstr(&seeds.outputs[0]), jstr(token)),
            ),
            ("export_formats".to_owned(), "[\"wav\"]".to_owned()),
        ];
        cases.push(json_case(
            "/api/v1/concat",
            "/api/v1/concat?response_mode=url".into(),
            &fields,
        ));
        let request_json = format!(
            r#"{{"segments":[{{"type":"upload","index":0}},{{"type":"silence","source":{}}}],"export_formats":["wav"]}}"#,
            jstr(token)
        );
        let parts = [
            Part::text("request_json", request_json.as_bytes()),
            Part::file("uploaded_files", "clip.wav", wav()),
        ];
        cases.push(
            Case::new(
                "/api/v1/concat/mixed",
                Method::POST,
                "/api/v1/concat/mixed?response_mode=url".into(),
            )
            .body_bytes(
                encode_parts(BOUNDARY, &parts),
                format!("upload + silence {token}"),
            )
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
        );
    }
    for field in METADATA_FIELDS {
        for _ in 0..3 {
            let case = json_case(
                "/api/v1/voice/{f}/metadata",
                format!("/api/v1/voice/{}/metadata", encode_all(&seeds.voice)),
                &[((*field).to_owned(), wrong_value(rng))],
            );
            cases.push(case.method(Method::PUT));
        }
    }

    for route in ROUTES {
        for method in METHODS {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let mut case = Case::new("*", method, (*route).to_owned());
            case.route = "ANY METHOD on every route";
            cases.push(case);
        }
        // A stranger's web page trying to change state: refused in the route's dialect.
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let mut case =
                Case::new("*", method, (*route).to_owned()).header("origin", "http://evil.example");
            case.route = "foreign Origin on every route";
            cases.push(case);
        }
    }

    // Escapes that decode to invalid UTF-8, and broken escapes, in every path parameter.
    for escape in ["%ff", "%c3%28", "%ed%a0%80", "%zz", "%"] {
        for (route, uri) in [
            (
                "/api/v1/voice/{f}/metadata",
                format!("/api/v1/voice/{escape}/metadata"),
            ),
            (
                "/api/v1/voice/{f}",
                format!("/api/v1/voice/{escape}?confirm=true"),
            ),
            (
                "/api/v1/vc_input/{f}",
                format!("/api/v1/vc_input/{escape}?confirm=true"),
            ),
            (
                "/api/v1/output/{f}",
                format!("/api/v1/output/{escape}?confirm=true"),
            ),
            ("/outputs/{path}", format!("/outputs/{escape}")),
            ("/v1/models/{id}", format!("/v1/models/{escape}")),
        ] {
            let method = match route {
                "/api/v1/voice/{f}/metadata" => Method::PUT,
                "/outputs/{path}" | "/v1/models/{id}" => Method::GET,
                _ => Method::DELETE,
            };
            cases.push(Case::new(route, method, uri).expect(Expect::SparesSeeds));
        }
    }

    // Every hostile value as a listing's page or page_size.
    for (route, path) in [
        ("/api/v1/voices", "/api/v1/voices"),
        ("/api/v1/vc_inputs", "/api/v1/vc_inputs"),
        ("/api/v1/outputs", "/api/v1/outputs"),
    ] {
        for value in QUERY_VALUES {
            let name = rng.pick_str(&["page", "page_size"]);
            let uri = format!("{path}?{name}={}", encode_all(value));
            cases.push(Case::new(route, Method::GET, uri));
        }
    }
    cases
}

// ---------------------------------------------------------------------------------------
// Running and checking
// ---------------------------------------------------------------------------------------

/// One problem with one answer.
struct Violation {
    route: &'static str,
    method: Method,
    uri: String,
    /// The headers the case set (content type, range, origin, ...), for reproducing it.
    headers: String,
    note: String,
    status: String,
    problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uri: String = self.uri.chars().take(160).collect();
        write!(
            f,
            "{} {uri} | headers [{}] | body {} | -> {} | {}",
            self.method,
            self.headers,
            if self.note.is_empty() {
                "(none)"
            } else {
                &self.note
            },
            self.status,
            self.problem
        )
    }
}

/// The dialect whose envelope a path's errors use (the handler's rule).
fn is_openai_path(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/v1" || path.starts_with("/audio/")
}

/// 503 codes that are operational answers, not faults.
const OPERATIONAL_503: &[&str] = &[
    "SERVER_BUSY",
    "STORAGE_UNAVAILABLE",
    "MODEL_NOT_INSTALLED",
    "ENCODER_UNAVAILABLE",
];

/// Problems with one answer's status and body (the store is checked separately).
fn answer_problems(
    case: &Case,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<String> {
    let mut problems = Vec::new();
    let path = case.uri.split('?').next().unwrap_or_default();
    let openai = is_openai_path(path);
    let parsed: Option<Value> = serde_json::from_slice(body).ok();

    if status.is_server_error() {
        let code = parsed.as_ref().and_then(|v| {
            if openai {
                v["error"]["code"]
                    .as_str()
                    .map(str::to_ascii_uppercase)
                    .or_else(|| {
                        v["error"]["message"]
                            .as_str()
                            .filter(|m| m.starts_with("Storage is unavailable"))
                            .map(|_| "STORAGE_UNAVAILABLE".to_owned())
                    })
            } else {
                v["error_code"].as_str().map(str::to_owned)
            }
        });
        let operational = status == StatusCode::SERVICE_UNAVAILABLE
            && code
                .as_deref()
                .is_some_and(|c| OPERATIONAL_503.contains(&c));
        if !operational {
            problems.push(format!(
                "server error {} (code {code:?}): {}",
                status.as_u16(),
                summarize(body, 300)
            ));
        }
    }

    match case.expect {
        Expect::Any => {}
        Expect::Refused if status.is_client_error() => {}
        Expect::Refused => problems.push(format!(
            "a destructive request built to be refused answered {}",
            status.as_u16()
        )),
        Expect::OneOf(allowed) if allowed.contains(&status.as_u16()) => {}
        Expect::OneOf(allowed) => problems.push(format!(
            "expected one of {allowed:?}, got {}",
            status.as_u16()
        )),
        Expect::SparesSeeds => {}
    }

    if case.method == Method::HEAD {
        if !body.is_empty() {
            problems.push(format!(
                "HEAD answer has a {}-byte body: {}",
                body.len(),
                summarize(body, 120)
            ));
        }
        return problems;
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return problems;
    }
    let header_id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    if header_id.is_none() {
        problems.push("error answer without an x-request-id header".into());
    }
    let Some(value) = parsed else {
        problems.push(format!(
            "error body is not JSON (content-type {:?}): {}",
            headers.get("content-type"),
            summarize(body, 200)
        ));
        return problems;
    };
    if openai {
        let error = &value["error"];
        let well_formed = value.as_object().is_some_and(|o| o.len() == 1)
            && error["message"].as_str().is_some_and(|m| !m.is_empty())
            && error["type"].as_str().is_some_and(|t| !t.is_empty())
            && error
                .get("param")
                .is_some_and(|p| p.is_null() || p.is_string())
            && error
                .get("code")
                .is_some_and(|c| c.is_null() || c.is_string());
        if !well_formed {
            problems.push(format!(
                "not the OpenAI error envelope: {}",
                summarize(body, 300)
            ));
        }
    } else {
        let well_formed = value["success"] == json!(false)
            && value["error"].as_str().is_some_and(|m| !m.is_empty())
            && value["error_code"].as_str().is_some_and(|c| !c.is_empty())
            && value.get("detail").is_some()
            && value["timestamp"].as_str().is_some();
        if !well_formed {
            problems.push(format!(
                "not the native error envelope: {}",
                summarize(body, 300)
            ));
        } else if value["request_id"].as_str() != header_id {
            problems.push(format!(
                "request_id {} differs from the x-request-id header {header_id:?}",
                value["request_id"]
            ));
        }
    }
    problems
}

/// Decodes `%XX` escapes (others are kept as written), as the router does for paths.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `case` downloads a key that is a folder of other keys (`/outputs/keep`).
///
/// The test S3 server (s3s-fs) keeps each object as a file, so such a key is a directory
/// there and `GetObject` answers `InternalError`, where a real S3 store answers `NoSuchKey`
/// (and the filesystem and memory stores, 404). The S3 run leaves these out; the other
/// backends cover them.
fn names_a_folder(case: &Case, store: &BTreeMap<String, u64>) -> bool {
    let path = case.uri.split('?').next().unwrap_or_default();
    let Some(rest) = path.strip_prefix("/outputs/") else {
        return false;
    };
    let folder = format!("outputs/{}/", percent_decode(rest));
    (case.method == Method::GET || case.method == Method::HEAD)
        && store.keys().any(|k| k.starts_with(&folder))
}

/// Every object in the store with its size.
async fn snapshot(store: &dyn storage::ObjectStore) -> BTreeMap<String, u64> {
    storage::list_all(store, &storage::KeyPrefix::root(), false)
        .await
        .expect("listing the store")
        .objects
        .into_iter()
        .map(|o| (o.key.to_string(), o.size))
        .collect()
}

/// How the store differs, ignoring `journal/` (checked on its own).
fn store_diff(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Option<String> {
    let outside_journal = |k: &&String| !k.starts_with("journal/");
    let added: Vec<&String> = after
        .keys()
        .filter(outside_journal)
        .filter(|k| !before.contains_key(*k))
        .collect();
    let removed: Vec<&String> = before
        .keys()
        .filter(outside_journal)
        .filter(|k| !after.contains_key(*k))
        .collect();
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, size)| {
            !k.starts_with("journal/") && before.get(*k).is_some_and(|b| b != *size)
        })
        .map(|(k, _)| k)
        .collect();
    if added.is_empty() && removed.is_empty() && changed.is_empty() {
        None
    } else {
        Some(format!(
            "added {added:?}, removed {removed:?}, resized {changed:?}"
        ))
    }
}

/// Seeds one voice, one VC input and one output (two formats, with sidecars) in `keep/`.
async fn seed_store(app: &TestApp) -> Seeds {
    app.post_form(
        "/api/v1/voice",
        &Form::new()
            .file("voice_file", "narrator.wav", wav())
            .text("folder_path", "keep")
            .text("overwrite", "true"),
    )
    .await
    .assert_ok();
    app.post_form(
        "/api/v1/vc_input",
        &Form::new()
            .file("vc_input_file", "line.wav", wav())
            .text("folder_path", "keep")
            .text("text", "Keep me.")
            .text("overwrite", "true"),
    )
    .await
    .assert_ok();
    let tts = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &json!({"text": "Keep me.", "project": "keep", "export_formats": ["wav", "flac"]}),
        )
        .await
        .ok_json();
    let outputs = tts["output_files"]
        .as_array()
        .expect("output_files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_owned())
        .collect();
    Seeds {
        voice: "keep/narrator.wav".into(),
        vc_input: "keep/line.wav".into(),
        outputs,
    }
}

/// The suite's state over one backend.
struct Fuzzer {
    label: &'static str,
    backend: Backend,
    app: Arc<TestApp>,
    rng: Rng,
    seeds: Seeds,
    snapshot: BTreeMap<String, u64>,
    per_route: BTreeMap<String, usize>,
    statuses: BTreeMap<u16, usize>,
    violations: Vec<Violation>,
    reseeds: usize,
    sent: usize,
    /// `FUZZ_API_TRACE=1` prints every request and answer.
    trace: bool,
    /// Requests left out because the backend cannot answer them faithfully.
    skipped: usize,
}

impl Fuzzer {
    async fn new(label: &'static str, backend: Backend, seed: u64) -> Self {
        // Small upload limits, so bodies over them cost little to build and send.
        let app = TestApp::with_config(&backend, |c| {
            c.limits.max_voice_upload_mb = 1;
            c.limits.max_vc_input_upload_mb = 1;
            c.limits.max_concat_upload_mb = 2;
        });
        let seeds = seed_store(&app).await;
        let snapshot = snapshot(backend.store.as_ref()).await;
        for key in seeds.keys() {
            assert!(
                snapshot.contains_key(&key),
                "seeding wrote {key}: {snapshot:?}"
            );
        }
        Self {
            label,
            backend,
            app: Arc::new(app),
            rng: Rng::new(seed),
            seeds,
            snapshot,
            per_route: BTreeMap::new(),
            statuses: BTreeMap::new(),
            violations: Vec::new(),
            reseeds: 0,
            sent: 0,
            trace: std::env::var_os("FUZZ_API_TRACE").is_some(),
            skipped: 0,
        }
    }

    /// Runs the systematic corpus, then `plan` (generator, count) in a shuffled, seeded order.
    async fn run(&mut self, plan: &[(Generator, usize)], full: bool) {
        let systematic = corpus(&mut self.rng, &self.seeds, full);
        for case in systematic {
            self.send(case).await;
        }
        let mut schedule: Vec<Generator> = plan
            .iter()
            .flat_map(|(generator, count)| std::iter::repeat_n(*generator, *count))
            .collect();
        self.rng.shuffle(&mut schedule);
        for generator in schedule {
            let case = generator(&mut self.rng, &self.seeds);
            self.send(case).await;
        }
    }

    fn violation(&mut self, case: &Case, status: String, problem: String) {
        self.violations.push(Violation {
            route: case.route,
            method: case.method.clone(),
            headers: case
                .headers
                .iter()
                .map(|(name, value)| format!("{name}: {}", summarize(value, 60)))
                .collect::<Vec<_>>()
                .join(", "),
            uri: case.uri.clone(),
            note: case.note.clone(),
            status,
            problem,
        });
    }

    async fn send(&mut self, mut case: Case) {
        if self.label == "s3" && names_a_folder(&case, &self.snapshot) {
            self.skipped += 1;
            return;
        }
        self.sent += 1;
        *self
            .per_route
            .entry(format!("{:<8} {}", case.method.as_str(), case.route))
            .or_default() += 1;
        let mut builder = Request::builder()
            .method(case.method.clone())
            .uri(case.uri.as_str());
        // Request ids: none, a plain one (echoed), or ones the server must replace.
        builder = match self.sent % 4 {
            0 => builder,
            1 => builder.header("x-request-id", format!("fuzz-{}", self.sent)),
            2 => builder.header("x-request-id", format!("not acceptable {}", self.sent)),
            _ => builder.header("x-request-id", "r".repeat(300)),
        };
        // Now and then a stranger's web page or a hostile header, except where the case
        // expects one exact status (an origin refusal would answer 403 first).
        if !matches!(case.expect, Expect::OneOf(_)) && self.rng.chance(6) {
            let (name, value): (&'static str, &[u8]) = *self.rng.pick(&[
                ("origin", &b"null"[..]),
                ("origin", b"http://evil.example"),
                ("origin", b"file://"),
                ("origin", b"http://\xff"),
                ("origin", b"\xff\xfe"),
                ("x-request-id", b"\xff\xfe"),
                ("authorization", b"Bearer \xff"),
                ("content-length", b"99999999999"),
                ("accept", b"application/x-nonsense"),
                ("accept-encoding", b"gzip;q=NaN"),
            ]);
            if !case.headers.iter().any(|(n, _)| *n == name) {
                case.headers.push((name, value.to_vec()));
            }
        }
        for (name, value) in &case.headers {
            builder = builder.header(
                *name,
                HeaderValue::from_bytes(value).expect("test bug: header value"),
            );
        }
        let request = builder
            .body(Body::from(Bytes::from(case.body.clone())))
            .unwrap_or_else(|e| panic!("test bug: cannot build {} {}: {e}", case.method, case.uri));

        // Each request on its own task: a panic in the handler is a JoinError, reported.
        let app = self.app.clone();
        let mut task = tokio::spawn(async move {
            let response = app.request_streaming(request).await;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .map_err(|e| e.to_string());
            (parts.status, parts.headers, body)
        });
        let outcome = tokio::time::timeout(REQUEST_DEADLINE, &mut task).await;
        let (status, headers, body) = match outcome {
            Err(_) => {
                task.abort();
                self.violation(
                    &case,
                    "-".into(),
                    format!("no answer within {REQUEST_DEADLINE:?}"),
                );
                return self.check_store(&case, None).await;
            }
            Ok(Err(join)) => {
                let message = if join.is_panic() {
                    let payload = join.into_panic();
                    payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "(non-string payload)".into())
                } else {
                    join.to_string()
                };
                self.violation(&case, "-".into(), format!("panic: {message}"));
                return self.check_store(&case, None).await;
            }
            Ok(Ok(answer)) => answer,
        };
        *self.statuses.entry(status.as_u16()).or_default() += 1;
        if self.trace {
            let uri: String = case.uri.chars().take(200).collect();
            eprintln!(
                "{} {uri} | {} -> {} {}",
                case.method,
                case.note,
                status.as_u16(),
                summarize(&body.clone().unwrap_or_default(), 200)
            );
        }
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                self.violation(
                    &case,
                    status.as_u16().to_string(),
                    format!("the body failed mid-stream: {e}"),
                );
                Bytes::new()
            }
        };
        for problem in answer_problems(&case, status, &headers, &body) {
            let status = status.as_u16().to_string();
            self.violation(&case, status, problem);
        }
        self.check_store(&case, Some(status)).await;
    }

    /// After every answer: no write plan is left; a refused request changed nothing; the
    /// seeds are back if a successful request moved or replaced them.
    async fn check_store(&mut self, case: &Case, status: Option<StatusCode>) {
        let after = snapshot(self.backend.store.as_ref()).await;
        let status_text = status.map_or("-".into(), |s| s.as_u16().to_string());
        let journal: Vec<&String> = after.keys().filter(|k| k.starts_with("journal/")).collect();
        if !journal.is_empty() {
            let problem = format!("write plans left behind: {journal:?}");
            self.violation(case, status_text.clone(), problem);
        }
        let refused = status.is_none_or(|s| s.is_client_error() || s.is_server_error());
        if refused && let Some(diff) = store_diff(&self.snapshot, &after) {
            self.violation(
                case,
                status_text,
                format!("a refused request changed the store: {diff}"),
            );
        }
        let gone: Vec<String> = self
            .seeds
            .keys()
            .into_iter()
            .filter(|k| !after.contains_key(k))
            .collect();
        if !gone.is_empty() && matches!(case.expect, Expect::Refused | Expect::SparesSeeds) {
            let problem = format!("a delete that names no seeded object removed {gone:?}");
            self.violation(
                case,
                status.map_or("-".into(), |s| s.as_u16().to_string()),
                problem,
            );
        }
        self.snapshot = after;
        if !gone.is_empty() {
            self.reseeds += 1;
            self.seeds = seed_store(&self.app).await;
            self.snapshot = snapshot(self.backend.store.as_ref()).await;
        }
    }

    /// Prints the counts and fails with every violation, readable, when there is one.
    fn report(&self, started: Instant, seed: u64, minimum: usize) {
        eprintln!(
            "\n== fuzz_api [{}] seed {seed:#x}: {} requests in {:.1} s ({} re-seeds, {} skipped) ==",
            self.label,
            self.sent,
            started.elapsed().as_secs_f64(),
            self.reseeds,
            self.skipped
        );
        eprintln!("-- requests per route --");
        for (route, count) in &self.per_route {
            eprintln!("{count:>5}  {route}");
        }
        eprintln!("-- statuses --");
        for (status, count) in &self.statuses {
            eprintln!("{count:>5}  {status}");
        }
        // The same fault seen many times reads as one line: route, status and the problem's
        // first words (its tail holds request ids and timestamps).
        let mut distinct: BTreeMap<String, usize> = BTreeMap::new();
        for v in &self.violations {
            let problem: String = v.problem.chars().take(100).collect();
            *distinct
                .entry(format!(
                    "{} {} -> {}: {problem}",
                    v.method, v.route, v.status
                ))
                .or_default() += 1;
        }
        let summary: Vec<String> = distinct
            .iter()
            .map(|(line, n)| format!("{n:>4}× {line}"))
            .collect();
        if !self.violations.is_empty() {
            eprintln!(
                "-- {} violations ({} distinct) --",
                self.violations.len(),
                distinct.len()
            );
            for violation in &self.violations {
                eprintln!("{violation}");
            }
            eprintln!("-- distinct --\n{}", summary.join("\n"));
        }
        assert!(
            self.sent >= minimum,
            "[{}] only {} requests were sent; the suite promises at least {minimum}",
            self.label,
            self.sent
        );
        if !self.violations.is_empty() {
            let shown: Vec<String> = self
                .violations
                .iter()
                .take(60)
                .map(ToString::to_string)
                .collect();
            panic!(
                "[{}] {} violations in {} requests (seed {seed:#x}; FUZZ_API_SEED replays).\n\
                 Distinct:\n{}\n\nRequests (method uri | headers | body | -> status | problem):\n{}{}",
                self.label,
                self.violations.len(),
                self.sent,
                summary.join("\n"),
                shown.join("\n"),
                if self.violations.len() > shown.len() {
                    format!(
                        "\n… and {} more (all printed above)",
                        self.violations.len() - shown.len()
                    )
                } else {
                    String::new()
                }
            );
        }
    }
}

/// Every route family, weighted for the memory store (fast): over 500 requests.
const MEMORY_PLAN: &[(Generator, usize)] = &[
    (gen_list, 70),
    (gen_folders, 15),
    (gen_metadata, 50),
    (gen_delete_one, 45),
    (gen_delete_many, 45),
    (gen_voice_upload, 45),
    (gen_vc_input_upload, 30),
    (gen_download, 60),
    (gen_tts, 90),
    (gen_vc, 45),
    (gen_concat, 60),
    (gen_concat_mixed, 50),
    (gen_admin, 30),
    (gen_docs, 15),
    (gen_openai_speech, 90),
    (gen_openai_models, 25),
    (gen_openai_voices, 35),
    (gen_wrong_method, 40),
    (gen_unknown_route, 20),
];

/// The storage-touching routes, for the filesystem store and the S3 server.
const PERSISTENT_PLAN: &[(Generator, usize)] = &[
    (gen_list, 8),
    (gen_metadata, 10),
    (gen_delete_one, 10),
    (gen_delete_many, 10),
    (gen_voice_upload, 10),
    (gen_vc_input_upload, 6),
    (gen_download, 12),
    (gen_concat, 8),
    (gen_concat_mixed, 6),
    (gen_admin, 4),
    (gen_openai_voices, 4),
];

async fn fuzz(
    label: &'static str,
    backend: Backend,
    plan: &[(Generator, usize)],
    full: bool,
    minimum: usize,
) {
    let started = Instant::now();
    let seed = suite_seed();
    let mut fuzzer = Fuzzer::new(label, backend, seed).await;
    fuzzer.run(plan, full).await;
    fuzzer.report(started, seed, minimum);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_survives_malformed_requests_on_memory() {
    fuzz("memory", Backend::memory(), MEMORY_PLAN, true, 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_routes_survive_malformed_requests_on_fs() {
    fuzz("fs", Backend::fs().await, PERSISTENT_PLAN, false, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_routes_survive_malformed_requests_on_s3() {
    fuzz("s3", Backend::s3().await, PERSISTENT_PLAN, false, 60).await;
}

/// The checks themselves: each kind of violation the suite promises to catch is caught,
/// and the legitimate answers are not reported (so a passing run means something).
#[test]
fn the_checks_catch_what_they_promise() {
    let case = |method: Method, uri: &str| Case::new("test", method, uri.to_owned());
    let headers = |id: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_str(id).unwrap());
        headers
    };
    let native = |code: &str, id: &str| {
        json!({"success": false, "error": "x", "error_code": code, "detail": null,
               "timestamp": "2026-01-01T00:00:00.000Z", "request_id": id})
        .to_string()
    };
    let openai = |code: &str| {
        json!({"error": {"message": "x", "type": "server_error", "param": null, "code": code}})
            .to_string()
    };
    let check = |case: &Case, status: u16, id: &str, body: &str| {
        answer_problems(
            case,
            StatusCode::from_u16(status).unwrap(),
            &headers(id),
            body.as_bytes(),
        )
    };
    let get = case(Method::GET, "/api/v1/voices");
    let speech = case(Method::POST, "/v1/audio/speech");

    // Legitimate answers.
    assert!(check(&get, 422, "a", &native("VALIDATION_ERROR", "a")).is_empty());
    assert!(check(&get, 503, "a", &native("MODEL_NOT_INSTALLED", "a")).is_empty());
    assert!(check(&speech, 503, "a", &openai("model_not_installed")).is_empty());
    assert!(check(&speech, 400, "a", &openai("invalid_value")).is_empty());
    assert!(check(&case(Method::HEAD, "/api/v1/voices"), 404, "a", "").is_empty());

    // Violations.
    assert!(
        !check(&get, 500, "a", &native("INTERNAL_ERROR", "a")).is_empty(),
        "500"
    );
    assert!(
        !check(&get, 503, "a", &native("INTERNAL_ERROR", "a")).is_empty(),
        "503 fault"
    );
    assert!(
        !check(&speech, 503, "a", &openai("generation_failed")).is_empty(),
        "503 fault"
    );
    assert!(
        !check(&get, 404, "a", &native("X", "b")).is_empty(),
        "request id differs"
    );
    assert!(!check(&get, 400, "a", "plain text").is_empty(), "not JSON");
    assert!(
        !check(&speech, 403, "a", &native("FORBIDDEN_ORIGIN", "a")).is_empty(),
        "wrong dialect"
    );
    assert!(
        !check(&get, 404, "a", &openai("not_found")).is_empty(),
        "wrong dialect"
    );
    assert!(
        !check(&case(Method::HEAD, "/api/v1/voices"), 200, "a", "body").is_empty(),
        "HEAD body"
    );
    let refused = case(Method::DELETE, "/api/v1/voices").expect(Expect::Refused);
    assert!(
        !check(&refused, 200, "a", "{}").is_empty(),
        "destructive success"
    );
    let exact = case(Method::DELETE, "/api/v1/voices").expect(Expect::OneOf(&[422]));
    assert!(
        !check(&exact, 400, "a", &native("BAD_REQUEST", "a")).is_empty(),
        "status"
    );

    // Store differences outside journal/ are found; journal/ is checked on its own.
    let before: BTreeMap<String, u64> = [("voices/a.wav".to_owned(), 10)].into();
    let mut after = before.clone();
    after.insert("journal/x.json".into(), 5);
    assert_eq!(store_diff(&before, &after), None);
    after.insert("voices/b.wav".into(), 1);
    assert!(store_diff(&before, &after).is_some_and(|d| d.contains("voices/b.wav")));
    let resized: BTreeMap<String, u64> = [("voices/a.wav".to_owned(), 11)].into();
    assert!(store_diff(&before, &resized).is_some_and(|d| d.contains("resized")));
    assert!(store_diff(&before, &BTreeMap::new()).is_some_and(|d| d.contains("removed")));
}
