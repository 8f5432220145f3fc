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
//! Speed comes from a two-stage search: normalised cross-correlation on a 4 kHz
//! (box-filtered, decimated) copy over the whole tolerance, then a full-rate refinement
//! of ±one decimation step around the winner. Stereo (and any channel count) uses one
//! alignment computed on the channel sum, so channels stay phase-locked.

use crate::{AudioError, Pcm};

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
/// Exactly 1.0 returns the input unchanged.
pub fn change_speed(pcm: Pcm, speed: f64) -> Result<Pcm, AudioError> {
    validate_speed(speed)?;
    pcm.validate()?;
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
    let planes: Vec<Vec<f32>> = (0..channels)
        .map(|c| plan.padded(&pcm.channel(c)))
        .collect();
    let guide = if channels == 1 {
        planes[0].clone()
    } else {
        sum_planes(&planes)
    };
    let positions = plan.align(&guide, frames);
    let target = output_frames(frames, speed);
    let out: Vec<Vec<f32>> = planes
        .iter()
        .map(|p| plan.overlap_add(p, &positions, target))
        .collect();
    Ok(Pcm::from_channels(pcm.sample_rate, &out))
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
    fn padded(&self, x: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(x.len() + self.padding());
        out.extend_from_slice(x);
        out.resize(x.len() + self.padding(), 0.0);
        out
    }

    fn padding(&self) -> usize {
        4 * self.frame() + self.tolerance + self.hop + self.decimation
    }

    /// Chooses each output frame's read position in the (padded) input.
    fn align(&self, x: &[f32], frames: usize) -> Vec<usize> {
        let target = output_frames(frames, self.speed);
        let count = target.div_ceil(self.hop).max(1);
        let frame = self.frame();
        let max_start = x.len() - frame - self.hop - self.decimation;
        let coarse = Coarse::new(x, self.decimation, frame);
        let energy = PrefixEnergy::new(x);
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
            let best = coarse.search(template, lo, hi, nominal);
            let step = self.decimation;
            let fine_lo = best.saturating_sub(step).max(lo);
            let fine_hi = (best + step).min(hi);
            let reference = &x[template..template + frame];
            let mut chosen = best;
            let mut best_score = f32::MIN;
            for c in fine_lo..=fine_hi {
                let e = energy.sum(c, frame);
                let score = if e > 0.0 {
                    dot(reference, &x[c..c + frame]) / e.sqrt()
                } else {
                    0.0
                };
                if score > best_score {
                    best_score = score;
                    chosen = c;
                }
            }
            positions.push(chosen);
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

/// The decimated copy used by the coarse search, with its own energy prefix sums.
struct Coarse {
    x: Vec<f32>,
    energy: PrefixEnergy,
    factor: usize,
    /// Correlation length in coarse samples (one output frame).
    len: usize,
}

impl Coarse {
    fn new(x: &[f32], factor: usize, frame: usize) -> Self {
        // A box average is a crude but sufficient anti-alias filter for locating the
        // best pitch-period offset to within one coarse step.
        let scale = 1.0 / factor as f32;
        let x: Vec<f32> = x
            .chunks(factor)
            .map(|c| c.iter().sum::<f32>() * scale)
            .collect();
        let energy = PrefixEnergy::new(&x);
        Self {
            x,
            energy,
            factor,
            len: (frame / factor).max(1),
        }
    }

    /// Best full-rate start in `[lo, hi]` (on the coarse grid), ties to `nominal`.
    fn search(&self, template: usize, lo: usize, hi: usize, nominal: usize) -> usize {
        let f = self.factor;
        let len = self.len;
        let t = template / f;
        let reference = &self.x[t..t + len];
        let mut best = (nominal / f).clamp(lo.div_ceil(f), hi / f);
        let mut best_score = self.score(reference, best, len);
        for c in lo.div_ceil(f)..=hi / f {
            let score = self.score(reference, c, len);
            if score > best_score {
                best_score = score;
                best = c;
            }
        }
        best * f
    }

    fn score(&self, reference: &[f32], c: usize, len: usize) -> f32 {
        let e = self.energy.sum(c, len);
        if e > 0.0 {
            dot(reference, &self.x[c..c + len]) / e.sqrt()
        } else {
            0.0
        }
    }
}

/// Prefix sums of squares (f64, so long signals do not lose precision).
struct PrefixEnergy(Vec<f64>);

impl PrefixEnergy {
    fn new(x: &[f32]) -> Self {
        let mut sums = Vec::with_capacity(x.len() + 1);
        let mut acc = 0f64;
        sums.push(0.0);
        for &s in x {
            acc += f64::from(s) * f64::from(s);
            sums.push(acc);
        }
        Self(sums)
    }

    fn sum(&self, start: usize, len: usize) -> f32 {
        (self.0[start + len] - self.0[start]).max(0.0) as f32
    }
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
