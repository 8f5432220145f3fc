//! Streaming encoders: uneven blocks in, a decodable file out, bytes flowing before the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use audio::encode::{ExportFormat, StreamEncoder, encode};
use audio::{DecodeLimits, Pcm, decode};
use bytes::Bytes;

mod support;
use support::signal;

const RATE: u32 = 24_000;
/// Uneven block sizes, cycled until the signal is used up (zero-length pushes included).
const BLOCKS: [usize; 7] = [1000, 17, 24_000, 0, 333, 4801, 7];

fn formats() -> Vec<ExportFormat> {
    ["pcm", "wav", "wav32", "mp3", "opus", "flac"]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect()
}

/// What one stream produced.
struct Streamed {
    header: Vec<u8>,
    /// Bytes returned by each push.
    pushes: Vec<Vec<u8>>,
    tail: Vec<u8>,
    progressive: bool,
    sample_rate: u32,
}

impl Streamed {
    fn bytes(&self) -> Vec<u8> {
        let mut all = self.header.clone();
        for p in &self.pushes {
            all.extend_from_slice(p);
        }
        all.extend_from_slice(&self.tail);
        all
    }

    fn pushed_bytes(&self) -> usize {
        self.pushes.iter().map(Vec::len).sum()
    }
}

fn stream(format: ExportFormat, rate: u32, samples: &[f32]) -> Streamed {
    let (mut enc, header) = StreamEncoder::new(format, rate).unwrap();
    let progressive = enc.is_progressive();
    let sample_rate = enc.sample_rate();
    let mut pushes = Vec::new();
    let mut at = 0;
    for &size in BLOCKS.iter().cycle() {
        if at >= samples.len() {
            break;
        }
        let end = (at + size).min(samples.len());
        pushes.push(enc.push(&samples[at..end]).unwrap());
        at = end;
    }
    let tail = enc.finish().unwrap();
    Streamed {
        header,
        pushes,
        tail,
        progressive,
        sample_rate,
    }
}

