//! Generated test signals and the measurements the unit tests assert on.

use std::f64::consts::TAU;

/// A sine of `hz` at `amp`, `frames` samples long.
pub fn sine(hz: f64, rate: u32, frames: usize, amp: f32) -> Vec<f32> {
    (0..frames)
        .map(|i| amp * (TAU * hz * i as f64 / f64::from(rate)).sin() as f32)
        .collect()
}

/// Frequency of a tone from its upward zero crossings (interpolated, so sub-sample precise).
pub fn zero_crossing_hz(x: &[f32], rate: u32) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..x.len() {
        let (a, b) = (f64::from(x[i - 1]), f64::from(x[i]));
        if a < 0.0 && b >= 0.0 {
            crossings.push((i - 1) as f64 + a / (a - b));
        }
    }
    if crossings.len() < 2 {
        return 0.0;
    }
    let span = crossings[crossings.len() - 1] - crossings[0];
    (crossings.len() - 1) as f64 * f64::from(rate) / span
}

/// Root mean square.
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Pearson correlation of two equally long slices.
pub fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (ma, mb) = (
        a[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64,
        b[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64,
    );
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]) - ma, f64::from(b[i]) - mb);
        num += x * y;
        da += x * x;
        db += y * y;
    }
    num / (da * db).sqrt().max(1e-30)
}

/// A speech-like test signal: a 120-220 Hz harmonic voice with vibrato, syllable-rate
/// amplitude envelope and a little noise (deterministic).
pub fn speech_like(rate: u32, frames: usize) -> Vec<f32> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut phase = 0.0f64;
    (0..frames)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 170.0 + 50.0 * (TAU * 0.7 * t).sin() + 4.0 * (TAU * 5.5 * t).sin();
            phase += TAU * f0 / f64::from(rate);
            let voice: f64 = (1..=8).map(|h| (phase * h as f64).sin() / h as f64).sum();
            let envelope = (0.5 + 0.5 * (TAU * 4.0 * t).sin()).powi(2);
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
            (0.25 * envelope * voice + 0.01 * noise) as f32
        })
        .collect()
}

/// The lag (b relative to a, within ±`max_lag`) with the highest correlation, and that
/// correlation; lossy codecs are compared this way so a delay shows up as a number.
pub fn best_lag(a: &[f32], b: &[f32], max_lag: usize) -> (isize, f64) {
    let mut best = (0isize, f64::MIN);
    let n = a.len().min(b.len());
    let max_lag = max_lag.min(n / 2);
    for lag in -(max_lag as isize)..=(max_lag as isize) {
        let (sa, sb) = if lag >= 0 {
            (&a[..n - lag as usize], &b[lag as usize..n])
        } else {
            (&a[(-lag) as usize..n], &b[..n - (-lag) as usize])
        };
        let c = correlation(sa, sb);
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}
