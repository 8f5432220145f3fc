//! FLAC (16-bit) with flacenc, plus the STREAMINFO fix symphonia needs to read it back.

use flacenc::bitsink::ByteSink;
use flacenc::component::BitRepr;
use flacenc::error::Verify;

use super::to_i16;
use crate::{AudioError, Pcm};

/// Byte offsets inside a native FLAC file: "fLaC" (4) + metadata block header (4), then
/// STREAMINFO starts with min block size (u16 BE) and max block size (u16 BE).
const MIN_BLOCK_SIZE: std::ops::Range<usize> = 8..10;
const MAX_BLOCK_SIZE: std::ops::Range<usize> = 10..12;

pub(super) fn encode(pcm: &Pcm) -> Result<Vec<u8>, AudioError> {
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| AudioError::encode("flac", format!("{e:?}")))?;
    let samples: Vec<i32> = pcm.samples.iter().map(|&s| i32::from(to_i16(s))).collect();
    let source = flacenc::source::MemSource::from_samples(
        &samples,
        usize::from(pcm.channels),
        16,
        pcm.sample_rate as usize,
    );
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| AudioError::encode("flac", format!("{e:?}")))?;
    let mut sink = ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| AudioError::encode("flac", format!("{e:?}")))?;
    let mut bytes = sink.into_inner();
    fix_min_block_size(&mut bytes);
    Ok(bytes)
}

/// flacenc records the short final block as STREAMINFO's minimum block size; the spec
/// excludes the last block from that field, and symphonia 0.6.1 refuses such files.
/// With a fixed block size, min = max is the truth.
fn fix_min_block_size(bytes: &mut [u8]) {
    if bytes.len() >= MAX_BLOCK_SIZE.end && bytes.starts_with(b"fLaC") {
        let max = [bytes[MAX_BLOCK_SIZE.start], bytes[MAX_BLOCK_SIZE.start + 1]];
        bytes[MIN_BLOCK_SIZE].copy_from_slice(&max);
    }
}
