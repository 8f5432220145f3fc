//! AAC (ADTS) through the `ffmpeg` subprocess: one-shot and streamed files decode with our
//! own decoder to the right length, start with the ADTS sync word, a stream sends bytes
//! before it ends, and a `FileEncoder` (mono or stereo) writes the one-shot file.
//!
//! The ffmpeg used is the one the setup step installs (`$SPEECH_MODELS_DIR/ffmpeg/ffmpeg`,
//! else `<workspace>/.cache/models/ffmpeg/ffmpeg`); without it these tests fail and say
//! how to install it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use std::sync::Arc;

use audio::encode::{Encoders, ExportFormat};
use audio::memory::Lease;
use audio::{DecodeLimits, Pcm, decode};
use bytes::Bytes;

mod support;
use support::signal;

const RATE: u32 = 24_000;

/// The setup step's ffmpeg, made the process-wide choice; fails the test when absent.
fn setup_encoders() -> Encoders {
    let models = std::env::var_os("SPEECH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/models"));
    let mut candidates = vec![models.join("ffmpeg/ffmpeg")];
    candidates
        .push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/models/ffmpeg/ffmpeg"));
    let found = candidates.iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "ffmpeg not found at {candidates:?}; run ./scripts/test.sh (or ensure_runtime_assets \
             from scripts/lib/assets.sh) to install it"
        )
    });
    Encoders::with_ffmpeg(found)
}

fn default_aac() -> ExportFormat {
    "aac".parse().unwrap()
}

/// Asserts the bytes are ADTS (sync word, MPEG-4 or MPEG-2 id, no CRC) and decodes them.
fn decode_adts(bytes: Vec<u8>) -> Pcm {
    assert!(bytes.len() > 7, "{} bytes", bytes.len());
    let sync = u16::from_be_bytes([bytes[0], bytes[1]]);
    assert!(sync == 0xFFF1 || sync == 0xFFF9, "starts with {sync:#06x}");
    let (info, pcm) = decode(Bytes::from(bytes), Some("aac"), &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("the aac did not decode: {e}"));
    assert_eq!(info.sample_rate, pcm.sample_rate);
    pcm
}

#[test]
fn aac_parses_and_describes_itself() {
    let format = default_aac();
    assert_eq!(format, ExportFormat::Aac { bitrate_kbps: 64 });
    assert_eq!(
        (format.name(), format.extension(), format.content_type()),
        ("aac", "aac", "audio/aac")
    );
    assert_eq!("AAC".parse::<ExportFormat>().unwrap(), format);
    assert!(ExportFormat::aac(96).is_ok());
    assert!(ExportFormat::aac(4).is_err());
    assert!(ExportFormat::aac(1000).is_err());
}

#[test]
fn one_shot_aac_decodes_to_the_input_length() {
    let encoders = setup_encoders();
    let pcm = Pcm::mono(RATE, signal(RATE, 3.0));
    let encoded = encoders.encode(&pcm, default_aac()).unwrap();
    assert_eq!((encoded.sample_rate, encoded.channels), (RATE, 1));
    assert_eq!(encoded.content_type(), "audio/aac");
    // 64 kbps over 3 s is about 24 kB.
    let kbps = encoded.bytes.len() as f64 * 8.0 / 3.0 / 1000.0;
    assert!((40.0..90.0).contains(&kbps), "{kbps} kbps");
    let decoded = decode_adts(encoded.bytes);
    assert_eq!((decoded.sample_rate, decoded.channels), (RATE, 1));
    let ms = decoded.duration_ms();
    assert!((ms - 3000.0).abs() <= 100.0, "{ms} ms");
    assert!(decoded.peak() > 0.3, "peak {}", decoded.peak());
}

#[test]
fn one_shot_aac_keeps_stereo_and_conforms_odd_rates() {
    let encoders = setup_encoders();
    let mono = signal(44_100, 1.0);
    let quiet: Vec<f32> = mono.iter().map(|s| s * 0.5).collect();
    let stereo = Pcm::new(
        44_100,
        2,
        mono.iter()
            .zip(&quiet)
            .flat_map(|(l, r)| [*l, *r])
            .collect(),
    );
    let encoded = encoders.encode(&stereo, default_aac()).unwrap();
    assert_eq!((encoded.sample_rate, encoded.channels), (44_100, 2));
    let decoded = decode_adts(encoded.bytes);
    assert_eq!((decoded.sample_rate, decoded.channels), (44_100, 2));

    // 23 kHz is not an AAC rate: resampled to 24 kHz first.
    let odd = Pcm::mono(23_000, signal(23_000, 1.0));
    let encoded = encoders.encode(&odd, default_aac()).unwrap();
    assert_eq!(encoded.sample_rate, 24_000);
    let decoded = decode_adts(encoded.bytes);
    assert!((decoded.duration_ms() - 1000.0).abs() <= 100.0);
}

