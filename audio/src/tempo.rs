//! Pitch-preserving time stretch for speech (WSOLA), `speed_factor` 0.25..=4.0.
//!
//! Waveform-similarity overlap-add: the output is built from 30 ms Hann-windowed
//! frames laid every 15 ms; frame `k` is read from the input near `k * 15 ms * speed`,
//! shifted by up to ±12.5 ms (more than one pitch period at 80 Hz) to the offset whose
//! waveform best continues the previous frame. Because every frame is copied, not
//! resynthesised, pitch and timbre are untouched and there is no phase-vocoder
//! "phasiness"; because the nominal read positions follow a fixed grid, the time
//! mapping never drifts and the output is exactly `round(frames / speed)` long.
//!
//! Speed comes from a two-stage search: normalised cross-correlation of one frame on a
//! ~4 kHz (box-filtered, decimated) copy over the whole tolerance, then a full-rate
//! refinement of the overlapping half-frame within ±one decimation step of the winner.
//! Stereo (and any channel count) uses one alignment computed on the channel sum, so
//! channels stay phase-locked.

use crate::{AudioError, Pcm, values};

/// Slowest allowed factor (4x longer).
pub const MIN_SPEED: f64 = 0.25;
/// Fastest allowed factor (4x shorter).
pub const MAX_SPEED: f64 = 4.0;

/// Output frame length (two synthesis hops).
const FRAME_MS: f64 = 30.0;
/// Search tolerance each side of the nominal read position.
const TOLERANCE_MS: f64 = 12.5;
/// The coarse search runs at about this rate.
const COARSE_RATE: u32 = 4_000;

/// Checks `speed_factor` against 0.25..=4.0 (NaN is refused too).
pub fn validate_speed(speed: f64) -> Result<(), AudioError> {
    if (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        Ok(())
    } else {
        Err(AudioError::param(
            "speed_factor",
            format!("{speed} is outside 0.25..=4.0"),
        ))
    }
}

/// The output length for `frames` input frames: `round(frames / speed)`.
pub fn output_frames(frames: usize, speed: f64) -> usize {
    (frames as f64 / speed).round() as usize
}

/// Changes tempo by `speed` (2.0 = twice as fast, half as long) keeping pitch.
///
/// Exactly 1.0 returns the input unchanged. Non-finite samples are treated as silence and
/// magnitudes clamped to ±[`crate::MAX_SAMPLE_MAGNITUDE`] (at every speed, 1.0 included),
/// so one bad sample cannot turn the overlap-added output into NaN.
pub fn change_speed(mut pcm: Pcm, speed: f64) -> Result<Pcm, AudioError> {
    validate_speed(speed)?;
    pcm.validate()?;
    values::sanitize_in_place(&mut pcm.samples);
    if speed == 1.0 || pcm.frames() == 0 {
        return Ok(Pcm {
            samples: if speed == 1.0 {
                pcm.samples
            } else {
                Vec::new()
            },
            ..pcm
        });
    }
    let plan = Plan::new(pcm.sample_rate, speed);
    let channels = usize::from(pcm.channels);
    let frames = pcm.frames();
    let rate = pcm.sample_rate;
    // Mono (the TTS case) works on the input buffer itself: no de-interleaving copy.
    let planes: Vec<Vec<f32>> = if channels == 1 {
        vec![plan.padded(pcm.samples)]
    } else {
        (0..channels).map(|c| plan.padded(pcm.channel(c))).collect()
    };
    let summed;
    let guide = if channels == 1 {
        &planes[0]
    } else {
        summed = sum_planes(&planes);
        &summed
    };
    let positions = plan.align(guide, frames);
    let target = output_frames(frames, speed);
    let out: Vec<Vec<f32>> = planes
        .iter()
        .map(|p| plan.overlap_add(p, &positions, target))
        .collect();
    Ok(Pcm::from_channels(rate, out))
}

fn sum_planes(planes: &[Vec<f32>]) -> Vec<f32> {
    let mut sum = planes[0].clone();
    for plane in &planes[1..] {
        for (s, x) in sum.iter_mut().zip(plane) {
            *s += x;
        }
    }
    sum
}

/// Frame geometry for one (rate, speed) pair.
struct Plan {
    speed: f64,
    /// Synthesis hop; the frame is two hops long.
    hop: usize,
    tolerance: usize,
    decimation: usize,
    window: Vec<f32>,
}

