//! `FileEncoder`: a file encoded from blocks of any size is the one-shot encoder's file
//! (byte for byte for wav, wav32, pcm, flac, and mp3/opus at codec rates), decodes to the
//! same length when a codec resamples, and keeps its bytes on its memory lease.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use audio::encode::{ExportFormat, FileEncoder, StreamEncoder, encode};
use audio::memory::{Lease, MemoryBudget};
use audio::{AudioError, DecodeLimits, Pcm, decode};
use bytes::Bytes;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

mod support;
use support::signal;

/// `channels` channels of the test signal, each a little different (so a swap would show),
/// with a few hostile values the encoders must sanitise exactly as the one-shot does.
fn pcm(rate: u32, channels: u16, seconds: f64) -> Pcm {
    let mono = signal(rate, seconds);
    let mut samples: Vec<f32> = mono
        .iter()
        .enumerate()
        .flat_map(|(i, &s)| {
            (0..channels).map(move |c| {
                if c == 0 {
                    s
                } else {
                    s * (1.0 - 0.2 * f32::from(c)) + 0.01 * ((i % 7) as f32 - 3.0) / 3.0
                }
            })
        })
        .collect();
    for (at, value) in [
        (11, f32::NAN),
        (500, 3e30),
        (501, -2.5),
        (900, f32::INFINITY),
    ] {
        if let Some(s) = samples.get_mut(at) {
            *s = value;
        }
    }
    Pcm::new(rate, channels, samples)
}

/// Feeds `samples` to a new encoder in random chunks (empty ones and ones splitting a
/// frame included) and finishes it.
fn encode_in_chunks(
    format: ExportFormat,
    pcm: &Pcm,
    rng: &mut ChaCha8Rng,
    lease: Arc<Lease>,
) -> Result<audio::encode::EncodedAudio, AudioError> {
    let mut encoder = FileEncoder::new(format, pcm.sample_rate, pcm.channels, lease)?;
    let mut at = 0;
    while at < pcm.samples.len() {
        let size = match rng.random_range(0..6u32) {
            0 => 0,
            1 => rng.random_range(1..4usize),
            2 => rng.random_range(1..100usize),
            3 => rng.random_range(100..5_000usize),
            _ => rng.random_range(5_000..70_000usize),
        };
        let end = (at + size).min(pcm.samples.len());
        encoder.push(&pcm.samples[at..end])?;
        at = end;
    }
    encoder.finish()
}

fn decoded(format: ExportFormat, bytes: Vec<u8>) -> Pcm {
    decode(
        Bytes::from(bytes),
        Some(format.extension()),
        &DecodeLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{format} did not decode: {e}"))
    .1
}

#[test]
fn lossless_files_are_the_one_shot_files_byte_for_byte() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for format in ["wav", "wav32", "pcm", "flac"] {
        let format: ExportFormat = format.parse().unwrap();
        for channels in [1u16, 2, 6] {
            for (rate, seconds) in [
                (24_000, 1.3),
                (44_100, 0.4),
                (16_000, 0.0),
                (8_000, 0.01),
                // A whole number of FLAC blocks (4096 frames): no short last frame.
                (8_000, 1.024),
            ] {
                let pcm = pcm(rate, channels, seconds);
                let expected = encode(&pcm, format).unwrap();
                for _ in 0..3 {
                    let got =
                        encode_in_chunks(format, &pcm, &mut rng, Arc::new(Lease::unlimited()))
                            .unwrap();
                    let what = format!("{format} x{channels} at {rate} Hz, {seconds} s");
                    assert_eq!(
                        (got.sample_rate, got.channels, got.format),
                        (expected.sample_rate, expected.channels, expected.format),
                        "{what}"
                    );
                    assert!(got.bytes == expected.bytes, "{what}: bytes differ");
                }
            }
        }
    }
}

#[test]
fn mp3_and_opus_at_codec_rates_are_the_one_shot_files_byte_for_byte() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for format in ["mp3", "opus"] {
        let format: ExportFormat = format.parse().unwrap();
        for channels in [1u16, 2, 3] {
            for (rate, seconds) in [(24_000, 1.7), (48_000, 0.3), (16_000, 0.0)] {
                let pcm = pcm(rate, channels, seconds);
                let expected = encode(&pcm, format).unwrap();
                let got =
                    encode_in_chunks(format, &pcm, &mut rng, Arc::new(Lease::unlimited())).unwrap();
                let what = format!("{format} x{channels} at {rate} Hz, {seconds} s");
                assert_eq!(
                    (got.sample_rate, got.channels),
                    (expected.sample_rate, expected.channels),
                    "{what}"
                );
                assert!(got.bytes == expected.bytes, "{what}: bytes differ");
            }
        }
    }
}

#[test]
fn resampled_mp3_and_opus_decode_like_the_one_shot_files() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // 22.05 kHz is no Opus rate (coded at 24 kHz); 20 kHz is no MP3 rate (22.05 kHz).
    for (format, rate) in [("opus", 22_050), ("mp3", 20_000), ("opus", 44_100)] {
        let format: ExportFormat = format.parse().unwrap();
        for channels in [1u16, 2] {
            let pcm = pcm(rate, channels, 1.1);
            let expected = encode(&pcm, format).unwrap();
            let got =
                encode_in_chunks(format, &pcm, &mut rng, Arc::new(Lease::unlimited())).unwrap();
            let what = format!("{format} x{channels} from {rate} Hz");
            assert_eq!(
                (got.sample_rate, got.channels),
                (expected.sample_rate, expected.channels),
                "{what}"
            );
            let (a, b) = (decoded(format, got.bytes), decoded(format, expected.bytes));
            assert_eq!(
                (a.sample_rate, a.channels, a.frames()),
                (b.sample_rate, b.channels, b.frames()),
                "{what}"
            );
            assert!(a.peak() > 0.3, "{what}: peak {}", a.peak());
        }
    }
}

