//! AAC when the ffmpeg program is missing or fails: a typed, explanatory
//! [`audio::AudioError::EncoderUnavailable`], never a panic or a hang.
//!
//! Each encode names its ffmpeg ([`audio::encode::Encoders`]), so the two choices below
//! need no process of their own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use audio::encode::{Encoders, ExportFormat};
use audio::{AudioError, Pcm};

fn assert_unavailable(err: AudioError, program: &str) {
    let AudioError::EncoderUnavailable { format, reason } = &err else {
        panic!("expected EncoderUnavailable, got {err:?}")
    };
    assert_eq!(*format, "aac");
    assert!(reason.contains(program), "{reason}");
    assert!(reason.contains("SPEECH_FFMPEG"), "{reason}");
    assert!(reason.contains("setup step"), "{reason}");
}

#[test]
fn a_missing_or_failing_ffmpeg_is_a_clear_error() {
    let started = Instant::now();
    let pcm = Pcm::mono(24_000, vec![0.1; 24_000]);
    let format: ExportFormat = "aac".parse().unwrap();

    let missing = "/nonexistent/speech-api/ffmpeg";
    let encoders = Encoders::with_ffmpeg(missing);
    assert_eq!(encoders.ffmpeg().to_str(), Some(missing));
    assert_unavailable(encoders.encode(&pcm, format).unwrap_err(), missing);
    assert_unavailable(encoders.stream(format, 24_000).unwrap_err(), missing);

    // A program that starts but is not an encoder: exits at once, without reading.
    let failing = "false";
    let encoders = Encoders::with_ffmpeg(failing);
    assert_unavailable(encoders.encode(&pcm, format).unwrap_err(), failing);
    let (mut encoder, _) = encoders.stream(format, 24_000).unwrap();
    let pushed = (0..50).try_for_each(|_| encoder.push(&pcm.samples).map(drop));
    let err = match pushed {
        Err(err) => err,
        Ok(()) => encoder.finish().unwrap_err(),
    };
    assert_unavailable(err, failing);

    assert!(started.elapsed() < Duration::from_secs(20));
}
