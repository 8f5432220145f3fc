//! A strict fast path for the commonest upload and the format we write ourselves:
//! plain RIFF WAVE with 16-bit integer or 32-bit float samples.
//!
//! Symphonia decodes these at ~2-3 ns per sample through its generic packet and buffer
//! machinery; converting the data chunk directly is several times faster, which is most
//! of a 50-file concatenation's cost. Anything this parser does not recognise exactly
//! (other sample formats, RF64, streaming sizes, a data chunk before `fmt `, odd block
//! alignment, too many chunks) returns `None` and goes to symphonia unchanged, so the
//! fast path never decides what is valid audio, only how quickly valid audio is read
//! (float samples get the same value check as on the symphonia path).
//! All reads are bounds-checked slices; sizes come from the file and are clipped to it.
//! The sample count is known before converting, so the buffer is reserved on the lease
//! and allocated once, at its exact size.

use crate::decode::{AudioInfo, ContainerFormat, DecodeLimits, Keep, check_length};
use crate::memory::LeasedVec;
use crate::values::{in_range, invalid_samples};
use crate::{AudioError, MAX_CHANNELS, MAX_SAMPLE_RATE};

const FORMAT_PCM: u16 = 1;
const FORMAT_IEEE_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// Bytes 2..16 of the KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT GUIDs.
const GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];
/// Chunks walked before giving up and letting symphonia look.
const MAX_CHUNKS: usize = 64;

#[derive(Clone, Copy, PartialEq)]
enum Sample {
    I16,
    F32,
}

struct Format {
    sample: Sample,
    channels: usize,
    rate: u32,
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn parse_fmt(body: &[u8]) -> Option<Format> {
    let mut tag = u16_at(body, 0)?;
    let channels = usize::from(u16_at(body, 2)?);
    let rate = u32_at(body, 4)?;
    let block_align = usize::from(u16_at(body, 12)?);
    let bits = u16_at(body, 14)?;
    if tag == FORMAT_EXTENSIBLE {
        // cbSize 22, valid bits = container bits, then the sub-format GUID.
        if u16_at(body, 16)? != 22 || u16_at(body, 18)? != bits || body.get(26..40)? != GUID_TAIL {
            return None;
        }
        tag = u16_at(body, 24)?;
    }
    let sample = match (tag, bits) {
        (FORMAT_PCM, 16) => Sample::I16,
        (FORMAT_IEEE_FLOAT, 32) => Sample::F32,
        _ => return None,
    };
    let valid = (1..=MAX_CHANNELS).contains(&channels)
        && (1..=MAX_SAMPLE_RATE).contains(&rate)
        && block_align == channels * usize::from(bits / 8);
    valid.then_some(Format {
        sample,
        channels,
        rate,
    })
}

/// Decodes `data` if it is a WAV this path handles; `None` means "ask symphonia".
pub(crate) fn try_decode(
    data: &[u8],
    limits: &DecodeLimits,
    keep: Keep<'_>,
) -> Option<Result<(AudioInfo, Vec<f32>), AudioError>> {
    if data.get(0..4)? != b"RIFF" || data.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut format = None;
    let mut offset = 12usize;
    for _ in 0..MAX_CHUNKS {
        let id = data.get(offset..offset + 4)?;
        let size = u32_at(data, offset + 4)?;
        let body_start = offset + 8;
        if id == b"fmt " {
            format = Some(parse_fmt(
                data.get(body_start..body_start.checked_add(size as usize)?)?,
            )?);
        } else if id == b"data" {
            // 0 and 0xFFFFFFFF are streaming placeholders; leave those to symphonia.
            if size == 0 || size == u32::MAX {
                return None;
            }
            return Some(convert(
                format.as_ref()?,
                data.get(body_start..)?,
                size as usize,
                limits,
                keep,
            ));
        }
        // Chunks are padded to even sizes.
        offset = body_start
            .checked_add(size as usize)?
            .checked_add((size & 1) as usize)?;
    }
    None
}

fn convert(
    format: &Format,
    available: &[u8],
    claimed_bytes: usize,
    limits: &DecodeLimits,
    keep: Keep<'_>,
) -> Result<(AudioInfo, Vec<f32>), AudioError> {
    let width = if format.sample == Sample::I16 { 2 } else { 4 };
    let block = width * format.channels;
    // The header's claim is checked first, as symphonia's path does, so a lying
    // size is refused before any work; then only what is really there is read.
    check_length(
        (claimed_bytes / block) as u64,
        format.rate,
        format.channels,
        limits,
        keep.is_some(),
    )?;
    let frames = claimed_bytes.min(available.len()) / block;
    if frames == 0 {
        return Err(AudioError::Corrupt("no audio could be decoded".into()));
    }
    let bytes = &available[..frames * block];
    let samples = match keep {
        Some(lease) => {
            let mut samples = LeasedVec::new(lease);
            samples.reserve_exact(frames * format.channels)?;
            // Extending a reserved vector from an exact-size iterator writes in place,
            // as fast as `collect`.
            match format.sample {
                // Integer PCM is in [-1, 1) by construction: nothing to check.
                Sample::I16 => samples.vec_mut().extend(
                    bytes
                        .chunks_exact(2)
                        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * (1.0 / 32768.0)),
                ),
                Sample::F32 => float_samples(bytes, Some(samples.vec_mut()))?,
            }
            samples.into_held()
        }
        None => {
            if format.sample == Sample::F32 {
                float_samples(bytes, None)?;
            }
            Vec::new()
        }
    };
    let info = AudioInfo {
        format: ContainerFormat::Wav,
        sample_rate: format.rate,
        channels: format.channels as u16,
        frames: frames as u64,
    };
    Ok((info, samples))
}