#[test]
fn the_bytes_are_held_on_the_lease_and_returned_when_dropped() {
    let budget = MemoryBudget::new(u64::MAX);
    let lease = Arc::new(budget.lease());
    let pcm = pcm(24_000, 2, 1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let encoded = encode_in_chunks(ExportFormat::Wav, &pcm, &mut rng, Arc::clone(&lease)).unwrap();
    assert_eq!(lease.held_bytes(), encoded.bytes.capacity() as u64);
    assert!(encoded.bytes.capacity() as f64 <= encoded.bytes.len() as f64 * 1.5 + 64.0);
    lease.release(encoded.bytes.capacity() as u64);
    assert_eq!(budget.used_bytes(), 0);

    // Unfinished encoders (a failed request) give everything back.
    for format in ["wav", "flac", "mp3", "opus"] {
        let mut encoder =
            FileEncoder::new(format.parse().unwrap(), 24_000, 2, Arc::clone(&lease)).unwrap();
        encoder.push(&pcm.samples).unwrap();
        assert!(lease.held_bytes() > 0, "{format}");
        drop(encoder);
        assert_eq!(lease.held_bytes(), 0, "{format}");
    }
}

#[test]
fn a_budget_too_small_for_the_file_fails_the_push() {
    // Longer than one Ogg page (255 packets, 5.1 s), which the Ogg writer fills first.
    let pcm = pcm(24_000, 1, 6.0);
    for format in ["wav", "wav32", "pcm", "flac", "mp3", "opus"] {
        let budget = MemoryBudget::new(4_000);
        let lease = Arc::new(budget.lease());
        let mut encoder =
            FileEncoder::new(format.parse().unwrap(), 24_000, 1, Arc::clone(&lease)).unwrap();
        let mut failed = None;
        for block in pcm.samples.chunks(2_400) {
            if let Err(e) = encoder.push(block) {
                failed = Some(e);
                break;
            }
        }
        assert!(
            matches!(
                failed,
                Some(AudioError::MemoryTooLarge { .. } | AudioError::MemoryBusy { .. })
            ),
            "{format}: {failed:?}"
        );
        drop(encoder);
        assert_eq!(budget.used_bytes(), 0, "{format}");
    }
}

#[test]
fn a_file_must_end_on_a_whole_frame() {
    let mut encoder =
        FileEncoder::new(ExportFormat::Wav, 24_000, 2, Arc::new(Lease::unlimited())).unwrap();
    encoder.push(&[0.1, 0.2, 0.3]).unwrap();
    assert!(matches!(encoder.finish(), Err(AudioError::InvalidPcm(_))));
    assert!(FileEncoder::new(ExportFormat::Wav, 24_000, 0, Arc::new(Lease::unlimited())).is_err());
    assert!(FileEncoder::new(ExportFormat::Wav, 0, 1, Arc::new(Lease::unlimited())).is_err());
    assert!(FileEncoder::new(ExportFormat::Flac, 24_000, 9, Arc::new(Lease::unlimited())).is_err());
}

#[test]
fn encoders_move_into_other_threads() {
    fn send<T: Send>(_: &T) {}
    let encoder =
        FileEncoder::new(ExportFormat::Flac, 24_000, 2, Arc::new(Lease::unlimited())).unwrap();
    send(&encoder);
    let handle = std::thread::spawn(move || {
        let mut encoder = encoder;
        encoder.push(&[0.0; 4_800]).unwrap();
        encoder.finish().unwrap()
    });
    assert!(handle.join().unwrap().bytes.starts_with(b"fLaC"));
}

#[test]
fn stereo_streams_decode_with_both_channels() {
    let pcm = pcm(24_000, 2, 1.0);
    for format in ["pcm", "wav", "wav32", "flac", "mp3", "opus"] {
        let format: ExportFormat = format.parse().unwrap();
        let (mut encoder, mut bytes) = StreamEncoder::with_channels(format, 24_000, 2).unwrap();
        assert_eq!(encoder.channels(), 2, "{format}");
        for block in pcm.samples.chunks(999) {
            bytes.extend(encoder.push(block).unwrap());
        }
        bytes.extend(encoder.finish().unwrap());
        if format == ExportFormat::Pcm {
            assert_eq!(bytes, encode(&pcm, format).unwrap().bytes);
            continue;
        }
        let decoded = decoded(format, bytes);
        assert_eq!(
            (decoded.channels, decoded.sample_rate),
            (2, 24_000),
            "{format}"
        );
        let ms = decoded.duration_ms();
        assert!((ms - 1000.0).abs() <= 50.0, "{format}: {ms} ms");
        let right = decoded.samples.iter().skip(1).step_by(2);
        assert!(right.fold(0.0f32, |m, s| m.max(s.abs())) > 0.3, "{format}");
    }
    // FLAC streams are sent whole at the end, byte for byte the one-shot file.
    let (mut encoder, header) =
        StreamEncoder::with_channels(ExportFormat::Flac, 24_000, 2).unwrap();
    assert!(header.is_empty() && !encoder.is_progressive());
    assert!(encoder.push(&pcm.samples).unwrap().is_empty());
    assert_eq!(
        encoder.finish().unwrap(),
        encode(&pcm, ExportFormat::Flac).unwrap().bytes
    );
}
