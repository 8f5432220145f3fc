//! Shared by the streaming-encoder test files: the test signal they encode.

/// A speech-ish signal: a gliding tone with a syllable-rate envelope.
pub fn signal(rate: u32, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let env = 0.5 + 0.5 * (std::f64::consts::TAU * 4.0 * t).sin();
            let f = 180.0 + 60.0 * (std::f64::consts::TAU * 0.7 * t).sin();
            (0.6 * env * (std::f64::consts::TAU * f * t).sin()) as f32
        })
        .collect()
}