/// Reads f32le samples into `out` (reserved by the caller), refusing NaN, infinities and
/// magnitudes above [`crate::MAX_SAMPLE_MAGNITUDE`]. The check rides along the conversion
/// (no second pass over a valid file); without `out` it only checks, since `inspect` must
/// refuse such files too.
fn float_samples(bytes: &[u8], out: Option<&mut Vec<f32>>) -> Result<(), AudioError> {
    let read = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let mut valid = true;
    match out {
        Some(out) => out.extend(bytes.chunks_exact(4).map(|b| {
            let x = read(b);
            valid &= in_range(x);
            x
        })),
        None => {
            valid = bytes
                .chunks_exact(4)
                .fold(true, |ok, b| ok & in_range(read(b)));
        }
    }
    if valid {
        Ok(())
    } else {
        Err(invalid_samples(
            bytes.chunks_exact(4).any(|b| !read(b).is_finite()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::encode::{ExportFormat, encode};
    use crate::memory::Lease;
    use crate::test_signals::speech_like;
    use crate::{Pcm, decode::run};

    /// The fast path must agree with symphonia sample for sample on everything it accepts.
    fn assert_same_as_symphonia(bytes: &[u8], what: &str) {
        let limits = DecodeLimits::default();
        let lease = Lease::unlimited();
        let fast = try_decode(bytes, &limits, Some(&lease))
            .unwrap_or_else(|| panic!("{what}: fast path declined"))
            .unwrap();
        let slow = run(
            Bytes::copy_from_slice(bytes),
            Some("wav"),
            &limits,
            Some(&lease),
        )
        .unwrap();
        assert_eq!(fast.0, slow.0, "{what}: info");
        assert_eq!(fast.1, slow.1, "{what}: samples");
    }

    fn pcm(channels: u16, frames: usize) -> Pcm {
        let mono = speech_like(16_000, frames);
        Pcm::new(
            16_000,
            channels,
            mono.iter()
                .flat_map(|&s| (0..channels).map(move |c| s * (1.0 - 0.2 * f32::from(c))))
                .collect(),
        )
    }

    #[test]
    fn agrees_with_symphonia_on_our_own_files() {
        for channels in [1, 2, 3, 8] {
            for format in [ExportFormat::Wav, ExportFormat::WavFloat] {
                let bytes = encode(&pcm(channels, 4_001), format).unwrap().bytes;
                assert_same_as_symphonia(&bytes, &format!("{format} x{channels}"));
            }
        }
    }

    #[test]
    fn skips_unknown_chunks_and_padding_and_reads_truncated_data() {
        let bytes = encode(&pcm(2, 3_000), ExportFormat::Wav).unwrap().bytes;
        // Insert an odd-sized JUNK chunk (padded to even) between fmt and data.
        let mut with_list = bytes[..36].to_vec();
        with_list.extend_from_slice(b"JUNK");
        with_list.extend_from_slice(&5u32.to_le_bytes());
        with_list.extend_from_slice(b"INFO!\0");
        with_list.extend_from_slice(&bytes[36..]);
        let riff = (with_list.len() - 8) as u32;
        with_list[4..8].copy_from_slice(&riff.to_le_bytes());
        assert_same_as_symphonia(&with_list, "JUNK chunk");
        // Truncated mid-frame: both stop at the last whole frame.
        assert_same_as_symphonia(&bytes[..bytes.len() - 3], "truncated");
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        let limits = DecodeLimits::default();
        let lease = Lease::unlimited();
        let keep = Some(&lease);
        let mut bytes = encode(&pcm(1, 100), ExportFormat::Wav).unwrap().bytes;
        assert!(try_decode(&bytes, &limits, keep).is_some());
        bytes[34] = 8; // 8-bit PCM: symphonia's job
        assert!(try_decode(&bytes, &limits, keep).is_none());
        assert!(try_decode(b"RIFF\0\0\0\0WAVE", &limits, keep).is_none());
        assert!(try_decode(b"not a wav file at all", &limits, keep).is_none());
        let mut streaming = encode(&pcm(1, 100), ExportFormat::Wav).unwrap().bytes;
        streaming[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(try_decode(&streaming, &limits, keep).is_none());
    }
}
