//! Hostile-input tests for every container we decode: truncated, corrupted, garbage,
//! empty, and lying headers must give typed errors (or the intact prefix), never a panic.

use std::time::Instant;

use bytes::Bytes;

use crate::encode::{ExportFormat, encode};
use crate::test_signals::speech_like;
use crate::{AudioError, DecodeLimits, Pcm, decode, inspect};

const RATE: u32 = 24_000;

fn xorshift_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn valid_files() -> Vec<(&'static str, Vec<u8>)> {
    let pcm = Pcm::mono(RATE, speech_like(RATE, RATE as usize * 2));
    ["wav", "wav32", "mp3", "flac", "opus"]
        .into_iter()
        .map(|name| {
            let format: ExportFormat = name.parse().unwrap();
            (format.extension(), encode(&pcm, format).unwrap().bytes)
        })
        .collect()
}

/// Decodes and insists the outcome is a value or an ordinary typed error.
fn decode_safely(data: Vec<u8>, ext: &str, what: &str) -> Result<Pcm, AudioError> {
    let result = decode(Bytes::from(data), Some(ext), &DecodeLimits::default()).map(|(_, pcm)| pcm);
    if let Err(AudioError::DecoderPanic) = result {
        panic!("{what}: a decoder panicked");
    }
    result
}

/// Files from other encoders (see `tests/fixtures/README.md`): extension, bytes, and the
/// frame count allowed (AAC has no gapless info, so it decodes with encoder padding).
fn third_party_files() -> Vec<(&'static str, &'static [u8], std::ops::RangeInclusive<usize>)> {
    vec![
        (
            "ogg",
            include_bytes!("../tests/fixtures/tone.ogg"),
            16_000..=16_000,
        ),
        (
            "m4a",
            include_bytes!("../tests/fixtures/tone.m4a"),
            16_000..=18_048,
        ),
        (
            "aac",
            include_bytes!("../tests/fixtures/tone.aac"),
            16_000..=18_048,
        ),
        (
            "opus",
            include_bytes!("../tests/fixtures/tone_ffmpeg.opus"),
            16_000..=16_000,
        ),
        (
            "mp3",
            include_bytes!("../tests/fixtures/tone_ffmpeg.mp3"),
            16_000..=16_000,
        ),
    ]
}

