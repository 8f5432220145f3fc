//! Streaming concatenation: [`super::concat`]'s timeline handed to a sink as it is
//! produced, so that memory holds one clip and one crossfade window instead of the whole
//! output (an hour of 48 kHz stereo is 1.4 GB of f32).
//!
//! The only output a later item can still change is the tail that the next clip may
//! crossfade into: at most `crossfade_ms` frames of the last clip, and only when the next
//! item is a clip with no pause before it. Everything before that tail goes to the sink
//! after each item (and in between, whenever the output buffer fills).
//!
//! Each clip is joined with the same arithmetic as `concat` (the helpers in the parent
//! module), in the same order over the same values, so the samples are bit-identical.
//! What differs is only where the values live: a clip is levelled in two passes (sum its
//! energy, then scale while copying) instead of copying it whole into the output first,
//! and clip conversions to the output channel count happen a chunk at a time.

use std::ops::Range;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use super::{
    COPY_CHUNK, Clip, ConcatOptions, ConcatReport, SilenceToken, StreamFormat, TimelineItem,
    clip_gain, crossfade, draw_pause, finish_report, format_of, new_report, overlap_frames,
    record_clip, record_silence,
};
use crate::loudness::sum_of_squares;
use crate::memory::{Lease, LeasedVec, Reservation};
use crate::{AudioError, Pcm, ms_to_frames, resample, trim, values};

/// Output samples buffered besides the crossfade window before the sink is called: large
/// enough that the sink is called rarely, small next to any clip.
const FLUSH_SAMPLES: usize = 1 << 16;

/// Frames of slack reserved on top of a resampled copy for the resampler's own padding
/// (its delay line and one partial chunk).
const RESAMPLE_SLACK_FRAMES: usize = 4 * 1024;

/// Silence, appended a chunk at a time.
static ZEROS: [f32; COPY_CHUNK] = [0.0; COPY_CHUNK];

/// Builds the same timeline as [`super::concat`] (same samples in the same order, same
/// report) but hands the samples to `sink` as they are produced, in chunks of any size,
/// at least once per item. Returns the output's rate and channels (as
/// [`super::timeline_format`] predicts) and the report.
///
/// Memory: each clip's samples are dropped as soon as the clip is joined, and
/// `pcm.samples.capacity() * 4` bytes are then released on `lease`: the caller reserved
/// them when decoding ([`crate::decode_within`] does). Clips that are never joined (an
/// error stops the timeline) are released too, so when this returns, however it returns,
/// the lease no longer holds any of `items`' clips. The work buffers (a resampled copy of
/// one clip, the crossfade window, the output not yet handed to the sink) are reserved on
/// `lease` before they are allocated and released once freed; a reservation the budget
/// refuses ends the timeline with [`AudioError::MemoryBusy`] or
/// [`AudioError::MemoryTooLarge`].
///
/// An error returned by `sink` stops the timeline and is returned as is.
pub fn concat_streaming(
    items: Vec<TimelineItem>,
    options: &ConcatOptions,
    lease: &Lease,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
) -> Result<(StreamFormat, ConcatReport), AudioError> {
    concat_streaming_with(items, options, lease, FLUSH_SAMPLES, sink)
}

/// [`concat_streaming`] with `flush` samples of output buffered besides the crossfade
/// window (tests use small values to move the sink boundaries around).
pub(super) fn concat_streaming_with(
    items: Vec<TimelineItem>,
    options: &ConcatOptions,
    lease: &Lease,
    flush: usize,
    sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
) -> Result<(StreamFormat, ConcatReport), AudioError> {
    // From here on every clip returns its reservation when dropped, on every path.
    let items: Vec<Held<'_>> = items
        .into_iter()
        .map(|item| match item {
            TimelineItem::Clip(Clip { label, pcm }) => Held::Clip(HeldClip { label, pcm, lease }),
            TimelineItem::Silence(token) => Held::Silence(token),
        })
        .collect();
    options.validate()?;
    // `concat` validates every clip before joining any: so do we, so that a bad clip
    // late in the list fails before any output is produced.
    for item in &items {
        if let Held::Clip(clip) = item {
            clip.pcm.validate()?;
        }
    }
    let clips = || {
        items.iter().filter_map(|item| match item {
            Held::Clip(clip) => Some(&clip.pcm),
            Held::Silence(_) => None,
        })
    };
    let format = format_of(clips())?;
    // The crossfade window: never longer than the longest clip, and none at all when
    // pauses separate every pair of clips.
    let longest = clips()
        .map(|pcm| resample::output_frames(pcm.frames(), pcm.sample_rate, format.sample_rate))
        .max()
        .unwrap_or(0);
    let window = if options.pause_duration_ms > 0 {
        0
    } else {
        ms_to_frames(f64::from(options.crossfade_ms), format.sample_rate).min(longest)
    };
    let next_is_clip: Vec<bool> = items
        .iter()
        .skip(1)
        .map(|item| matches!(item, Held::Clip(_)))
        .chain([false])
        .collect();

    let mut joiner = StreamJoiner::new(
        format,
        options,
        lease,
        window * usize::from(format.channels) + flush,
    )?;
    for (item, next_is_clip) in items.into_iter().zip(next_is_clip) {
        match item {
            Held::Silence(token) => joiner.silence(token, sink)?,
            Held::Clip(clip) => {
                joiner.clip(clip, next_is_clip, sink)?;
                if options.pause_duration_ms > 0 && next_is_clip {
                    joiner.pause(sink)?;
                }
            }
        }
        joiner.end_item(sink)?;
    }
    Ok((format, joiner.finish(sink)?))
}

