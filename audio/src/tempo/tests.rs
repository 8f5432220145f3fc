//! Time-stretch tests: exact lengths, preserved pitch, identity at 1.0, stereo lock-step.

use super::*;
use crate::test_signals::{correlation, rms, sine, speech_like, zero_crossing_hz};

const RATE: u32 = 24_000;
const SPEEDS: [f64; 6] = [0.25, 0.5, 0.8, 1.25, 2.0, 4.0];

#[test]
fn tone_keeps_pitch_and_length_at_every_speed() {
    let input = Pcm::mono(RATE, sine(200.0, RATE, RATE as usize * 2, 0.5));
    for speed in SPEEDS {
        let out = change_speed(input.clone(), speed).unwrap();
        let expected = (input.frames() as f64 / speed).round() as usize;
        assert_eq!(out.frames(), expected, "length at {speed}x");
        // Skip the edges (the last frame overlaps zero padding).
        let body = &out.samples[out.samples.len() / 10..out.samples.len() * 9 / 10];
        let hz = zero_crossing_hz(body, RATE);
        assert!((hz - 200.0).abs() <= 2.0, "{hz} Hz at {speed}x");
        // No dropouts or level jumps: a steady tone stays steady.
        let level = rms(body) / rms(&input.samples);
        assert!((0.97..1.03).contains(&level), "level {level} at {speed}x");
    }
}

#[test]
fn speech_like_signal_keeps_its_pitch_track() {
    // A vibrato voice: compare the pitch at matching times of input and output.
    let input = Pcm::mono(RATE, speech_like(RATE, RATE as usize * 3));
    for speed in [0.8, 1.25, 2.0] {
        let out = change_speed(input.clone(), speed).unwrap();
        assert_eq!(
            out.frames(),
            (input.frames() as f64 / speed).round() as usize
        );
        let window = RATE as usize / 10;
        for t in [0.6, 1.5, 2.3] {
            let i = (t * f64::from(RATE)) as usize;
            let o = (t / speed * f64::from(RATE)) as usize;
            let f_in = dominant_period_hz(&input.samples[i..i + window]);
            let f_out = dominant_period_hz(&out.samples[o..o + window]);
            assert!(
                (f_out / f_in - 1.0).abs() < 0.03,
                "{speed}x at {t}s: {f_in} vs {f_out} Hz"
            );
        }
    }
}

/// Fundamental by autocorrelation (70..400 Hz), robust for harmonic signals.
fn dominant_period_hz(x: &[f32]) -> f64 {
    let (lo, hi) = ((RATE / 400) as usize, (RATE / 70) as usize);
    let mut best = (lo, f64::MIN);
    for lag in lo..=hi {
        let c = correlation(&x[..x.len() - lag], &x[lag..]);
        if c > best.1 {
            best = (lag, c);
        }
    }
    f64::from(RATE) / best.0 as f64
}

#[test]
fn exactly_one_is_bit_identical() {
    let input = Pcm::new(RATE, 2, speech_like(RATE, 10_000));
    assert_eq!(change_speed(input.clone(), 1.0).unwrap(), input);
}

#[test]
fn out_of_range_speeds_are_refused() {
    let input = Pcm::mono(RATE, vec![0.0; 100]);
    for speed in [0.0, 0.2499, 4.0001, -1.0, f64::NAN, f64::INFINITY] {
        let err = change_speed(input.clone(), speed).unwrap_err();
        assert!(
            matches!(
                err,
                AudioError::InvalidParameter {
                    field: "speed_factor",
                    ..
                }
            ),
            "{speed}: {err:?}"
        );
    }
    assert!(change_speed(input.clone(), 0.25).is_ok());
    assert!(change_speed(input, 4.0).is_ok());
}

#[test]
fn stereo_channels_stay_aligned() {
    let left = speech_like(RATE, RATE as usize * 2);
    let right: Vec<f32> = left.iter().map(|s| -0.5 * s).collect();
    let input = Pcm::from_channels(RATE, vec![left, right]);
    for speed in [0.5, 1.25, 3.0] {
        let out = change_speed(input.clone(), speed).unwrap();
        assert_eq!(out.channels, 2);
        assert_eq!(
            out.frames(),
            (input.frames() as f64 / speed).round() as usize
        );
        let (l, r) = (out.channel(0), out.channel(1));
        // Same frames were chosen for both: the right channel is still exactly -0.5 * left.
        assert!(correlation(&l, &r) < -0.9999, "{speed}x");
    }
}

#[test]
fn short_and_empty_inputs_work() {
    for frames in [0usize, 1, 10, 719, 721] {
        let input = Pcm::mono(RATE, sine(200.0, RATE, frames, 0.5));
        for speed in SPEEDS {
            let out = change_speed(input.clone(), speed).unwrap();
            assert_eq!(
                out.frames(),
                (frames as f64 / speed).round() as usize,
                "{frames} at {speed}x"
            );
        }
    }
}

#[test]
fn odd_rates_work() {
    for rate in [8_000, 11_025, 44_100, 96_000] {
        let input = Pcm::mono(rate, sine(200.0, rate, rate as usize, 0.5));
        let out = change_speed(input.clone(), 1.5).unwrap();
        assert_eq!(out.frames(), (input.frames() as f64 / 1.5).round() as usize);
        let hz = zero_crossing_hz(
            &out.samples[out.samples.len() / 10..out.samples.len() * 9 / 10],
            rate,
        );
        assert!((hz - 200.0).abs() <= 2.0, "{hz} Hz at {rate}");
    }
}