#[test]
fn third_party_files_decode_with_the_right_length() {
    for (ext, bytes, frames) in third_party_files() {
        let (info, pcm) = decode(
            Bytes::from_static(bytes),
            Some(ext),
            &DecodeLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!((info.sample_rate, info.channels), (16_000, 1), "{ext}");
        assert!(
            frames.contains(&pcm.frames()),
            "{ext}: {} frames",
            pcm.frames()
        );
        let level = crate::test_signals::rms(&pcm.samples);
        assert!(level > 0.05, "{ext}: decoded to near silence ({level})");
    }
}

#[test]
fn third_party_files_survive_truncation_and_corruption() {
    for (ext, bytes, _) in third_party_files() {
        for cut in [
            1,
            4,
            8,
            12,
            27,
            40,
            64,
            200,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            let _ = decode_safely(bytes[..cut].to_vec(), ext, &format!("{ext} cut at {cut}"));
        }
        for seed in 0..16u64 {
            let mut damaged = bytes.to_vec();
            let at = 8 + (seed as usize * 613) % (damaged.len() - 40);
            damaged[at..at + 32].copy_from_slice(&xorshift_bytes(seed, 32));
            let _ = decode_safely(damaged, ext, &format!("{ext} burst at {at}"));
        }
    }
}

#[test]
fn empty_input_is_refused_for_every_entry_point() {
    assert!(matches!(
        decode(Bytes::new(), Some("wav"), &DecodeLimits::default()),
        Err(AudioError::Empty)
    ));
    assert!(matches!(
        inspect(Bytes::new(), None, &DecodeLimits::default()),
        Err(AudioError::Empty)
    ));
}

#[test]
fn truncated_files_give_an_error_or_a_shorter_prefix() {
    for (ext, bytes) in valid_files() {
        let full = decode_safely(bytes.clone(), ext, ext).unwrap().frames();
        let cuts = [
            1,
            3,
            4,
            8,
            12,
            20,
            27,
            28,
            36,
            44,
            47,
            60,
            100,
            300,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 1,
        ];
        for cut in cuts {
            let what = format!("{ext} cut at {cut} of {}", bytes.len());
            match decode_safely(bytes[..cut].to_vec(), ext, &what) {
                Ok(pcm) => assert!(pcm.frames() <= full, "{what}: grew to {}", pcm.frames()),
                Err(e) => assert!(!matches!(e, AudioError::DecoderPanic), "{what}: {e}"),
            }
        }
        // The very short prefixes cannot hold any audio.
        for cut in [1, 4, 12] {
            assert!(
                decode_safely(bytes[..cut].to_vec(), ext, ext).is_err(),
                "{ext} cut at {cut} decoded"
            );
        }
    }
}

#[test]
fn corrupted_files_never_panic() {
    for (ext, bytes) in valid_files() {
        for seed in 0..24u64 {
            let mut damaged = bytes.clone();
            let noise = xorshift_bytes(seed, 64);
            // Overwrite a burst somewhere after the first header bytes.
            let at = 8 + (seed as usize * 7919) % (damaged.len() - 80);
            damaged[at..at + 64].copy_from_slice(&noise);
            let _ = decode_safely(damaged, ext, &format!("{ext} burst at {at}"));
        }
    }
}

#[test]
fn random_bytes_are_unrecognised_or_corrupt() {
    let prefixes: [&[u8]; 7] = [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS\x00\x02", b"ID3\x04\x00", b"\xff\xfb\x90\x64", b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead"];
    for (p, prefix) in prefixes.iter().enumerate() {
        for (seed, len) in [(1u64, 1usize), (2, 17), (3, 512), (4, 65_536)] {
            let mut data = prefix.to_vec();
            data.extend(xorshift_bytes(seed + p as u64 * 100, len));
            let result = decode_safely(data, "wav", &format!("prefix {p}, {len} random bytes"));
            assert!(
                result.is_err(),
                "prefix {p} + {len} random bytes decoded as audio"
            );
        }
    }
}

#[test]
fn a_wav_header_claiming_a_billion_frames_is_refused_before_decoding() {
    let frames: u32 = 1_000_000_000;
    let data_bytes = frames * 2;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_bytes.to_le_bytes());
    wav.extend(std::iter::repeat_n(0u8, 4_800));
    let started = Instant::now();
    let result = decode(
        Bytes::from(wav.clone()),
        Some("wav"),
        &DecodeLimits::default(),
    );
    assert!(
        matches!(result, Err(AudioError::TooLong { .. })),
        "{result:?}"
    );
    assert!(matches!(
        inspect(Bytes::from(wav), Some("wav"), &DecodeLimits::default()),
        Err(AudioError::TooLong { .. })
    ));
    assert!(
        started.elapsed().as_secs() < 5,
        "the claim must be refused up front"
    );
}

#[test]
fn limits_apply_to_the_opus_path_too() {
    let pcm = Pcm::mono(RATE, speech_like(RATE, RATE as usize * 3));
    let bytes = encode(&pcm, ExportFormat::Opus { bitrate_kbps: 32 })
        .unwrap()
        .bytes;
    let short = DecodeLimits {
        max_duration_seconds: 1.0,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode(Bytes::from(bytes.clone()), Some("opus"), &short),
        Err(AudioError::TooLong { .. })
    ));
    let few_samples = DecodeLimits {
        max_decoded_samples: 10_000,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode(Bytes::from(bytes.clone()), Some("opus"), &few_samples),
        Err(AudioError::TooLong { .. })
    ));
    // inspect keeps no samples, so only the duration cap applies.
    let info = inspect(Bytes::from(bytes), Some("opus"), &few_samples).unwrap();
    assert_eq!(info.frames, pcm.frames() as u64);
    assert_eq!(info.format, crate::ContainerFormat::Opus);
}

