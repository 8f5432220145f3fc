//! `handler self-check`: proves an installation works before it takes traffic. Images run
//! it at build time (a broken image fails to build) and as their health check; operators
//! run it after changing settings.
//!
//! Checks, in order: ONNX Runtime loads; the built-in voice speaks one word (which runs
//! espeak-ng and a Piper graph); ffmpeg encodes AAC when it is installed (AAC output is
//! optional, so a missing ffmpeg is reported, not failed); a Chatterbox bundle loads when
//! one is installed; the store answers.

use std::time::Instant;

use crate::config::Config;
use crate::state::AppState;

/// The outcome of one check.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// `Ok(detail)` or `Err(reason)`.
    pub outcome: Result<String, String>,
    /// How long it took, in seconds.
    pub seconds: f64,
}

impl Check {
    /// One line for the terminal: `ok   name (detail, 0.12 s)` or `FAIL name: reason`.
    pub fn line(&self) -> String {
        match &self.outcome {
            Ok(detail) => format!("ok   {} ({detail}, {:.2} s)", self.name, self.seconds),
            Err(reason) => format!("FAIL {}: {reason}", self.name),
        }
    }
}

/// Runs every check; the installation is usable when none failed.
pub async fn run(config: Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let started = Instant::now();
    let state = match AppState::from_config(config).await {
        Ok(state) => state,
        Err(e) => {
            checks.push(Check {
                name: "storage opens",
                outcome: Err(e.to_string()),
                seconds: started.elapsed().as_secs_f64(),
            });
            return checks;
        }
    };
    let engines = state.engines();

    let timer = Instant::now();
    let runtime = engines.runtime().await;
    checks.push(Check {
        name: "ONNX Runtime loads",
        outcome: runtime
            .as_ref()
            .map(|_| {
                engines
                    .settings()
                    .onnxruntime_library()
                    .display()
                    .to_string()
            })
            .map_err(ToString::to_string),
        seconds: timer.elapsed().as_secs_f64(),
    });

    let timer = Instant::now();
    checks.push(Check {
        name: "built-in voice speaks (espeak-ng + Piper)",
        outcome: speak_one_word(&state).await,
        seconds: timer.elapsed().as_secs_f64(),
    });

    let timer = Instant::now();
    let encoders = state.encoders().clone();
    let aac = tokio::task::spawn_blocking(move || encode_aac(&encoders))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    checks.push(Check {
        name: "ffmpeg writes AAC",
        outcome: Ok(aac.unwrap_or_else(|reason| {
            format!("not available, so aac output is refused with 503: {reason}")
        })),
        seconds: timer.elapsed().as_secs_f64(),
    });

    let timer = Instant::now();
    let chatterbox = if engines.chatterbox_installed() {
        engines
            .chatterbox_with_tag()
            .await
            .map(|_| "bundle loaded".to_owned())
            .map_err(|e| e.to_string())
    } else {
        Ok("not installed: voice cloning and conversion answer 503".to_owned())
    };
    checks.push(Check {
        name: "Chatterbox",
        outcome: chatterbox,
        seconds: timer.elapsed().as_secs_f64(),
    });

    let timer = Instant::now();
    checks.push(Check {
        name: "store answers",
        outcome: crate::server::check_storage(&state)
            .await
            .map(|()| state.store().describe())
            .map_err(|e| e.to_string()),
        seconds: timer.elapsed().as_secs_f64(),
    });
    checks
}

/// Speaks "Hello." with the built-in voice and checks that it made sound.
async fn speak_one_word(state: &AppState) -> Result<String, String> {
    let engines = state.engines();
    let voice = engines.piper().await.map_err(|e| e.to_string())?;
    let options = engines.settings().piper_options();
    let waveform = tokio::task::spawn_blocking(move || voice.synthesize("Hello.", &options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let seconds = waveform.duration_seconds();
    let peak = waveform.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if !(0.2..5.0).contains(&seconds) || peak < 0.01 {
        return Err(format!(
            "\"Hello.\" came out as {seconds:.2} s with peak {peak:.3}, not speech"
        ));
    }
    Ok(format!("\"Hello.\" is {seconds:.2} s of audio"))
}

/// Encodes a quarter second of tone to AAC through the service's ffmpeg.
fn encode_aac(encoders: &audio::encode::Encoders) -> Result<String, String> {
    let samples: Vec<f32> = (0..6000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let pcm = audio::Pcm::mono(24_000, samples);
    let format: audio::encode::ExportFormat = "aac".parse().map_err(|e| format!("{e}"))?;
    let encoded = encoders.encode(&pcm, format).map_err(|e| e.to_string())?;
    Ok(format!(
        "{} bytes of AAC from {}",
        encoded.bytes.len(),
        encoders.ffmpeg().display()
    ))
}
