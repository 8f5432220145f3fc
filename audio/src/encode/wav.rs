//! WAV (16-bit integer and 32-bit float) and headerless s16le PCM, written in one pass.
//!
//! The RIFF header is written here rather than through hound's per-sample writer:
//! converting straight into the output buffer is ~3x faster, which matters for long
//! concatenations. hound stays as the independent reader the tests check us against.

use super::to_i16;
use crate::{AudioError, Pcm, values};

const FORMAT_PCM: u16 = 1;
const FORMAT_IEEE_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// The GUID tail shared by the KSDATAFORMAT_SUBTYPE_* GUIDs (after the 2-byte format tag).
const GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// RIFF WAVE with 16-bit signed samples.
pub(super) fn wav16(pcm: &Pcm) -> Result<Vec<u8>, AudioError> {
    let mut out = header(&Spec::of(pcm, 16, FORMAT_PCM, "wav")?);
    out.reserve_exact(pcm.samples.len() * 2);
    append_s16(&mut out, &pcm.samples);
    Ok(out)
}

/// RIFF WAVE with 32-bit IEEE float samples; values are kept (not clamped to ±1) because
/// float WAV is our lossless intermediate, but NaN and infinities become 0 and magnitudes
/// beyond ±[`crate::MAX_SAMPLE_MAGNITUDE`] are clamped, so our decoder reads back every
/// file we write.
pub(super) fn wav_float(pcm: &Pcm) -> Result<Vec<u8>, AudioError> {
    let mut out = header(&Spec::of(pcm, 32, FORMAT_IEEE_FLOAT, "wav32")?);
    out.reserve_exact(pcm.samples.len() * 4);
    append_f32(&mut out, &pcm.samples);
    Ok(out)
}

/// Signed 16-bit little-endian, interleaved, no header (OpenAI's `pcm`).
pub(super) fn pcm_s16le(pcm: &Pcm) -> Vec<u8> {
    let mut out = Vec::with_capacity(pcm.samples.len() * 2);
    append_s16(&mut out, &pcm.samples);
    out
}

/// Appends `samples` as clamped s16le (the body of `wav`, and all of `pcm`).
pub(super) fn append_s16(out: &mut Vec<u8>, samples: &[f32]) {
    let start = out.len();
    out.resize(start + samples.len() * 2, 0);
    for (dst, &s) in out[start..].chunks_exact_mut(2).zip(samples) {
        dst.copy_from_slice(&to_i16(s).to_le_bytes());
    }
}

/// Appends `samples` as f32le, sanitised as the DSP steps do (non-finite values as 0,
/// magnitudes clamped to ±[`crate::MAX_SAMPLE_MAGNITUDE`]): the body of `wav32`.
pub(super) fn append_f32(out: &mut Vec<u8>, samples: &[f32]) {
    let start = out.len();
    out.resize(start + samples.len() * 4, 0);
    for (dst, &s) in out[start..].chunks_exact_mut(4).zip(samples) {
        dst.copy_from_slice(&values::sanitize(s).to_le_bytes());
    }
}

/// The header of a WAV stream whose length is not known yet: the RIFF and `data` sizes
/// set to `0xFFFFFFFF`, the placeholder OpenAI's streaming WAV uses and that symphonia,
/// ffmpeg and browsers read as "until end of file". Float streams carry no `fact` chunk,
/// since its frame count is unknown too (readers take the length from the data, and a
/// `0xFFFFFFFF` frame count would read as a 49-hour clip).
pub(super) fn stream_header(sample_rate: u32, channels: u16, float: bool) -> Vec<u8> {
    header(&Spec {
        sample_rate,
        channels,
        bits: if float { 32 } else { 16 },
        tag: if float { FORMAT_IEEE_FLOAT } else { FORMAT_PCM },
        sizes: None,
    })
}

/// The header [`wav16`] (or [`wav_float`] when `float`) writes for `samples` interleaved
/// samples of `channels` channels: what a file written piece by piece gets at the end.
/// Its length does not depend on `samples`, so a placeholder made with 0 can be
/// overwritten in place.
pub(super) fn file_header(
    sample_rate: u32,
    channels: u16,
    float: bool,
    samples: usize,
) -> Result<Vec<u8>, AudioError> {
    let (bits, tag, name) = if float {
        (32, FORMAT_IEEE_FLOAT, "wav32")
    } else {
        (16, FORMAT_PCM, "wav")
    };
    let sizes = data_sizes(samples, channels, bits, name)?;
    Ok(header(&Spec {
        sample_rate,
        channels,
        bits,
        tag,
        sizes: Some(sizes),
    }))
}