#[test]
fn opus_headers_we_do_not_support_are_typed_errors() {
    let pcm = Pcm::mono(RATE, speech_like(RATE, RATE as usize));
    let bytes = encode(&pcm, ExportFormat::Opus { bitrate_kbps: 32 })
        .unwrap()
        .bytes;
    let head = 28; // 27-byte page header + 1 lacing value, then OpusHead.
    assert_eq!(&bytes[head..head + 8], b"OpusHead");
    let first_page = head + 19;
    let patch = |offset: usize, value: u8, fix_crc: bool| {
        let mut b = bytes.clone();
        b[head + offset] = value;
        if fix_crc {
            b[22..26].fill(0);
            let crc = ogg_crc(&b[..first_page]);
            b[22..26].copy_from_slice(&crc.to_le_bytes());
        }
        b
    };
    // With a valid CRC the header checks themselves must answer, with the right type.
    for (offset, value, unsupported) in [
        (9, 0u8, false),
        (9, 3, false),
        (9, 200, false),
        (18, 1, true),
        (18, 255, true),
        (8, 0x10, true),
    ] {
        let result = decode_safely(patch(offset, value, true), "opus", "patched OpusHead");
        match result {
            Err(AudioError::Unsupported(_)) if unsupported => {}
            Err(AudioError::Corrupt(_)) if !unsupported => {}
            other => panic!("OpusHead byte {offset} = {value}: {other:?}"),
        }
    }
    // Sanity: re-stamping the CRC of an unmodified page keeps it decodable.
    assert!(decode_safely(patch(9, 1, true), "opus", "re-stamped").is_ok());
    // Without fixing the CRC the ogg layer refuses the page.
    assert!(matches!(
        decode_safely(patch(9, 2, false), "opus", "bad crc"),
        Err(AudioError::Corrupt(_))
    ));
}

