//! Encoder tests: format parsing, and round trips that decode every encoder's output with
//! our own decoder and compare length and content.

use bytes::Bytes;

use super::*;
use crate::test_signals::{best_lag, correlation, rms, speech_like};
use crate::{DecodeLimits, decode};

fn roundtrip(pcm: &Pcm, format: ExportFormat) -> (EncodedAudio, Pcm) {
    let encoded = encode(pcm, format).unwrap();
    let (info, decoded) = decode(
        Bytes::from(encoded.bytes.clone()),
        Some(format.extension()),
        &DecodeLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{format} did not decode: {e}"));
    assert_eq!(info.sample_rate, encoded.sample_rate, "{format}");
    assert_eq!(info.channels, encoded.channels, "{format}");
    (encoded, decoded)
}

fn speech(rate: u32, frames: usize, channels: u16) -> Pcm {
    let mono = speech_like(rate, frames);
    if channels == 1 {
        return Pcm::mono(rate, mono);
    }
    // A different (delayed, quieter) right channel, so a channel swap would show.
    let right: Vec<f32> = (0..frames)
        .map(|i| if i >= 100 { mono[i - 100] * 0.5 } else { 0.0 })
        .collect();
    Pcm::from_channels(rate, vec![mono, right])
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn format_names_parse_and_describe_themselves() {
    let cases = [
        ("wav", "wav", "audio/wav"),
        ("WAV32", "wav", "audio/wav"),
        ("wav_float", "wav", "audio/wav"),
        ("mp3", "mp3", "audio/mpeg"),
        ("flac", "flac", "audio/flac"),
        (" opus ", "opus", "audio/ogg; codecs=opus"),
        ("pcm", "pcm", "audio/pcm"),
    ];
    for (name, ext, mime) in cases {
        let f: ExportFormat = name.parse().unwrap();
        assert_eq!((f.extension(), f.content_type()), (ext, mime), "{name}");
        assert_eq!(f.name().parse::<ExportFormat>().unwrap(), f);
    }
    assert_eq!(
        "mp3".parse::<ExportFormat>().unwrap(),
        ExportFormat::Mp3 { bitrate_kbps: 320 }
    );
    assert!(ExportFormat::mp3(128).is_ok());
    assert!(ExportFormat::mp3(100).is_err());
    assert!(ExportFormat::opus(5).is_err());
}

#[test]
fn m4a_is_refused_with_the_supported_list() {
    for name in ["m4a", "M4A"] {
        let err = name.parse::<ExportFormat>().unwrap_err();
        let AudioError::UnsupportedFormat {
            requested,
            reason,
            supported,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(requested, name);
        assert!(reason.contains("streamed"), "{reason}");
        assert_eq!(*supported, SUPPORTED_FORMATS);
        let message = err.to_string();
        for f in ["wav", "mp3", "flac", "opus", "aac", "pcm"] {
            assert!(message.contains(f), "{message}");
        }
    }
    assert!(matches!(
        "ogg".parse::<ExportFormat>(),
        Err(AudioError::UnsupportedFormat { .. })
    ));
}

#[test]
fn wav16_roundtrip_is_exact_to_one_lsb() {
    for channels in [1, 2] {
        let pcm = speech(24_000, 24_001, channels);
        let (_, out) = roundtrip(&pcm, ExportFormat::Wav);
        assert_eq!(out.frames(), pcm.frames());
        assert!(max_abs_diff(&out.samples, &pcm.samples) <= 1.0 / 32_767.0);
    }
}

#[test]
fn wav_float_roundtrip_is_bit_exact() {
    let pcm = speech(22_050, 10_000, 2);
    let (_, out) = roundtrip(&pcm, ExportFormat::WavFloat);
    assert_eq!(out, pcm);
}

#[test]
fn integer_formats_clamp_instead_of_wrapping() {
    let pcm = Pcm::mono(8_000, vec![1.5, -3.0, f32::NAN, 0.5]);
    let (_, out) = roundtrip(&pcm, ExportFormat::Wav);
    assert!((out.samples[0] - 1.0).abs() < 1e-4 && (out.samples[1] + 1.0).abs() < 1e-4);
    assert_eq!(out.samples[2], 0.0);
    let raw = encode(&pcm, ExportFormat::Pcm).unwrap().bytes;
    assert_eq!(
        raw,
        [32_767i16, -32_767, 0, 16_384]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect::<Vec<u8>>()
    );
}

#[test]
fn pcm_is_headerless_s16le() {
    let pcm = speech(24_000, 4_800, 2);
    let encoded = encode(&pcm, ExportFormat::Pcm).unwrap();
    assert_eq!(encoded.bytes.len(), pcm.samples.len() * 2);
    let back: Vec<f32> = encoded
        .bytes
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_767.0)
        .collect();
    assert!(max_abs_diff(&back, &pcm.samples) <= 0.6 / 32_767.0);
}

#[test]
fn flac_roundtrip_is_lossless_for_any_length() {
    // 4096 is flacenc's block size: exact multiples and a short last block both decode.
    for (frames, channels) in [
        (4_096 * 5, 1),
        (4_096 * 5 + 1_234, 1),
        (4_096 * 3 + 1, 2),
        (100, 1),
    ] {
        let pcm = speech(24_000, frames, channels);
        let (_, out) = roundtrip(&pcm, ExportFormat::Flac);
        assert_eq!(out.frames(), frames, "{frames} frames");
        let (_, wav) = roundtrip(&pcm, ExportFormat::Wav);
        assert_eq!(out.samples, wav.samples, "flac must equal the 16-bit wav");
    }
}

#[test]
fn mp3_roundtrip_keeps_length_and_content() {
    for (kbps, rate, channels) in [
        (320, 24_000, 1),
        (64, 24_000, 1),
        (128, 44_100, 2),
        (320, 48_000, 1),
    ] {
        let pcm = speech(rate, rate as usize * 3 + 123, channels);
        let (encoded, out) = roundtrip(&pcm, ExportFormat::mp3(kbps).unwrap());
        assert_eq!(encoded.sample_rate, rate);
        // The LAME Info tag carries delay and padding, so the decoder trims exactly.
        assert_eq!(out.frames(), pcm.frames(), "{kbps} kbps at {rate} Hz");
        let (lag, corr) = best_lag(&pcm.channel(0), &out.channel(0), 48);
        assert_eq!(lag, 0, "{kbps} kbps at {rate} Hz is shifted");
        assert!(corr > 0.95, "{kbps} kbps at {rate} Hz: correlation {corr}");
        let size_kbps = encoded.bytes.len() as f64 * 8.0 / pcm.duration_seconds() / 1000.0;
        let expected = f64::from(mp3::effective_kbps(kbps, rate));
        assert!(
            (size_kbps - expected).abs() < expected * 0.1,
            "{size_kbps} kbps for {expected}"
        );
    }
}

#[test]
fn mp3_resamples_rates_it_cannot_carry() {
    let pcm = speech(23_000, 23_000, 1);
    let (encoded, out) = roundtrip(&pcm, ExportFormat::mp3(128).unwrap());
    assert_eq!(encoded.sample_rate, 24_000);
    assert_eq!(out.frames(), 24_000);
}

#[test]
fn opus_roundtrip_keeps_length_and_content() {
    for (rate, channels, expected_rate) in [
        (24_000, 1, 24_000),
        (48_000, 2, 48_000),
        (16_000, 1, 16_000),
        (44_100, 1, 48_000),
    ] {
        let pcm = speech(rate, rate as usize * 2 + 77, channels);
        let (encoded, out) = roundtrip(
            &pcm,
            ExportFormat::Opus {
                bitrate_kbps: DEFAULT_OPUS_KBPS,
            },
        );
        assert_eq!(encoded.sample_rate, expected_rate);
        let expected_frames = crate::resample::output_frames(pcm.frames(), rate, expected_rate);
        assert_eq!(out.frames(), expected_frames, "{rate} Hz");
        let reference = crate::resample::resample(&pcm, expected_rate).unwrap();
        let (lag, corr) = best_lag(&reference.channel(0), &out.channel(0), 48);
        // Framing errors would show as tens or hundreds of samples (pre-skip is 312 at
        // 48 kHz); what remains is libopus's own sub-millisecond phase response, which
        // measures as a 0-2 sample lead depending on rate and signal.
        assert!(lag.abs() <= 2, "opus at {rate} Hz is shifted by {lag}");
        assert!(corr > 0.9, "opus at {rate} Hz: correlation {corr}");
        let level = rms(&out.samples) / rms(&reference.samples);
        assert!((0.8..1.25).contains(&level), "level ratio {level}");
    }
}

#[test]
fn more_than_two_channels_are_mixed_down_for_lossy_codecs() {
    let mono = speech_like(24_000, 9_600);
    let pcm = Pcm::from_channels(24_000, vec![mono.clone(), mono.clone(), mono.clone()]);
    for format in [
        ExportFormat::mp3(128).unwrap(),
        ExportFormat::opus(64).unwrap(),
    ] {
        let (encoded, out) = roundtrip(&pcm, format);
        assert_eq!(encoded.channels, 1, "{format}");
        assert!(correlation(&out.samples, &mono) > 0.9, "{format}");
    }
    let (_, flac) = roundtrip(&pcm, ExportFormat::Flac);
    assert_eq!(flac.channels, 3);
}

#[test]
fn empty_pcm_encodes_without_panicking() {
    let empty = Pcm::mono(24_000, Vec::new());
    for name in ["wav", "wav32", "mp3", "flac", "opus", "pcm"] {
        let format: ExportFormat = name.parse().unwrap();
        assert!(encode(&empty, format).is_ok(), "{name}");
    }
}
