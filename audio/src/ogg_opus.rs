//! Ogg Opus (RFC 7845) decoding with the `ogg` page reader and libopus, which symphonia
//! 0.6.1 cannot decode; same caps and never-panic rules as the symphonia path.
//!
//! Only channel mapping family 0 (mono/stereo) is accepted: it is what every Opus
//! encoder writes for speech, and it is what [`crate::encode`] writes.

use std::io::{Cursor, ErrorKind};

use bytes::Bytes;
use ogg::reading::{OggReadError, PacketReader};

use crate::decode::{AudioInfo, ContainerFormat, DecodeLimits, Keep, SampleBuffer, check_length};
use crate::memory::LeasedVec;
use crate::{AudioError, values};

/// Every Opus packet decodes to at most 120 ms; at 48 kHz that is 5760 frames.
const MAX_PACKET_FRAMES: usize = 5760;
/// Consecutive undecodable packets tolerated before the stream is declared broken.
const MAX_CONSECUTIVE_BAD_PACKETS: usize = 16;
/// Opus granule positions always count 48 kHz frames (RFC 7845 §4).
const GRANULE_RATE: u32 = 48_000;
/// Output rates libopus can decode to natively.
const OPUS_RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];

/// Whether `data` starts with an Ogg page whose first packet is an `OpusHead`.
pub(crate) fn looks_like_ogg_opus(data: &[u8]) -> bool {
    if data.len() < 27 || &data[..4] != b"OggS" {
        return false;
    }
    let body = 27 + usize::from(data[26]);
    data.get(body..body + 8) == Some(b"OpusHead".as_slice())
}

/// The identification header fields we use.
struct OpusHead {
    channels: usize,
    pre_skip: u64,
    input_rate: u32,
    gain_q8_db: i16,
}

fn parse_head(packet: &[u8]) -> Result<OpusHead, AudioError> {
    if packet.len() < 19 || &packet[..8] != b"OpusHead" {
        return Err(AudioError::Corrupt("missing OpusHead".into()));
    }
    // The high nibble is the major version: only 0 is defined; minor versions stay compatible.
    if packet[8] >> 4 != 0 {
        return Err(AudioError::Unsupported(format!(
            "Ogg Opus version {}",
            packet[8]
        )));
    }
    let channels = usize::from(packet[9]);
    let pre_skip = u64::from(u16::from_le_bytes([packet[10], packet[11]]));
    let input_rate = u32::from_le_bytes([packet[12], packet[13], packet[14], packet[15]]);
    let gain_q8_db = i16::from_le_bytes([packet[16], packet[17]]);
    let family = packet[18];
    if family != 0 {
        return Err(AudioError::Unsupported(format!(
            "Ogg Opus channel mapping family {family}"
        )));
    }
    if !(1..=2).contains(&channels) {
        return Err(AudioError::Corrupt(format!(
            "OpusHead claims {channels} channels for mapping family 0"
        )));
    }
    Ok(OpusHead {
        channels,
        pre_skip,
        input_rate,
        gain_q8_db,
    })
}