/// Ogg's page CRC: polynomial 0x04c11db7, MSB first, initial value 0, no final xor.
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A mono 32-bit float WAV written by hound (an independent writer): a quiet tone with
/// `values` spliced in at the start of its second half.
fn float_wav(values: &[f32]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut samples = crate::test_signals::sine(220.0, RATE, 4_800, 0.25);
    samples.splice(2_400..2_400 + values.len(), values.iter().copied());
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for s in samples {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

/// A mono 64-bit float WAV (symphonia's F64 buffers; the fast path declines it), by hand.
fn double_wav(values: &[f64]) -> Vec<u8> {
    let mut samples: Vec<f64> = crate::test_signals::sine(220.0, RATE, 4_800, 0.25)
        .into_iter()
        .map(f64::from)
        .collect();
    samples.splice(2_400..2_400 + values.len(), values.iter().copied());
    let data_len = (samples.len() * 8) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(4 + 26 + 12 + 8 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&18u32.to_le_bytes());
    b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&RATE.to_le_bytes());
    b.extend_from_slice(&(RATE * 8).to_le_bytes());
    b.extend_from_slice(&8u16.to_le_bytes());
    b.extend_from_slice(&64u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(b"fact");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

/// Every way `bytes` can be decoded: the public `decode` and `inspect`, and the WAV fast
/// path and the symphonia path on their own, each keeping and not keeping samples.
fn decode_every_way(bytes: &[u8]) -> Vec<(&'static str, Result<(), AudioError>)> {
    let limits = DecodeLimits::default();
    let lease = crate::memory::Lease::unlimited();
    let data = || Bytes::copy_from_slice(bytes);
    let mut outcomes = vec![
        ("decode", decode(data(), Some("wav"), &limits).map(drop)),
        ("inspect", inspect(data(), Some("wav"), &limits).map(drop)),
        (
            "symphonia decode",
            crate::decode::run(data(), Some("wav"), &limits, Some(&lease)).map(drop),
        ),
        (
            "symphonia inspect",
            crate::decode::run(data(), Some("wav"), &limits, None).map(drop),
        ),
    ];
    for (name, keep) in [("fast decode", Some(&lease)), ("fast inspect", None)] {
        if let Some(result) = crate::wav_fast::try_decode(bytes, &limits, keep) {
            outcomes.push((name, result.map(drop)));
        }
    }
    outcomes
}

#[test]
fn float_wavs_with_non_finite_or_absurd_samples_are_refused_by_decode_and_inspect() {
    let cases: [(&str, Vec<u8>, &str); 9] = [
        ("NaN", float_wav(&[f32::NAN]), "non-finite"),
        ("+Inf", float_wav(&[f32::INFINITY]), "non-finite"),
        ("-Inf", float_wav(&[0.5, f32::NEG_INFINITY]), "non-finite"),
        ("3e38", float_wav(&[3e38]), "|x| > 1024"),
        ("-f32::MAX", float_wav(&[f32::MIN]), "|x| > 1024"),
        ("1025", float_wav(&[1025.0]), "|x| > 1024"),
        ("f64 NaN", double_wav(&[f64::NAN]), "non-finite"),
        ("f64 1e300", double_wav(&[1e300]), "|x| > 1024"),
        ("f64 -2048", double_wav(&[-2048.0]), "|x| > 1024"),
    ];
    for (what, bytes, expected) in cases {
        let outcomes = decode_every_way(&bytes);
        // The f32 files must have exercised the fast path too, the f64 ones must not.
        assert_eq!(outcomes.len(), if what.starts_with("f64") { 4 } else { 6 });
        for (path, outcome) in outcomes {
            match outcome {
                Err(AudioError::InvalidSamples { reason }) => {
                    assert!(reason.contains(expected), "{what} via {path}: {reason}");
                }
                other => panic!("{what} via {path}: {other:?}"),
            }
        }
    }
}

#[test]
fn float_wavs_with_hot_but_plausible_samples_still_decode() {
    for bytes in [
        float_wav(&[4.0, -4.0, 3.99, -1024.0, 1024.0, 1e-40, -0.0]),
        double_wav(&[4.0, -4.0, 1024.0, -1024.0]),
    ] {
        for (path, outcome) in decode_every_way(&bytes) {
            assert!(outcome.is_ok(), "{path}: {outcome:?}");
        }
        let (_, pcm) = decode(Bytes::from(bytes), Some("wav"), &DecodeLimits::default()).unwrap();
        assert_eq!(pcm.peak(), 1024.0);
        assert!(pcm.samples.contains(&4.0) && pcm.samples.contains(&-4.0));
    }
}

#[test]
fn an_opus_header_gain_that_makes_samples_absurd_is_refused() {
    let pcm = Pcm::mono(RATE, speech_like(RATE, RATE as usize));
    let mut bytes = encode(&pcm, ExportFormat::Opus { bitrate_kbps: 32 })
        .unwrap()
        .bytes;
    // OpusHead's output gain (Q7.8 dB, at byte 16 of the packet) set to +127 dB, with the
    // first page's CRC re-stamped so the header checks themselves answer.
    let head = 28;
    let first_page = head + 19;
    bytes[head + 16..head + 18].copy_from_slice(&(127i16 * 256).to_le_bytes());
    bytes[22..26].fill(0);
    let crc = ogg_crc(&bytes[..first_page]);
    bytes[22..26].copy_from_slice(&crc.to_le_bytes());
    let limits = DecodeLimits::default();
    for (path, outcome) in [
        (
            "decode",
            decode(Bytes::from(bytes.clone()), None, &limits).map(drop),
        ),
        (
            "inspect",
            inspect(Bytes::from(bytes), None, &limits).map(drop),
        ),
    ] {
        match outcome {
            Err(AudioError::InvalidSamples { reason }) => {
                assert!(reason.contains("|x| > 1024"), "{path}: {reason}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[test]
fn float_wavs_we_write_from_hostile_samples_decode_again() {
    let hostile = vec![0.5, f32::NAN, 3e38, -2_000.0, f32::NEG_INFINITY, 4.0];
    let expected = vec![0.5, 0.0, 1024.0, -1024.0, 0.0, 4.0];
    let one_shot = encode(&Pcm::mono(RATE, hostile.clone()), ExportFormat::WavFloat)
        .unwrap()
        .bytes;
    let (mut streamed, mut stream_bytes) =
        crate::encode::StreamEncoder::new(ExportFormat::WavFloat, RATE).unwrap();
    stream_bytes.extend(streamed.push(&hostile).unwrap());
    for (what, bytes) in [("wav32", one_shot), ("streamed wav32", stream_bytes)] {
        let (_, pcm) = decode(Bytes::from(bytes), Some("wav"), &DecodeLimits::default())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(pcm.samples, expected, "{what}");
    }
}