/// Decodes `bytes` as `format`; raw PCM has no container, so it is read directly.
fn decode_as(format: ExportFormat, bytes: Vec<u8>, rate: u32) -> Pcm {
    if format == ExportFormat::Pcm {
        assert_eq!(bytes.len() % 2, 0);
        let samples = bytes
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        return Pcm::mono(rate, samples);
    }
    let (info, pcm) = decode(
        Bytes::from(bytes),
        Some(format.extension()),
        &DecodeLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{format} stream did not decode: {e}"));
    assert_eq!(info.channels, 1, "{format}");
    pcm
}

#[test]
fn every_format_streams_uneven_blocks_into_a_file_of_the_right_length() {
    let samples = signal(RATE, 3.0);
    for format in formats() {
        let s = stream(format, RATE, &samples);
        let decoded = decode_as(format, s.bytes(), s.sample_rate);
        assert_eq!(decoded.channels, 1, "{format}");
        assert_eq!(decoded.sample_rate, s.sample_rate, "{format}");
        let ms = decoded.duration_ms();
        assert!((ms - 3000.0).abs() <= 50.0, "{format}: {ms} ms");
        // Not silence: the signal survived.
        let peak = decoded.peak();
        assert!(peak > 0.3, "{format}: peak {peak}");
    }
}

#[test]
fn all_but_flac_send_bytes_before_finish() {
    let samples = signal(RATE, 3.0);
    for format in formats() {
        let s = stream(format, RATE, &samples);
        if format == ExportFormat::Flac {
            assert!(!s.progressive);
            assert_eq!(s.pushed_bytes(), 0);
            assert!(s.header.is_empty());
        } else {
            assert!(s.progressive, "{format}");
            assert!(s.pushed_bytes() > 0, "{format}");
            // Most of the audio leaves before finish.
            let total = s.bytes().len() - s.header.len();
            assert!(
                s.pushed_bytes() * 10 >= total * 8,
                "{format}: {} of {total}",
                s.pushed_bytes()
            );
        }
    }
}

#[test]
fn wav_header_carries_the_streaming_sentinels_and_decodes() {
    for (name, bits) in [("wav", 16u16), ("wav32", 32)] {
        let format: ExportFormat = name.parse().unwrap();
        let (_, header) = StreamEncoder::new(format, RATE).unwrap();
        assert_eq!(&header[..4], b"RIFF");
        assert_eq!(&header[4..8], &u32::MAX.to_le_bytes());
        assert_eq!(&header[8..16], b"WAVEfmt ");
        assert_eq!(&header[header.len() - 8..header.len() - 4], b"data");
        assert_eq!(&header[header.len() - 4..], &u32::MAX.to_le_bytes());
        assert_eq!(u16::from_le_bytes([header[34], header[35]]), bits);

        // A user downloading a stream gets exactly these bytes: they must decode.
        let samples = signal(RATE, 0.5);
        let s = stream(format, RATE, &samples);
        let decoded = decode_as(format, s.bytes(), RATE);
        assert_eq!(decoded.frames(), samples.len(), "{name}");
        // The decoder scales by 1/32768, the encoder by 32767: allow that and the rounding.
        let tolerance = if bits == 16 { 1.0 / 16_000.0 } else { 0.0 };
        for (a, b) in decoded.samples.iter().zip(&samples) {
            assert!((a - b).abs() <= tolerance, "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn wav_and_pcm_streams_match_the_one_shot_samples() {
    let samples = signal(RATE, 1.0);
    let pcm = Pcm::mono(RATE, samples.clone());
    // pcm: byte-identical.
    let s = stream(ExportFormat::Pcm, RATE, &samples);
    assert_eq!(s.bytes(), encode(&pcm, ExportFormat::Pcm).unwrap().bytes);
    // wav: same data chunk, only the header differs.
    let s = stream(ExportFormat::Wav, RATE, &samples);
    let one_shot = encode(&pcm, ExportFormat::Wav).unwrap().bytes;
    assert_eq!(
        s.bytes()[s.header.len()..],
        one_shot[one_shot.len() - samples.len() * 2..]
    );
}

#[test]
fn opus_header_pages_come_first() {
    let (_, header) = StreamEncoder::new("opus".parse().unwrap(), RATE).unwrap();
    assert_eq!(&header[..4], b"OggS");
    // The first page's body is OpusHead.
    let body = 27 + usize::from(header[26]);
    assert_eq!(&header[body..body + 8], b"OpusHead");
    let tags = header.windows(8).position(|w| w == b"OpusTags");
    assert!(tags.is_some());
    // Two pages: OpusHead, OpusTags (the second page starts with OggS too).
    assert_eq!(header.windows(4).filter(|w| *w == b"OggS").count(), 2);
    // Pages flow per push: every push with a whole frame returns a complete page.
    let s = stream("opus".parse().unwrap(), RATE, &signal(RATE, 1.0));
    for p in s.pushes.iter().filter(|p| !p.is_empty()) {
        assert_eq!(&p[..4], b"OggS");
    }
    // The last page is flagged end-of-stream (header type 0x04).
    let last = s.tail.windows(4).rposition(|w| w == b"OggS").unwrap();
    assert_eq!(s.tail[last + 5] & 0x04, 0x04);
}

#[test]
fn opus_matches_the_one_shot_encoder() {
    let samples = signal(RATE, 1.3);
    let format: ExportFormat = "opus".parse().unwrap();
    let s = stream(format, RATE, &samples);
    let one_shot = encode(&Pcm::mono(RATE, samples.clone()), format).unwrap();
    let a = decode_as(format, s.bytes(), RATE);
    let b = decode_as(format, one_shot.bytes, RATE);
    assert_eq!(a.frames(), samples.len());
    assert_eq!(a.frames(), b.frames());
}

#[test]
fn opus_resamples_unsupported_rates() {
    let rate = 22_050;
    let samples = signal(rate, 3.0);
    let s = stream("opus".parse().unwrap(), rate, &samples);
    assert_eq!(s.sample_rate, 24_000);
    let decoded = decode_as("opus".parse().unwrap(), s.bytes(), s.sample_rate);
    assert_eq!(decoded.sample_rate, 24_000);
    let ms = decoded.duration_ms();
    assert!((ms - 3000.0).abs() <= 50.0, "{ms} ms");
    // Exact: ceil(len * 24000 / 22050) frames, as the one-shot resampler gives.
    assert_eq!(decoded.frames(), (samples.len() * 24_000).div_ceil(22_050));
    assert!(decoded.peak() > 0.3);
}

#[test]
fn mp3_streaming_and_one_shot_decode_to_similar_lengths() {
    let samples = signal(RATE, 3.0);
    let format: ExportFormat = "mp3".parse().unwrap();
    let s = stream(format, RATE, &samples);
    let streamed = decode_as(format, s.bytes(), RATE);
    let one_shot = encode(&Pcm::mono(RATE, samples.clone()), format).unwrap();
    let one_shot = decode_as(format, one_shot.bytes, RATE);
    let diff = streamed.frames().abs_diff(one_shot.frames());
    // No Info tag in a stream: the encoder delay and padding stay (at most ~2 frames).
    assert!(
        diff <= 2 * 576 + 1105,
        "{} vs {}",
        streamed.frames(),
        one_shot.frames()
    );
}

#[test]
fn mp3_resamples_unsupported_rates() {
    let rate = 20_000;
    let samples = signal(rate, 1.0);
    let s = stream("mp3".parse().unwrap(), rate, &samples);
    assert_eq!(s.sample_rate, 22_050);
    let decoded = decode_as("mp3".parse().unwrap(), s.bytes(), s.sample_rate);
    assert_eq!(decoded.sample_rate, 22_050);
    assert!((decoded.duration_ms() - 1000.0).abs() <= 100.0);
}

#[test]
fn hostile_samples_and_empty_streams_do_not_panic() {
    let hostile = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30, 0.5];
    for format in formats() {
        // Finish with no push at all.
        let (enc, header) = StreamEncoder::new(format, RATE).unwrap();
        let tail = enc.finish().unwrap();
        if format.name() == "opus" {
            assert!(header.starts_with(b"OggS"));
            assert!(tail.starts_with(b"OggS"));
        }

        // Empty pushes, then hostile samples.
        let (mut enc, _) = StreamEncoder::new(format, RATE).unwrap();
        assert!(enc.push(&[]).unwrap().is_empty() || format.name() == "opus");
        for _ in 0..500 {
            enc.push(&hostile).unwrap();
        }
        enc.push(&[]).unwrap();
        enc.finish().unwrap();
    }
    // Rates outside what any encoder takes are refused, not panicked on.
    for format in formats() {
        assert!(StreamEncoder::new(format, 0).is_err());
        assert!(StreamEncoder::new(format, u32::MAX).is_err());
    }
    // Odd rates resample (opus, mp3) or pass through (the rest).
    for format in formats() {
        let (mut enc, _) = StreamEncoder::new(format, 7_000).unwrap();
        enc.push(&signal(7_000, 0.2)).unwrap();
        enc.finish().unwrap();
    }
}

#[test]
fn hostile_wav_samples_are_sanitised() {
    let hostile = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 2.0];
    let (mut enc, header) = StreamEncoder::new(ExportFormat::Wav, RATE).unwrap();
    let body = enc.push(&hostile).unwrap();
    let ints: Vec<i16> = body
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(ints, [0, 32_767, -32_767, 32_767]);
    assert!(!header.is_empty());
    let (mut enc, _) = StreamEncoder::new(ExportFormat::WavFloat, RATE).unwrap();
    let body = enc.push(&hostile).unwrap();
    let floats: Vec<f32> = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(floats, [0.0, 0.0, 0.0, 2.0]);
}

#[test]
fn mp3_stream_starts_with_an_info_frame_carrying_the_encoder_delay() {
    let format: ExportFormat = "mp3".parse().unwrap();
    for seconds in [0.3, 1.0, 1.7, 2.51] {
        let samples = signal(RATE, seconds);
        let s = stream(format, RATE, &samples);
        let bytes = s.bytes();
        // MPEG-2 mono: 4-byte header + 9 bytes of side info, then the tag.
        assert_eq!(&bytes[13..17], b"Info");
        assert_eq!(&bytes[21..25], b"LAME");
        // Decoders drop the delay; only the last frame's padding (< 1 frame) remains.
        let decoded = decode_as(format, bytes, RATE);
        let extra = decoded.frames() as i64 - samples.len() as i64;
        assert!(
            (0..576).contains(&extra),
            "{seconds} s: {extra} extra frames"
        );
    }
}
