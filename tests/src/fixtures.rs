//! Audio for tests: generated WAV tones and the committed fixtures in every upload format.

use std::io::Cursor;

/// A mono 16-bit WAV of a sine tone.
pub fn wav_tone(seconds: f64, sample_rate: u32, frequency: f64) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).expect("wav writer");
        let frames = (seconds * f64::from(sample_rate)).round() as usize;
        for i in 0..frames {
            let t = i as f64 / f64::from(sample_rate);
            let sample = (0.5
                * (2.0 * std::f64::consts::PI * frequency * t).sin()
                * f64::from(i16::MAX)) as i16;
            writer.write_sample(sample).expect("sample");
        }
        writer.finalize().expect("finalize");
    }
    cursor.into_inner()
}

/// One second of 440 Hz at 22.05 kHz as WAV.
pub fn wav() -> Vec<u8> {
    wav_tone(1.0, 22_050, 440.0)
}

/// A committed fixture from `tests/fixtures/audio` (`tone.mp3`, `tone.flac`, `tone.ogg`,
/// `tone.m4a`, `tone.aac`: one second of 440 Hz at 22.05 kHz, made by ffmpeg).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audio")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