#[test]
fn streamed_aac_decodes_to_the_input_length() {
    let encoders = setup_encoders();
    let samples = signal(RATE, 3.0);
    let (mut encoder, header) = encoders.stream(default_aac(), RATE).unwrap();
    assert!(header.is_empty());
    assert!(encoder.is_progressive());
    assert_eq!(encoder.sample_rate(), RATE);
    let mut bytes = Vec::new();
    for block in samples.chunks(4_801) {
        bytes.extend(encoder.push(block).unwrap());
        bytes.extend(encoder.push(&[]).unwrap());
    }
    bytes.extend(encoder.finish().unwrap());
    let decoded = decode_adts(bytes);
    let ms = decoded.duration_ms();
    assert!((ms - 3000.0).abs() <= 100.0, "{ms} ms");
    assert!(decoded.peak() > 0.3, "peak {}", decoded.peak());
}

#[test]
fn a_long_aac_stream_sends_bytes_before_finish() {
    let encoders = setup_encoders();
    // 20 s in sentence-sized blocks: far more than the pipes and ffmpeg's queues hold.
    let samples = signal(RATE, 20.0);
    let (mut encoder, _) = encoders.stream(default_aac(), RATE).unwrap();
    let mut before = Vec::new();
    for block in samples.chunks(RATE as usize / 2) {
        before.extend(encoder.push(block).unwrap());
    }
    let tail = encoder.finish().unwrap();
    assert!(!before.is_empty(), "no bytes before finish");
    let sync = u16::from_be_bytes([before[0], before[1]]);
    assert!(sync == 0xFFF1 || sync == 0xFFF9, "starts with {sync:#06x}");
    let total = before.len() + tail.len();
    assert!(
        before.len() * 2 >= total,
        "only {} of {total} bytes before finish",
        before.len()
    );
    let mut all = before;
    all.extend(tail);
    let ms = decode_adts(all).duration_ms();
    assert!((ms - 20_000.0).abs() <= 100.0, "{ms} ms");
}

#[test]
fn empty_hostile_and_abandoned_aac_streams_end_cleanly() {
    let encoders = setup_encoders();
    let (encoder, _) = encoders.stream(default_aac(), RATE).unwrap();
    assert!(encoder.finish().unwrap().is_empty());
    assert!(
        encoders
            .encode(&Pcm::mono(RATE, Vec::new()), default_aac())
            .is_ok()
    );

    let hostile = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30, 0.5];
    let (mut encoder, _) = encoders.stream(default_aac(), RATE).unwrap();
    for _ in 0..500 {
        encoder.push(&hostile).unwrap();
    }
    let bytes = encoder.finish().unwrap();
    assert!(!bytes.is_empty());
    decode_adts(bytes);

    // Dropped mid-stream (a client went away): ffmpeg is stopped, nothing hangs.
    let (mut encoder, _) = encoders.stream(default_aac(), RATE).unwrap();
    encoder.push(&signal(RATE, 1.0)).unwrap();
    drop(encoder);

    // An odd rate is resampled to the next AAC rate.
    let (mut encoder, _) = encoders.stream(default_aac(), 7_000).unwrap();
    assert_eq!(encoder.sample_rate(), 8_000);
    encoder.push(&signal(7_000, 0.5)).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn aac_files_encoded_piece_by_piece_are_the_one_shot_files() {
    let encoders = setup_encoders();
    // 23 kHz is no AAC rate: both resample to 24 kHz (the file with the stream resampler).
    for (rate, channels) in [
        (RATE, 1u16),
        (RATE, 2),
        (44_100, 2),
        (23_000, 1),
        (23_000, 2),
    ] {
        let mono = signal(rate, 1.5);
        let samples: Vec<f32> = mono
            .iter()
            .flat_map(|&s| (0..channels).map(move |c| s * (1.0 - 0.4 * f32::from(c))))
            .collect();
        let pcm = Pcm::new(rate, channels, samples);
        let one_shot = encoders.encode(&pcm, default_aac()).unwrap();
        let mut encoder = encoders
            .file(default_aac(), rate, channels, Arc::new(Lease::unlimited()))
            .unwrap();
        // Blocks that split frames, as a timeline's sink may hand them.
        for block in pcm.samples.chunks(4_801) {
            encoder.push(block).unwrap();
        }
        let file = encoder.finish().unwrap();
        let what = format!("{channels} channels at {rate} Hz");
        assert_eq!(
            (file.sample_rate, file.channels),
            (one_shot.sample_rate, one_shot.channels),
            "{what}"
        );
        if rate != 23_000 {
            // The same samples reach the same ffmpeg: the same frames.
            assert!(file.bytes == one_shot.bytes, "{what}: bytes differ");
        }
        let (a, b) = (decode_adts(file.bytes), decode_adts(one_shot.bytes));
        assert_eq!(
            (a.sample_rate, a.channels, a.frames()),
            (b.sample_rate, b.channels, b.frames()),
            "{what}"
        );
        assert!(a.peak() > 0.3, "{what}: peak {}", a.peak());
    }
}