/// Decodes an Ogg Opus stream; `keep` false only measures it.
///
/// Decodes at the original input rate when libopus supports it natively (so a 24 kHz
/// TTS clip round-trips at 24 kHz), else at 48 kHz. Pre-skip is dropped and the end is
/// trimmed to the final granule position, so lengths are exact.
pub(crate) fn decode(
    data: Bytes,
    limits: &DecodeLimits,
    keep: Keep<'_>,
) -> Result<(AudioInfo, Vec<f32>), AudioError> {
    let mut reader = PacketReader::new(Cursor::new(data));
    let head_packet = match reader.read_packet() {
        Ok(Some(p)) => p,
        Ok(None) => return Err(AudioError::Corrupt("empty Ogg stream".into())),
        Err(e) => return Err(ogg_error(e)),
    };
    let serial = head_packet.stream_serial();
    let head = parse_head(&head_packet.data)?;
    let rate = if OPUS_RATES.contains(&head.input_rate) {
        head.input_rate
    } else {
        GRANULE_RATE
    };
    let per_48k = u64::from(GRANULE_RATE / rate);
    let channels_enum = if head.channels == 1 {
        opus::Channels::Mono
    } else {
        opus::Channels::Stereo
    };
    let mut decoder =
        opus::Decoder::new(rate, channels_enum).map_err(|e| AudioError::Corrupt(e.to_string()))?;
    let gain = 10f32.powf(f32::from(head.gain_q8_db) / (20.0 * 256.0));

    let mut skip = (head.pre_skip / per_48k) as usize;
    let mut frames: u64 = 0;
    let mut samples: Option<SampleBuffer<'_>> = keep.map(LeasedVec::new);
    let mut scratch = vec![0f32; MAX_PACKET_FRAMES * head.channels];
    let mut bad_packets = 0usize;
    let mut seen_tags = false;
    let mut end_granule: Option<u64> = None;
    loop {
        let packet = match reader.read_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated tail ends the stream; what decoded so far is the audio.
            Err(OggReadError::ReadError(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => {
                bad_packets += 1;
                if frames == 0 || bad_packets > MAX_CONSECUTIVE_BAD_PACKETS {
                    return Err(ogg_error(e));
                }
                continue;
            }
        };
        if packet.stream_serial() != serial {
            continue;
        }
        if !seen_tags {
            if !packet.data.starts_with(b"OpusTags") {
                return Err(AudioError::Corrupt("missing OpusTags".into()));
            }
            seen_tags = true;
            continue;
        }
        if packet.last_in_stream() {
            end_granule = Some(packet.absgp_page());
        }
        // An empty packet would ask libopus for loss concealment; it is not audio.
        if packet.data.is_empty() {
            continue;
        }
        let decoded = match decoder.decode_float(&packet.data, &mut scratch, false) {
            Ok(n) if n <= MAX_PACKET_FRAMES => n,
            Ok(_) | Err(_) => {
                bad_packets += 1;
                if bad_packets > MAX_CONSECUTIVE_BAD_PACKETS {
                    return Err(AudioError::Corrupt("undecodable Opus packets".into()));
                }
                continue;
            }
        };
        bad_packets = 0;
        let dropped = skip.min(decoded);
        skip -= dropped;
        let kept = decoded - dropped;
        frames += kept as u64;
        check_length(frames, rate, head.channels, limits, keep.is_some())?;
        let output = &mut scratch[dropped * head.channels..decoded * head.channels];
        for s in output.iter_mut() {
            *s *= gain;
        }
        // The header gain can reach +128 dB: checked after it, and when only measuring too.
        values::check(output)?;
        if let Some(samples) = samples.as_mut() {
            samples.reserve(output.len(), limits.max_decoded_samples)?;
            samples.vec_mut().extend_from_slice(output);
        }
        if packet.last_in_stream() {
            break;
        }
    }
    if let Some(granule) = end_granule {
        // The final granule counts 48 kHz frames including pre-skip; anything decoded past
        // it is encoder padding. A granule that claims *more* than we decoded is ignored.
        let valid = granule.saturating_sub(head.pre_skip).div_ceil(per_48k);
        if valid < frames {
            frames = valid;
            if let Some(samples) = samples.as_mut() {
                samples.vec_mut().truncate(valid as usize * head.channels);
            }
        }
    }
    if frames == 0 {
        return Err(AudioError::Corrupt("no audio could be decoded".into()));
    }
    let info = AudioInfo {
        format: ContainerFormat::Opus,
        sample_rate: rate,
        channels: head.channels as u16,
        frames,
    };
    Ok((info, samples.map(LeasedVec::into_held).unwrap_or_default()))
}

fn ogg_error(e: OggReadError) -> AudioError {
    match e {
        OggReadError::ReadError(io) if io.kind() == ErrorKind::UnexpectedEof => {
            AudioError::Corrupt("truncated Ogg stream".into())
        }
        other => AudioError::Corrupt(format!("Ogg: {other}")),
    }
}
