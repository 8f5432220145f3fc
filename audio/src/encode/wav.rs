//! WAV (16-bit integer and 32-bit float, via hound) and headerless s16le PCM.

use std::io::Cursor;

use hound::{SampleFormat, WavSpec, WavWriter};

use super::to_i16;
use crate::{AudioError, Pcm};

/// RIFF WAVE with 16-bit signed samples.
pub(super) fn wav16(pcm: &Pcm) -> Result<Vec<u8>, AudioError> {
    let spec = WavSpec {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    write(spec, "wav", |w| {
        let mut w = w.get_i16_writer(pcm.samples.len() as u32);
        for &s in &pcm.samples {
            w.write_sample(to_i16(s));
        }
        w.flush()
    })
}

/// RIFF WAVE with 32-bit IEEE float samples; values are kept (not clamped) because float
/// WAV is our lossless intermediate, but NaN and infinities become 0.
pub(super) fn wav_float(pcm: &Pcm) -> Result<Vec<u8>, AudioError> {
    let spec = WavSpec {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate,
        bits_per_sample: 32,
        sample_format: SampleFormat::Float,
    };
    write(spec, "wav32", |w| {
        for &s in &pcm.samples {
            w.write_sample(if s.is_finite() { s } else { 0.0 })?;
        }
        Ok(())
    })
}

/// Signed 16-bit little-endian, interleaved, no header (OpenAI's `pcm`).
pub(super) fn pcm_s16le(pcm: &Pcm) -> Vec<u8> {
    let mut out = Vec::with_capacity(pcm.samples.len() * 2);
    for &s in &pcm.samples {
        out.extend_from_slice(&to_i16(s).to_le_bytes());
    }
    out
}

fn write(
    spec: WavSpec,
    name: &'static str,
    body: impl FnOnce(&mut WavWriter<&mut Cursor<Vec<u8>>>) -> Result<(), hound::Error>,
) -> Result<Vec<u8>, AudioError> {
    let mut cursor = Cursor::new(Vec::new());
    let mut writer = WavWriter::new(&mut cursor, spec).map_err(|e| AudioError::encode(name, e))?;
    body(&mut writer).map_err(|e| AudioError::encode(name, e))?;
    writer.finalize().map_err(|e| AudioError::encode(name, e))?;
    Ok(cursor.into_inner())
}