/// A timeline item whose clip returns its reservation when dropped.
enum Held<'l> {
    Clip(HeldClip<'l>),
    Silence(SilenceToken),
}

/// A clip whose `capacity * 4` bytes the caller reserved on `lease`.
struct HeldClip<'l> {
    label: String,
    pcm: Pcm,
    lease: &'l Lease,
}

impl Drop for HeldClip<'_> {
    fn drop(&mut self) {
        self.lease.release(self.pcm.samples.capacity() as u64 * 4);
    }
}

/// Where a clip's samples at the output rate come from.
enum Source<'s> {
    /// Already at the output channel count.
    Direct(&'s [f32]),
    /// At another channel count: averaged to mono and duplicated, as
    /// [`Pcm::into_channels`] does. `sanitize_first` when `concat` sanitises before
    /// converting (its same-rate path goes through `resample`, which sanitises).
    Mix {
        samples: &'s [f32],
        channels: usize,
        sanitize_first: bool,
    },
}

impl Source<'_> {
    fn frames(&self, channels: usize) -> usize {
        match self {
            Self::Direct(samples) => samples.len() / channels,
            Self::Mix {
                samples, channels, ..
            } => samples.len() / channels,
        }
    }

    /// Appends frames `range` at `out_channels` channels to `out`, not yet sanitised.
    fn convert_into(&self, range: Range<usize>, out_channels: usize, out: &mut Vec<f32>) {
        match *self {
            Self::Direct(samples) => {
                out.extend_from_slice(
                    &samples[range.start * out_channels..range.end * out_channels],
                );
            }
            Self::Mix {
                samples,
                channels,
                sanitize_first,
            } => {
                let scale = 1.0 / channels as f32;
                let clean = |x: f32| {
                    if sanitize_first {
                        values::sanitize(x)
                    } else {
                        x
                    }
                };
                for frame in
                    samples[range.start * channels..range.end * channels].chunks_exact(channels)
                {
                    // `Pcm::into_mono` leaves mono as it is and sums the rest in order.
                    let value = if channels == 1 {
                        clean(frame[0])
                    } else {
                        frame.iter().map(|&x| clean(x)).sum::<f32>() * scale
                    };
                    out.extend(std::iter::repeat_n(value, out_channels));
                }
            }
        }
    }
}

/// The output not yet handed to the sink.
struct Pending<'l> {
    buf: LeasedVec<f32, &'l Lease>,
    /// Samples handed to the sink so far.
    emitted: usize,
}

