//! Incremental (streaming) encoders: interleaved f32 blocks in, bytes out as soon as the
//! format allows.
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
//! | `flac` | none | nothing (frames are encoded, and held) | the whole file |
//!
//! FLAC is not progressive: its STREAMINFO header (sizes, sample count, MD5) comes first
//! and is known only at the end, so the frames, encoded block by block as they fill, wait
//! for `finish`, which sends the header and then them.
//!
//! [`StreamEncoder::new`] streams mono; [`StreamEncoder::with_channels`] takes
//! interleaved audio of 1 to 8 channels (blocks need not hold whole frames: a frame split
//! between two pushes waits for its end). PCM, WAV and FLAC keep every channel; MP3, Opus
//! and AAC keep mono and stereo and mix more channels down to mono (as the one-shot
//! encoder does, though before resampling rather than after).
//!
//! AAC runs an `ffmpeg` subprocess per stream (see [`super::aac`]); a missing ffmpeg fails
//! [`StreamEncoder::new`] with [`AudioError::EncoderUnavailable`], before any byte is sent.
//! Dropping the encoder unfinished stops the subprocess.
//!
//! MP3, Opus and AAC need rates from a fixed menu; any other input rate is resampled inside
//! (a streaming version of [`crate::resample::resample`], the same samples within float
//! rounding), and [`StreamEncoder::sample_rate`] reports the rate written. Samples are
//! sanitised as the one-shot encoders do: clamped to `[-1, 1]` with NaN as 0 for integer
//! and lossy formats, non-finite values as 0 and magnitudes clamped to
//! ±[`crate::MAX_SAMPLE_MAGNITUDE`] for `wav32`.
//!
//! The same machinery, in file mode, backs [`super::FileEncoder`]: headers are written
//! with their final layout and corrected at the end, MP3 gets LAME's real Info tag and
//! Opus leaves page breaks to the Ogg writer, so that a file written piece by piece is
//! the one-shot encoder's file.

use std::ops::Deref;

use super::aac::AacProcess;
use super::flac::FlacWriter;
use super::mp3::Mp3Stream;
use super::opus::OpusStream;
use super::{ExportFormat, wav};
use crate::memory::{Lease, LeasedVec};
use crate::resample::StreamResampler;
use crate::{AudioError, MAX_CHANNELS, MAX_SAMPLE_RATE};

/// An audio stream being encoded block by block.
pub struct StreamEncoder {
    format: ExportFormat,
    /// Rate of the bytes written (differs from the input's when mp3/opus/aac resample).
    sample_rate: u32,
    /// Input channels (interleaved).
    channels: usize,
    /// Channels written.
    channels_out: u16,
    /// Whether this writes a file (final headers, see the module docs) or a live stream.
    file: bool,
    /// The start of a frame split between two pushes.
    partial: Vec<f32>,
    /// Input samples received, in whole frames.
    samples_in: usize,
    state: State,
}

/// Per-format state.
enum State {
    Pcm,
    Wav16,
    WavFloat,
    /// MP3, Opus or AAC: a frame encoder at its coded rate, behind a resampler when the
    /// input rate is not one it takes, and a mix to mono when the input has more than two
    /// channels (`mono` is that mix's buffer).
    Coded {
        encoder: Box<dyn FrameEncoder>,
        resampler: Option<Box<StreamResampler>>,
        downmix: bool,
        mono: Vec<f32>,
    },
    /// FLAC: frames encoded as blocks fill; a stream holds them (`held`) until `finish`
    /// can send the header first, a file writes them at once.
    Flac {
        writer: Box<FlacWriter>,
        held: Option<Vec<u8>>,
    },
}

impl std::fmt::Debug for StreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEncoder")
            .field("format", &self.format)
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// Where encoded bytes go: a plain vector, or one whose growth is reserved on a lease
/// before it happens ([`super::FileEncoder`]).
pub(super) trait ByteOut {
    /// The vector to append to, with room for `additional` more bytes.
    fn room(&mut self, additional: usize) -> Result<&mut Vec<u8>, AudioError>;
}

