//! Incremental (streaming) encoders: mono f32 blocks in, bytes out as soon as the format allows.
//!
//! A TTS stream synthesises sentence by sentence; [`StreamEncoder`] turns each block into
//! the bytes that can be sent now, so a client starts playing before the last sentence
//! exists. Every format reuses its one-shot encoder's pieces (header writer, sample
//! conversion, codec setup), so a stream and a file of the same audio agree:
//!
//! | format | header from [`StreamEncoder::new`] | per [`StreamEncoder::push`] | [`StreamEncoder::finish`] |
//! |---|---|---|---|
//! | `pcm` | none | the block as s16le | nothing |
//! | `wav` / `wav32` | RIFF header, sizes `0xFFFFFFFF` | the block as s16le / f32le | nothing |
//! | `mp3` | none | the frames LAME completed | the flushed last frames |
//! | `opus` | OpusHead + OpusTags pages | pages of the whole 20 ms frames | remainder + end-of-stream page |
//! | `aac` | none (ffmpeg is started) | the ADTS frames ffmpeg has written so far | the remaining frames |
//! | `flac` | none | nothing (buffered) | the whole file |
//!
//! FLAC is not progressive: flacenc encodes a complete source in one call and writes
//! STREAMINFO (whose block-size fields symphonia needs corrected, see the one-shot
//! encoder) only once the whole stream is known, so it is encoded at `finish`.
//!
//! AAC runs an `ffmpeg` subprocess per stream (see [`super::aac`]); a missing ffmpeg fails
//! [`StreamEncoder::new`] with [`AudioError::EncoderUnavailable`], before any byte is sent.
//! Dropping the encoder unfinished stops the subprocess.
//!
//! MP3, Opus and AAC need rates from a fixed menu; any other input rate is resampled inside
//! (a streaming version of [`crate::resample::resample`], sample-for-sample the same),
//! and [`StreamEncoder::sample_rate`] reports the rate written. Samples are sanitised as
//! the one-shot encoders do: clamped to `[-1, 1]` with NaN as 0 for integer and lossy
//! formats, non-finite values as 0 and magnitudes clamped to
//! ±[`crate::MAX_SAMPLE_MAGNITUDE`] for `wav32`.

use super::aac::{self, AacProcess};
use super::mp3::Mp3Stream;
use super::opus::OpusStream;
use super::{ExportFormat, flac, wav};
use crate::resample::StreamResampler;
use crate::{AudioError, MAX_SAMPLE_RATE, Pcm};

/// A mono audio stream being encoded block by block.
pub struct StreamEncoder {
    format: ExportFormat,
    /// Rate of the bytes written (differs from the input's when mp3/opus/aac resample).
    sample_rate: u32,
    /// Input rate, for the buffered FLAC.
    input_rate: u32,
    state: State,
}

/// Per-format state.
enum State {
    Pcm,
    Wav16,
    WavFloat,
    /// MP3, Opus or AAC: a frame encoder at its coded rate, behind a resampler when the
    /// input rate is not one it takes.
    Coded {
        encoder: Box<dyn FrameEncoder>,
        resampler: Option<Box<StreamResampler>>,
    },
    Flac {
        samples: Vec<f32>,
    },
}

impl std::fmt::Debug for StreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEncoder")
            .field("format", &self.format)
            .field("sample_rate", &self.sample_rate)
            .finish_non_exhaustive()
    }
}

/// The incremental codecs (MP3, Opus, AAC) as the stream drives them.
trait FrameEncoder: Send {
    /// Encodes samples at the coded rate; returns the bytes ready.
    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError>;
    /// Flushes and ends the codec stream.
    fn finish(self: Box<Self>) -> Result<Vec<u8>, AudioError>;
}

impl FrameEncoder for Mp3Stream {
    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        Mp3Stream::push(self, samples)
    }
    fn finish(self: Box<Self>) -> Result<Vec<u8>, AudioError> {
        Mp3Stream::finish(*self)
    }
}

impl FrameEncoder for OpusStream {
    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        OpusStream::push(self, samples)
    }
    fn finish(self: Box<Self>) -> Result<Vec<u8>, AudioError> {
        OpusStream::finish(*self)
    }
}

impl FrameEncoder for AacProcess {
    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        AacProcess::push(self, samples)
    }
    fn finish(self: Box<Self>) -> Result<Vec<u8>, AudioError> {
        AacProcess::finish(*self)
    }
}

/// A resampler from `from` to `to`, or none when they match.
fn resampler_for(from: u32, to: u32) -> Result<Option<Box<StreamResampler>>, AudioError> {
    if from == to {
        Ok(None)
    } else {
        Ok(Some(Box::new(StreamResampler::new(from, to, 1)?)))
    }
}