impl Pending<'_> {
    /// Appends `chunk`, the current item's output followed by `after` more samples of it,
    /// of which the last `keep` must stay here. When the buffer is full, everything before
    /// that tail goes to the sink first, so the buffer never grows past its reservation
    /// (the tail is at most the crossfade window).
    fn push(
        &mut self,
        chunk: &[f32],
        after: usize,
        keep: usize,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        let len = self.buf.as_slice().len();
        if len + chunk.len() > self.buf.vec_mut().capacity() {
            let end = len + chunk.len() + after;
            self.emit(end.saturating_sub(keep).min(len), sink)?;
        }
        // Never grows by construction; if it had to, the growth would be reserved.
        self.buf.reserve_exact(chunk.len())?;
        self.buf.vec_mut().extend_from_slice(chunk);
        Ok(())
    }

    /// Hands all but the last `keep` samples to the sink.
    fn flush(
        &mut self,
        keep: usize,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        let len = self.buf.as_slice().len();
        self.emit(len.saturating_sub(keep), sink)
    }

    fn emit(
        &mut self,
        n: usize,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        if n == 0 {
            return Ok(());
        }
        sink(&self.buf.as_slice()[..n])?;
        self.buf.vec_mut().drain(..n);
        self.emitted += n;
        Ok(())
    }

    /// The last `n` samples (the crossfade tail).
    fn tail_mut(&mut self, n: usize) -> Result<&mut [f32], AudioError> {
        let buf = self.buf.vec_mut();
        let start = buf.len().checked_sub(n).ok_or_else(|| {
            AudioError::InvalidPcm("internal: the crossfade tail was not kept".into())
        })?;
        Ok(&mut buf[start..])
    }
}

/// The streaming counterpart of `concat`'s joiner.
struct StreamJoiner<'a, 'l> {
    rate: u32,
    channels: usize,
    options: &'a ConcatOptions,
    lease: &'l Lease,
    rng: ChaCha8Rng,
    pending: Pending<'l>,
    /// One chunk of the clip being joined, converted and levelled.
    scratch: LeasedVec<f32, &'l Lease>,
    /// Samples at the end of `pending` that the next item may still crossfade into.
    keep: usize,
    /// Frames of the previous item when it was a clip directly before (crossfade candidate).
    previous_clip_frames: Option<usize>,
    /// Frames of the result so far (handed to the sink or pending).
    position: usize,
    /// Where the clip joined last starts in the result, in frames.
    clip_start: usize,
    report: ConcatReport,
}

impl<'a, 'l> StreamJoiner<'a, 'l> {
    /// Reserves the output buffer (`capacity` samples: the crossfade window and what is
    /// buffered besides) and the chunk buffer.
    fn new(
        format: StreamFormat,
        options: &'a ConcatOptions,
        lease: &'l Lease,
        capacity: usize,
    ) -> Result<Self, AudioError> {
        let channels = usize::from(format.channels);
        let mut buf = LeasedVec::new(lease);
        buf.reserve_exact(capacity)?;
        let mut scratch = LeasedVec::new(lease);
        scratch.reserve_exact(COPY_CHUNK)?;
        Ok(Self {
            rate: format.sample_rate,
            channels,
            options,
            lease,
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            pending: Pending { buf, emitted: 0 },
            scratch,
            keep: 0,
            previous_clip_frames: None,
            position: 0,
            clip_start: 0,
            report: new_report(options),
        })
    }

    fn silence(
        &mut self,
        token: SilenceToken,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        self.zeros(token.duration_ms, sink)?;
        record_silence(&mut self.report, token);
        self.previous_clip_frames = None;
        Ok(())
    }

    fn pause(
        &mut self,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        let duration_ms = draw_pause(&mut self.rng, self.options, &mut self.report);
        self.zeros(duration_ms, sink)?;
        self.previous_clip_frames = None;
        Ok(())
    }

    fn zeros(
        &mut self,
        ms: u32,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        self.keep = 0;
        self.position += ms_to_frames(f64::from(ms), self.rate);
        let mut left = ms_to_frames(f64::from(ms), self.rate) * self.channels;
        while left > 0 {
            let n = left.min(COPY_CHUNK);
            left -= n;
            self.pending.push(&ZEROS[..n], left, 0, sink)?;
        }
        Ok(())
    }