impl ByteOut for Vec<u8> {
    fn room(&mut self, additional: usize) -> Result<&mut Vec<u8>, AudioError> {
        self.reserve(additional);
        Ok(self)
    }
}

impl<L: Deref<Target = Lease>> ByteOut for LeasedVec<u8, L> {
    fn room(&mut self, additional: usize) -> Result<&mut Vec<u8>, AudioError> {
        self.reserve(additional, usize::MAX)?;
        Ok(self.vec_mut())
    }
}

/// Appends `bytes` to `out`.
pub(super) fn put(out: &mut dyn ByteOut, bytes: &[u8]) -> Result<(), AudioError> {
    out.room(bytes.len())?.extend_from_slice(bytes);
    Ok(())
}

/// The incremental codecs (MP3, Opus, AAC) as the stream drives them.
trait FrameEncoder: Send {
    /// Encodes interleaved whole frames at the coded rate; returns the bytes ready.
    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError>;
    /// Flushes and ends the codec stream.
    fn finish(self: Box<Self>) -> Result<Vec<u8>, AudioError>;
    /// Flushes and ends a file: the last bytes, and bytes to write over the file's start.
    fn finish_file(self: Box<Self>) -> Result<(Vec<u8>, Option<Vec<u8>>), AudioError> {
        Ok((self.finish()?, None))
    }
}

