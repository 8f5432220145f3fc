//! Hostile audio bytes for uploads: garbage, truncated and hand-broken WAVs, float WAVs
//! of NaN and infinities, magic numbers followed by junk, and now and then real audio.

use std::io::Cursor;

use crate::fixtures::{fixture, wav};

use super::rng::Rng;

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
pub(crate) fn audio_bytes(rng: &mut Rng) -> (Vec<u8>, String) {
    let kind = rng.below(AUDIO_KINDS);
    audio_of_kind(rng, kind)
}

/// How many kinds [`audio_of_kind`] makes.
pub(crate) const AUDIO_KINDS: usize = 14;

pub(crate) fn audio_of_kind(rng: &mut Rng, kind: usize) -> (Vec<u8>, String) {
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
