//! Audio for tests: generated WAV tones and the committed fixtures in every upload format.

use std::io::Cursor;

/// A mono 16-bit WAV of a sine tone at half scale.
pub fn wav_tone(seconds: f64, sample_rate: u32, frequency: f64) -> Vec<u8> {
    wav_padded(0.0, seconds, 0.0, sample_rate, frequency, 0.5)
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

/// A mono 16-bit WAV: `lead` seconds of silence, `tone` seconds of a sine at `amplitude`, `trail` seconds of silence.
pub fn wav_padded(
    lead: f64,
    tone: f64,
    trail: f64,
    sample_rate: u32,
    frequency: f64,
    amplitude: f64,
) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).expect("wav writer");
        let rate = f64::from(sample_rate);
        let (lead_n, tone_n, trail_n) = (
            (lead * rate).round() as usize,
            (tone * rate).round() as usize,
            (trail * rate).round() as usize,
        );
        for _ in 0..lead_n {
            writer.write_sample(0i16).expect("sample");
        }
        for i in 0..tone_n {
            let t = i as f64 / rate;
            let sample = amplitude * (2.0 * std::f64::consts::PI * frequency * t).sin();
            writer
                .write_sample((sample * f64::from(i16::MAX)) as i16)
                .expect("sample");
        }
        for _ in 0..trail_n {
            writer.write_sample(0i16).expect("sample");
        }
        writer.finalize().expect("finalize");
    }
    cursor.into_inner()
}

/// Decodes audio bytes (any format we write or accept) for assertions.
pub fn decode(bytes: &[u8], extension: &str) -> audio::Pcm {
    let limits = audio::DecodeLimits::default();
    audio::decode(
        bytes::Bytes::copy_from_slice(bytes),
        Some(extension),
        &limits,
    )
    .expect("decodable audio")
    .1
}