impl Plan {
    fn new(rate: u32, speed: f64) -> Self {
        let hop = ((FRAME_MS / 2000.0 * f64::from(rate)).round() as usize).max(8);
        let tolerance = ((TOLERANCE_MS / 1000.0 * f64::from(rate)).round() as usize).max(2);
        let decimation = (rate / COARSE_RATE).max(1) as usize;
        // Periodic Hann: two copies offset by `hop` sum to exactly one.
        let len = 2 * hop;
        let window = (0..len)
            .map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / len as f64).cos()) as f32)
            .collect();
        Self {
            speed,
            hop,
            tolerance,
            decimation,
            window,
        }
    }

    fn frame(&self) -> usize {
        2 * self.hop
    }

    /// Zero padding after the signal, so every read in `align`/`overlap_add` is in
    /// bounds: the last nominal position is at most one analysis hop (<= 2 frames) past
    /// the end, plus tolerance, plus a frame read, plus the continuation template.
    fn padded(&self, mut x: Vec<f32>) -> Vec<f32> {
        x.resize(x.len() + self.padding(), 0.0);
        x
    }

    fn padding(&self) -> usize {
        4 * self.frame() + self.tolerance + self.hop + self.decimation
    }

    /// Chooses each output frame's read position in the (padded) input.
    fn align(&self, x: &[f32], frames: usize) -> Vec<usize> {
        let target = output_frames(frames, self.speed);
        let count = target.div_ceil(self.hop).max(1);
        let frame = self.frame();
        let f = self.decimation;
        let max_start = x.len() - frame - self.hop - f;
        // A box average is a crude but sufficient anti-alias filter for locating the best
        // pitch-period offset to within one coarse step.
        let scale = 1.0 / f as f32;
        let coarse: Vec<f32> = x.chunks(f).map(|c| c.iter().sum::<f32>() * scale).collect();
        let coarse_len = (frame / f).max(1);
        let mut positions = Vec::with_capacity(count);
        positions.push(0usize);
        for k in 1..count {
            let nominal = ((k * self.hop) as f64 * self.speed).round() as usize;
            let lo = nominal.saturating_sub(self.tolerance);
            let hi = (nominal + self.tolerance).min(max_start);
            if lo >= hi {
                positions.push(nominal.min(max_start));
                continue;
            }
            // The natural continuation of the previous frame is what this frame's start
            // must resemble for the overlap to add up seamlessly.
            let template = positions[k - 1] + self.hop;
            let t = template / f;
            let (c_lo, c_hi) = (lo.div_ceil(f), (hi / f).max(lo.div_ceil(f)));
            let rough =
                best_match(&coarse[t..t + coarse_len], &coarse, c_lo, c_hi, nominal / f) * f;
            // Refine at full rate around the coarse winner. Only the overlapping half
            // (one hop) has to line up, so that is what is compared.
            let fine_lo = rough.saturating_sub(f).max(lo);
            let fine_hi = (rough + f).min(hi).max(fine_lo);
            positions.push(best_match(
                &x[template..template + self.hop],
                x,
                fine_lo,
                fine_hi,
                nominal,
            ));
        }
        positions
    }

    /// Windowed overlap-add of the chosen input frames, cut to exactly `target` frames.
    fn overlap_add(&self, x: &[f32], positions: &[usize], target: usize) -> Vec<f32> {
        let frame = self.frame();
        let mut out = vec![0f32; positions.len() * self.hop + frame];
        for (k, &p) in positions.iter().enumerate() {
            let dst = &mut out[k * self.hop..k * self.hop + frame];
            let src = &x[p..p + frame];
            if k == 0 {
                // Nothing overlaps the first half of the first frame: copy it flat so the
                // output does not fade in.
                dst[..self.hop].copy_from_slice(&src[..self.hop]);
                for ((d, s), w) in dst[self.hop..]
                    .iter_mut()
                    .zip(&src[self.hop..])
                    .zip(&self.window[self.hop..])
                {
                    *d += s * w;
                }
            } else {
                for ((d, s), w) in dst.iter_mut().zip(src).zip(&self.window) {
                    *d += s * w;
                }
            }
        }
        out.truncate(target);
        out
    }
}

/// The start in `[lo, hi]` whose window best matches `reference` by normalised
/// cross-correlation (energy slid along the candidates); ties go to the candidate nearest
/// `prefer`, so silence keeps the nominal grid instead of jittering.
fn best_match(reference: &[f32], x: &[f32], lo: usize, hi: usize, prefer: usize) -> usize {
    let len = reference.len();
    let mut energy: f64 = x[lo..lo + len]
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    let mut best = lo;
    let mut best_score = f32::MIN;
    for c in lo..=hi {
        if c > lo {
            let (out, inc) = (f64::from(x[c - 1]), f64::from(x[c + len - 1]));
            energy += inc * inc - out * out;
        }
        let score = if energy > 1e-12 {
            dot(reference, &x[c..c + len]) / (energy as f32).sqrt()
        } else {
            0.0
        };
        if score > best_score || (score == best_score && c.abs_diff(prefer) < best.abs_diff(prefer))
        {
            best_score = score;
            best = c;
        }
    }
    best
}

/// Dot product with eight independent accumulators so the compiler can vectorise it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests;