impl FrameEncoder for Mp3Stream {
    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        Mp3Stream::push(self, samples)
    }
    fn finish(self: Box<Self>) -> Result<Vec<u8>, AudioError> {
        Mp3Stream::finish(*self)
    }
    fn finish_file(self: Box<Self>) -> Result<(Vec<u8>, Option<Vec<u8>>), AudioError> {
        Mp3Stream::finish_file(*self)
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

impl StreamEncoder {
    /// Starts a stream in `format` at `sample_rate` Hz, mono. Returns the header bytes
    /// to send first (may be empty).
    /// AAC runs [`super::Encoders::default`]'s ffmpeg ([`super::Encoders::stream`] chooses).
    pub fn new(format: ExportFormat, sample_rate: u32) -> Result<(Self, Vec<u8>), AudioError> {
        Self::with_channels(format, sample_rate, 1)
    }

    /// Starts a stream of `channels` interleaved channels (1..=8) in `format` at
    /// `sample_rate` Hz. Returns the header bytes to send first (may be empty).
    pub fn with_channels(
        format: ExportFormat,
        sample_rate: u32,
        channels: u16,
    ) -> Result<(Self, Vec<u8>), AudioError> {
        Self::build(
            format,
            sample_rate,
            channels,
            false,
            &super::Encoders::default(),
        )
    }

    /// A stream, or in `file` mode the start of a file (see the module docs).
    pub(super) fn build(
        format: ExportFormat,
        sample_rate: u32,
        channels: u16,
        file: bool,
        encoders: &super::Encoders,
    ) -> Result<(Self, Vec<u8>), AudioError> {
        if sample_rate == 0 || sample_rate > MAX_SAMPLE_RATE {
            return Err(AudioError::InvalidPcm(format!(
                "sample rate {sample_rate} Hz"
            )));
        }
        if channels == 0 || usize::from(channels) > MAX_CHANNELS {
            return Err(AudioError::InvalidPcm(format!("{channels} channels")));
        }
        // The codecs with a channel limit take mono or stereo; more is mixed to mono.
        let coded_channels = if channels > 2 { 1 } else { channels };
        let coded = |encoder: Box<dyn FrameEncoder>, rate: u32| -> Result<State, AudioError> {
            Ok(State::Coded {
                encoder,
                resampler: if rate == sample_rate {
                    None
                } else {
                    Some(Box::new(StreamResampler::new(
                        sample_rate,
                        rate,
                        usize::from(coded_channels),
                    )?))
                },
                downmix: channels > 2,
                mono: Vec::new(),
            })
        };
        let mut rate = sample_rate;
        let mut channels_out = channels;
        let (state, header) = match format {
            ExportFormat::Pcm => (State::Pcm, Vec::new()),
            ExportFormat::Wav | ExportFormat::WavFloat => {
                let float = format == ExportFormat::WavFloat;
                let header = if file {
                    // The final header's layout; its sizes are written at the end.
                    wav::file_header(sample_rate, channels, float, 0)?
                } else {
                    wav::stream_header(sample_rate, channels, float)
                };
                let state = if float { State::WavFloat } else { State::Wav16 };
                (state, header)
            }
            ExportFormat::Flac => {
                let writer = Box::new(FlacWriter::new(sample_rate, channels)?);
                if file {
                    let header = writer.header()?;
                    (State::Flac { writer, held: None }, header)
                } else {
                    let held = Some(Vec::new());
                    (State::Flac { writer, held }, Vec::new())
                }
            }
            ExportFormat::Mp3 { bitrate_kbps } => {
                rate = Mp3Stream::coded_rate(sample_rate);
                channels_out = coded_channels;
                let encoder = if file {
                    Mp3Stream::for_file(rate, coded_channels, bitrate_kbps)?
                } else {
                    Mp3Stream::new(rate, coded_channels, bitrate_kbps)?
                };
                (coded(Box::new(encoder), rate)?, Vec::new())
            }
            ExportFormat::Opus { bitrate_kbps } => {
                rate = OpusStream::coded_rate(sample_rate);
                channels_out = coded_channels;
                let (encoder, header) = OpusStream::new(rate, coded_channels, bitrate_kbps, !file)?;
                (coded(Box::new(encoder), rate)?, header)
            }
            ExportFormat::Aac { bitrate_kbps } => {
                rate = AacProcess::coded_rate(sample_rate);
                channels_out = coded_channels;
                let encoder =
                    AacProcess::spawn(encoders.ffmpeg(), rate, coded_channels, bitrate_kbps)?;
                (coded(Box::new(encoder), rate)?, Vec::new())
            }
        };
        Ok((
            Self {
                format,
                sample_rate: rate,
                channels: usize::from(channels),
                channels_out,
                file,
                partial: Vec::new(),
                samples_in: 0,
                state,
            },
            header,
        ))
    }

    /// Encodes the next block (interleaved; a frame may be split between blocks);
    /// returns whatever bytes are ready (may be empty while an encoder buffers a frame).
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        let mut out = Vec::new();
        self.push_into(samples, &mut out)?;
        Ok(out)
    }

    /// [`StreamEncoder::push`], appending to `out`.
    pub(super) fn push_into(
        &mut self,
        samples: &[f32],
        out: &mut dyn ByteOut,
    ) -> Result<(), AudioError> {
        let ch = self.channels;
        let mut rest = samples;
        if !self.partial.is_empty() {
            let take = (ch - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.partial.len() < ch {
                return Ok(());
            }
            let frame = std::mem::take(&mut self.partial);
            self.push_frames(&frame, out)?;
        }
        let whole = rest.len() - rest.len() % ch;
        self.push_frames(&rest[..whole], out)?;
        self.partial.extend_from_slice(&rest[whole..]);
        Ok(())
    }

    /// Encodes interleaved whole frames.
    fn push_frames(&mut self, samples: &[f32], out: &mut dyn ByteOut) -> Result<(), AudioError> {
        // An empty push still polls a codec: AAC hands out what ffmpeg has written since.
        if samples.is_empty() && !matches!(self.state, State::Coded { .. }) {
            return Ok(());
        }
        self.samples_in += samples.len();
        if self.file && matches!(self.state, State::Wav16 | State::WavFloat) {
            // Fail as soon as the file could no longer carry its size, not at the end.
            let (bits, name) = match self.state {
                State::WavFloat => (32, "wav32"),
                _ => (16, "wav"),
            };
            wav::data_sizes(self.samples_in, self.channels_out, bits, name)?;
        }
        match &mut self.state {
            State::Pcm | State::Wav16 => wav::append_s16(out.room(samples.len() * 2)?, samples),
            State::WavFloat => wav::append_f32(out.room(samples.len() * 4)?, samples),
            State::Coded {
                encoder,
                resampler,
                downmix,
                mono,
            } => {
                let mut input = samples;
                if *downmix {
                    // `Pcm::into_mono`'s average, frame by frame.
                    let scale = 1.0 / self.channels as f32;
                    mono.clear();
                    mono.extend(
                        samples
                            .chunks_exact(self.channels)
                            .map(|frame| frame.iter().sum::<f32>() * scale),
                    );
                    input = mono.as_slice();
                }
                let bytes = match resampler {
                    Some(r) => encoder.push(&r.push(input)?)?,
                    None => encoder.push(input)?,
                };
                put(out, &bytes)?;
            }
            State::Flac { writer, held } => match held {
                Some(held) => writer.push(samples, held)?,
                None => writer.push(samples, out)?,
            },
        }
        Ok(())
    }

    /// Flushes and ends the stream; returns the last bytes.
    ///
    /// A stream that never received a sample still ends validly: a bare WAV header, an
    /// Ogg Opus stream with one silent packet whose granule says "no audio", an MP3 of
    /// LAME's flush, a FLAC with STREAMINFO only, or no bytes at all for AAC. A stream
    /// whose last frame is incomplete is refused ([`AudioError::InvalidPcm`]).
    pub fn finish(self) -> Result<Vec<u8>, AudioError> {
        let mut out = Vec::new();
        self.finish_into(&mut out)?;
        Ok(out)
    }

    /// [`StreamEncoder::finish`], appending to `out`; in file mode, returns the bytes to
    /// write over the start of the file (its final header), if any.
    pub(super) fn finish_into(self, out: &mut dyn ByteOut) -> Result<Option<Vec<u8>>, AudioError> {
        if !self.partial.is_empty() {
            return Err(AudioError::InvalidPcm(format!(
                "{} samples is not a whole number of {}-channel frames",
                self.samples_in + self.partial.len(),
                self.channels
            )));
        }
        match self.state {
            State::Pcm => Ok(None),
            State::Wav16 | State::WavFloat if self.file => {
                let float = matches!(self.state, State::WavFloat);
                let header =
                    wav::file_header(self.sample_rate, self.channels_out, float, self.samples_in)?;
                Ok(Some(header))
            }
            State::Wav16 | State::WavFloat => Ok(None),
            State::Coded {
                mut encoder,
                resampler,
                ..
            } => {
                if let Some(r) = resampler {
                    put(out, &encoder.push(&r.finish()?)?)?;
                }
                if self.file {
                    let (tail, patch) = encoder.finish_file()?;
                    put(out, &tail)?;
                    Ok(patch)
                } else {
                    put(out, &encoder.finish()?)?;
                    Ok(None)
                }
            }
            State::Flac { writer, held } => match held {
                Some(mut frames) => {
                    let header = writer.finish(&mut frames)?;
                    put(out, &header)?;
                    put(out, &frames)?;
                    Ok(None)
                }
                None => Ok(Some(writer.finish(out)?)),
            },
        }
    }

    /// Whether bytes come out progressively (false for a FLAC stream, which is sent at
    /// finish).
    pub fn is_progressive(&self) -> bool {
        !matches!(self.state, State::Flac { held: Some(_), .. })
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

    /// Channels written: the input's, except for mp3, opus and aac given more than two
    /// (then 1: they are mixed down).
    pub fn channels(&self) -> u16 {
        self.channels_out
    }
}