/// `(data bytes, frames)` of `samples` samples, or the error for a file past 4 GiB.
pub(super) fn data_sizes(
    samples: usize,
    channels: u16,
    bits: u16,
    name: &'static str,
) -> Result<(u32, u32), AudioError> {
    let data_len = u32::try_from(samples.saturating_mul(usize::from(bits / 8)))
        .ok()
        .filter(|&len| len <= u32::MAX - 100)
        .ok_or_else(|| {
            AudioError::encode(name, "more than 4 GiB of samples does not fit a WAV file")
        })?;
    Ok((data_len, (samples / usize::from(channels.max(1))) as u32))
}

/// What a header describes.
struct Spec {
    sample_rate: u32,
    channels: u16,
    bits: u16,
    tag: u16,
    /// `(data bytes, frames)`, or `None` for a stream of unknown length.
    sizes: Option<(u32, u32)>,
}

impl Spec {
    fn of(pcm: &Pcm, bits: u16, tag: u16, name: &'static str) -> Result<Self, AudioError> {
        Ok(Self {
            sample_rate: pcm.sample_rate,
            channels: pcm.channels,
            bits,
            tag,
            sizes: Some(data_sizes(pcm.samples.len(), pcm.channels, bits, name)?),
        })
    }
}

/// The header up to and including the `data` chunk's size field.
///
/// Mono/stereo use the plain format tags (with a `fact` chunk for float, as the spec
/// asks of non-PCM formats); more channels use WAVE_FORMAT_EXTENSIBLE, as hound does.
fn header(spec: &Spec) -> Vec<u8> {
    let Spec {
        sample_rate,
        channels,
        bits,
        tag,
        sizes,
    } = *spec;
    let block_align = channels * (bits / 8);
    let extensible = channels > 2;
    let fmt_len: u32 = if extensible {
        40
    } else if tag == FORMAT_PCM {
        16
    } else {
        18
    };
    let fact = tag != FORMAT_PCM && sizes.is_some();
    let (riff_len, data_len) = match sizes {
        Some((data_len, _)) => (
            4 + (8 + fmt_len) + if fact { 12 } else { 0 } + 8 + data_len,
            data_len,
        ),
        None => (u32::MAX, u32::MAX),
    };

    let mut h = Vec::with_capacity(80);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_len.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&fmt_len.to_le_bytes());
    h.extend_from_slice(&(if extensible { FORMAT_EXTENSIBLE } else { tag }).to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&sample_rate.to_le_bytes());
    h.extend_from_slice(
        &sample_rate
            .saturating_mul(u32::from(block_align))
            .to_le_bytes(),
    );
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        h.extend_from_slice(&22u16.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        // No speaker positions: the channels are what the source had, in its order.
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&tag.to_le_bytes());
        h.extend_from_slice(&GUID_TAIL);
    } else if tag != FORMAT_PCM {
        h.extend_from_slice(&0u16.to_le_bytes());
    }
    if let (true, Some((_, frames))) = (fact, sizes) {
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        h.extend_from_slice(&frames.to_le_bytes());
    }
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// hound is an independent WAV reader: our headers must satisfy it too.
    #[test]
    fn hound_reads_what_we_write() {
        for channels in [1u16, 2, 3, 6] {
            let frames = 1000;
            let samples: Vec<f32> = (0..frames * usize::from(channels))
                .map(|i| ((i % 200) as f32 / 100.0) - 1.0)
                .collect();
            let pcm = Pcm::new(22_050, channels, samples.clone());

            let mut reader = hound::WavReader::new(Cursor::new(wav16(&pcm).unwrap())).unwrap();
            let spec = reader.spec();
            assert_eq!(
                (spec.channels, spec.sample_rate, spec.bits_per_sample),
                (channels, 22_050, 16)
            );
            assert_eq!(spec.sample_format, hound::SampleFormat::Int);
            let ints: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
            assert_eq!(ints, samples.iter().map(|&s| to_i16(s)).collect::<Vec<_>>());

            let mut reader = hound::WavReader::new(Cursor::new(wav_float(&pcm).unwrap())).unwrap();
            assert_eq!(reader.spec().sample_format, hound::SampleFormat::Float);
            assert_eq!(reader.duration() as usize, frames);
            let floats: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
            assert_eq!(floats, samples);
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero_and_saturating() {
        let cases = [
            (0.0, 0),
            (1.0, 32_767),
            (-1.0, -32_767),
            (2.0, 32_767),
            (-2.0, -32_767),
            (0.5 / 32_767.0, 1),
            (-0.5 / 32_767.0, -1),
            (0.49 / 32_767.0, 0),
            (f32::NAN, 0),
            (f32::INFINITY, 32_767),
        ];
        for (x, expected) in cases {
            assert_eq!(to_i16(x), expected, "{x}");
        }
    }
}