    /// Trims, converts and joins one clip, then drops it (returning its reservation).
    fn clip(
        &mut self,
        mut clip: HeldClip<'l>,
        next_is_clip: bool,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        let (kept, trim_info) = if self.options.trim {
            let (kept, info) = trim::plan(&clip.pcm, self.options.trim_threshold_ms)?;
            (kept, Some(info))
        } else {
            (0..clip.pcm.frames(), None)
        };
        let label = std::mem::take(&mut clip.label);
        let (rate, channels) = (clip.pcm.sample_rate, usize::from(clip.pcm.channels));
        let frames = kept.len();
        if rate == self.rate {
            let samples = &clip.pcm.samples[kept.start * channels..kept.end * channels];
            let source = if channels == self.channels {
                Source::Direct(samples)
            } else {
                Source::Mix {
                    samples,
                    channels,
                    sanitize_first: true,
                }
            };
            self.append(&source, next_is_clip, sink)?;
            drop(clip);
        } else {
            // The clip is ours: trimming in place needs no copy, and sanitising in place
            // lets `resample` borrow the samples instead of copying them (it resamples
            // the same values either way, so the output is `concat`'s).
            clip.pcm.samples.truncate(kept.end * channels);
            clip.pcm.samples.drain(..kept.start * channels);
            values::sanitize_in_place(&mut clip.pcm.samples);
            let out_frames = resample::output_frames(frames, rate, self.rate)
                + resample::output_frames(RESAMPLE_SLACK_FRAMES, rate, self.rate);
            let reservation = Reservation::new(self.lease, (out_frames * channels * 4) as u64)?;
            let resampled = resample::resample(&clip.pcm, self.rate)?;
            // The source is no longer needed: free it before joining the copy.
            drop(clip);
            let source = if channels == self.channels {
                Source::Direct(&resampled.samples)
            } else {
                Source::Mix {
                    samples: &resampled.samples,
                    channels,
                    sanitize_first: false,
                }
            };
            self.append(&source, next_is_clip, sink)?;
            drop(resampled);
            drop(reservation);
        }
        let start_seconds = self.clip_start as f64 / f64::from(self.rate);
        record_clip(
            &mut self.report,
            label,
            frames,
            rate,
            start_seconds,
            trim_info,
        );
        Ok(())
    }

    /// Joins a clip at the output rate: crossfades its head into the kept tail, levels
    /// it, and pushes the body, keeping the new tail when the next item may crossfade.
    fn append(
        &mut self,
        source: &Source<'_>,
        next_is_clip: bool,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        let ch = self.channels;
        let frames = source.frames(ch);
        let overlap = overlap_frames(self.previous_clip_frames, self.options, self.rate, frames);
        self.clip_start = self.position - overlap;
        self.position = self.clip_start + frames;
        let mut head = LeasedVec::new(self.lease);
        head.reserve_exact(overlap * ch)?;
        source.convert_into(0..overlap, ch, head.vec_mut());
        values::sanitize_in_place(head.vec_mut());
        let step = COPY_CHUNK / ch;
        let body = || {
            (overlap..frames)
                .step_by(step)
                .map(move |at| at..(at + step).min(frames))
        };

        // Pass 1: the level, summed exactly as `concat` sums it (head whole, then the body
        // in the same chunks), over the same sanitised values.
        let gain = if self.options.normalize_levels {
            let mut energy = sum_of_squares(head.as_slice());
            for range in body() {
                energy += match source {
                    Source::Direct(samples) => sum_of_squares(&values::sanitized(
                        &samples[range.start * ch..range.end * ch],
                    )),
                    Source::Mix { .. } => {
                        let scratch = self.scratch.vec_mut();
                        scratch.clear();
                        source.convert_into(range, ch, scratch);
                        values::sanitize_in_place(scratch);
                        sum_of_squares(scratch)
                    }
                };
            }
            clip_gain(energy, frames * ch, self.options)
        } else {
            1.0
        };

        // Pass 2: crossfade into the tail kept from the previous clip, then the body.
        crossfade(
            self.pending.tail_mut(overlap * ch)?,
            head.as_slice(),
            gain,
            ch,
        );
        drop(head);
        let keep = if next_is_clip && self.options.pause_duration_ms == 0 {
            overlap_frames(Some(frames), self.options, self.rate, usize::MAX) * ch
        } else {
            0
        };
        let mut after = (frames - overlap) * ch;
        for range in body() {
            let scratch = self.scratch.vec_mut();
            scratch.clear();
            source.convert_into(range, ch, scratch);
            values::sanitize_in_place(scratch);
            if gain != 1.0 {
                for s in scratch.iter_mut() {
                    *s *= gain;
                }
            }
            after -= scratch.len();
            self.pending
                .push(self.scratch.as_slice(), after, keep, sink)?;
        }
        self.keep = keep;
        self.previous_clip_frames = Some(frames);
        Ok(())
    }

    /// Hands everything but the crossfade tail to the sink.
    fn end_item(
        &mut self,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<(), AudioError> {
        self.pending.flush(self.keep, sink)
    }

    fn finish(
        mut self,
        sink: &mut dyn FnMut(&[f32]) -> Result<(), AudioError>,
    ) -> Result<ConcatReport, AudioError> {
        self.pending.flush(0, sink)?;
        finish_report(
            &mut self.report,
            self.pending.emitted / self.channels,
            self.rate,
        );
        Ok(self.report)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