/// The state of a frame codec fed at `coded_rate` from input at `input_rate`.
fn coded(
    encoder: Box<dyn FrameEncoder>,
    input_rate: u32,
    coded_rate: u32,
) -> Result<State, AudioError> {
    Ok(State::Coded {
        encoder,
        resampler: resampler_for(input_rate, coded_rate)?,
    })
}

/// Runs `samples` through `resampler` when there is one.
fn conform<'a>(
    resampler: &mut Option<Box<StreamResampler>>,
    samples: &'a [f32],
) -> Result<std::borrow::Cow<'a, [f32]>, AudioError> {
    match resampler {
        Some(r) => Ok(std::borrow::Cow::Owned(r.push(samples)?)),
        None => Ok(std::borrow::Cow::Borrowed(samples)),
    }
}

impl StreamEncoder {
    /// Starts a stream in `format` at `sample_rate` Hz, mono. Returns the header bytes
    /// to send first (may be empty).
    pub fn new(format: ExportFormat, sample_rate: u32) -> Result<(Self, Vec<u8>), AudioError> {
        if sample_rate == 0 || sample_rate > MAX_SAMPLE_RATE {
            return Err(AudioError::InvalidPcm(format!(
                "sample rate {sample_rate} Hz"
            )));
        }
        let mut rate = sample_rate;
        let (state, header) = match format {
            ExportFormat::Pcm => (State::Pcm, Vec::new()),
            ExportFormat::Wav => (State::Wav16, wav::stream_header(sample_rate, false)),
            ExportFormat::WavFloat => (State::WavFloat, wav::stream_header(sample_rate, true)),
            ExportFormat::Flac => (
                State::Flac {
                    samples: Vec::new(),
                },
                Vec::new(),
            ),
            ExportFormat::Mp3 { bitrate_kbps } => {
                rate = Mp3Stream::coded_rate(sample_rate);
                let encoder: Box<dyn FrameEncoder> = Box::new(Mp3Stream::new(rate, bitrate_kbps)?);
                (coded(encoder, sample_rate, rate)?, Vec::new())
            }
            ExportFormat::Opus { bitrate_kbps } => {
                rate = OpusStream::coded_rate(sample_rate);
                let (encoder, header) = OpusStream::new(rate, bitrate_kbps)?;
                (coded(Box::new(encoder), sample_rate, rate)?, header)
            }
            ExportFormat::Aac { bitrate_kbps } => {
                rate = AacProcess::coded_rate(sample_rate);
                let encoder = AacProcess::spawn(&aac::ffmpeg_path(), rate, 1, bitrate_kbps)?;
                (coded(Box::new(encoder), sample_rate, rate)?, Vec::new())
            }
        };
        Ok((
            Self {
                format,
                sample_rate: rate,
                input_rate: sample_rate,
                state,
            },
            header,
        ))
    }

    /// Encodes the next block; returns whatever bytes are ready (may be empty while an
    /// encoder buffers a frame).
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        match &mut self.state {
            State::Pcm | State::Wav16 => {
                let mut out = Vec::with_capacity(samples.len() * 2);
                wav::append_s16(&mut out, samples);
                Ok(out)
            }
            State::WavFloat => {
                let mut out = Vec::with_capacity(samples.len() * 4);
                wav::append_f32(&mut out, samples);
                Ok(out)
            }
            State::Coded { encoder, resampler } => encoder.push(&conform(resampler, samples)?),
            State::Flac { samples: buffer } => {
                buffer.extend_from_slice(samples);
                Ok(Vec::new())
            }
        }
    }

    /// Flushes and ends the stream; returns the last bytes.
    ///
    /// A stream that never received a sample still ends validly: a bare WAV header, an
    /// Ogg Opus stream with one silent packet whose granule says "no audio", an MP3 of
    /// LAME's flush, a FLAC with STREAMINFO only, or no bytes at all for AAC.
    pub fn finish(self) -> Result<Vec<u8>, AudioError> {
        match self.state {
            State::Pcm | State::Wav16 | State::WavFloat => Ok(Vec::new()),
            State::Coded {
                mut encoder,
                resampler,
            } => {
                let mut out = match resampler {
                    Some(r) => encoder.push(&r.finish()?)?,
                    None => Vec::new(),
                };
                out.extend(encoder.finish()?);
                Ok(out)
            }
            State::Flac { samples } => flac::encode(&Pcm::mono(self.input_rate, samples)),
        }
    }

    /// Whether bytes come out progressively (false for FLAC, which is encoded at finish).
    pub fn is_progressive(&self) -> bool {
        !matches!(self.state, State::Flac { .. })
    }

    /// The format being written.
    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// The sample rate of the bytes written: the input rate, except for mp3, opus and aac
    /// when the input rate is not one the codec takes (then the rate resampled to).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Channels written: always 1 (the stream is mono).
    pub fn channels(&self) -> u16 {
        1
    }
}
