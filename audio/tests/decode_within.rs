//! `decode_within`: decoded samples are reserved on a memory lease before they are
//! allocated, on every decoding path (WAV fast path, symphonia, Ogg Opus), so a file
//! that expands beyond the budget is refused while it decodes and gives its memory back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use audio::encode::{ExportFormat, encode};
use audio::memory::MemoryBudget;
use audio::{AudioError, DecodeLimits, Pcm, decode, decode_within};
use bytes::Bytes;

mod support;
use support::signal;

const RATE: u32 = 24_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files for every decoding path: ours (WAV fast path, FLAC, MP3 through symphonia, Ogg
/// Opus through our own reader) and the fixtures from other encoders.
fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mono = signal(RATE, 2.0);
    let stereo = Pcm::new(RATE, 2, mono.iter().flat_map(|&s| [s, s * 0.5]).collect());
    let mut files: Vec<(&'static str, Vec<u8>)> = ["wav", "wav32", "flac", "mp3", "opus"]
        .into_iter()
        .map(|name| {
            let format: ExportFormat = name.parse().unwrap();
            (format.extension(), encode(&stereo, format).unwrap().bytes)
        })
        .collect();
    for name in [
        "tone.ogg",
        "tone.m4a",
        "tone.aac",
        "tone_ffmpeg.mp3",
        "tone_ffmpeg.opus",
    ] {
        let ext = name.rsplit('.').next().unwrap();
        files.push((ext, fixture(name)));
    }
    files
}

fn bits(pcm: &Pcm) -> Vec<u32> {
    pcm.samples.iter().map(|s| s.to_bits()).collect()
}

#[test]
fn the_lease_holds_the_samples_capacity_and_the_samples_are_decodes() {
    let limits = DecodeLimits::default();
    for (ext, bytes) in files() {
        let budget = MemoryBudget::new(u64::MAX);
        let lease = budget.lease();
        let (info, pcm) =
            decode_within(Bytes::from(bytes.clone()), Some(ext), &limits, &lease).unwrap();
        let (expected_info, expected) = decode(Bytes::from(bytes), Some(ext), &limits).unwrap();
        assert_eq!(info, expected_info, "{ext}");
        assert_eq!(
            (pcm.sample_rate, pcm.channels),
            (expected.sample_rate, expected.channels),
            "{ext}"
        );
        assert!(bits(&pcm) == bits(&expected), "{ext}: samples differ");
        let capacity = pcm.samples.capacity() as u64 * 4;
        assert_eq!(lease.held_bytes(), capacity, "{ext}");
        assert_eq!(budget.used_bytes(), capacity, "{ext}");
        // Growth is geometric, so the buffer never holds much more than the samples.
        assert!(
            pcm.samples.capacity() <= pcm.samples.len() * 3 / 2 + 16_384,
            "{ext}: capacity {} for {} samples",
            pcm.samples.capacity(),
            pcm.samples.len()
        );
        lease.release(capacity);
        assert_eq!(budget.used_bytes(), 0, "{ext}");
    }
}

#[test]
fn a_budget_smaller_than_the_decoded_audio_refuses_it_and_keeps_nothing() {
    let limits = DecodeLimits::default();
    for (ext, bytes) in files() {
        let (_, pcm) = decode(Bytes::from(bytes.clone()), Some(ext), &limits).unwrap();
        let decoded = pcm.samples.len() as u64 * 4;

        // The whole budget is too small: this file can never be decoded here.
        let budget = MemoryBudget::new(decoded / 2);
        let lease = budget.lease();
        let result = decode_within(Bytes::from(bytes.clone()), Some(ext), &limits, &lease);
        assert!(
            matches!(result, Err(AudioError::MemoryTooLarge { .. })),
            "{ext}: {:?}",
            result.map(|(info, _)| info)
        );
        assert_eq!(lease.held_bytes(), 0, "{ext}: what was decoded is released");
        assert!(budget.peak_bytes() <= decoded / 2, "{ext}");
        drop(lease);
        assert_eq!(budget.used_bytes(), 0, "{ext}");

        // The budget is big enough but busy: retry later.
        let budget = MemoryBudget::new(decoded * 2);
        let other = budget.lease();
        other.reserve(decoded * 3 / 2).unwrap();
        let lease = budget.lease();
        let result = decode_within(Bytes::from(bytes.clone()), Some(ext), &limits, &lease);
        assert!(
            matches!(result, Err(AudioError::MemoryBusy { .. })),
            "{ext}: {:?}",
            result.map(|(info, _)| info)
        );
        assert_eq!(lease.held_bytes(), 0, "{ext}");
        drop(other);
        // Once the other request is done, the same file fits.
        let (_, pcm) = decode_within(Bytes::from(bytes), Some(ext), &limits, &lease).unwrap();
        assert_eq!(
            lease.held_bytes(),
            pcm.samples.capacity() as u64 * 4,
            "{ext}"
        );
        drop(lease);
        assert_eq!(budget.used_bytes(), 0, "{ext}");
    }
}

#[test]
fn compressed_silence_is_refused_before_it_fills_memory() {
    // A minute of silence compresses to almost nothing in FLAC but decodes to 3.8 MB:
    // the decode bomb in miniature. The budget stops it at its limit, never past.
    let silence = Pcm::silence(16_000, 1, 16_000 * 60);
    let bytes = encode(&silence, ExportFormat::Flac).unwrap().bytes;
    assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    let limit = 1 << 20;
    let budget = MemoryBudget::new(limit);
    let lease = budget.lease();
    let result = decode_within(
        Bytes::from(bytes),
        Some("flac"),
        &DecodeLimits::default(),
        &lease,
    );
    assert!(
        matches!(result, Err(AudioError::MemoryTooLarge { .. })),
        "{:?}",
        result.map(|(info, _)| info)
    );
    assert!(budget.peak_bytes() <= limit);
    assert_eq!(budget.used_bytes(), 0);
}

#[test]
fn a_wav_claiming_more_data_than_it_has_reserves_only_what_is_there() {
    let pcm = Pcm::mono(RATE, signal(RATE, 0.5));
    let mut bytes = encode(&pcm, ExportFormat::Wav).unwrap().bytes;
    // The data chunk claims 100 MB (35 minutes: within the caps, far beyond the file).
    bytes[40..44].copy_from_slice(&100_000_000u32.to_le_bytes());
    let budget = MemoryBudget::new(1 << 20);
    let lease = budget.lease();
    let (_, decoded) = decode_within(
        Bytes::from(bytes),
        Some("wav"),
        &DecodeLimits::default(),
        &lease,
    )
    .unwrap();
    assert_eq!(decoded.samples.len(), pcm.samples.len());
    assert_eq!(lease.held_bytes(), pcm.samples.len() as u64 * 4);
}
