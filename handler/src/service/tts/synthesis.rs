//! One chunk with Chatterbox: it generates
//! `num_candidates_per_chunk` candidates per chunk and keeps the best by a stated rule:
//! a candidate that ended on the stop token beats one cut off at the token cap (which
//! is usually babble), and among those the shortest wins (the original's rule when
//! Whisper checking is bypassed). Failed tries are retried up to `max_attempts_per_candidate`.

use models::chatterbox::{Chatterbox, GenerationParams, VoiceConditioning};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::service::work::StopSignal;

/// What the sampler is asked for, per request (the seed is the request's).
#[derive(Debug, Clone)]
pub struct ChatterboxJob {
    /// Sampling settings; `seed` and `max_new_tokens` are set per candidate.
    pub params: GenerationParams,
    /// Upper bound on speech tokens per chunk (config).
    pub max_new_tokens_cap: usize,
    /// Candidates per chunk.
    pub candidates: u32,
    /// Tries per candidate.
    pub attempts: u32,
}

/// How one chunk was generated (recorded in the sidecar).
#[derive(Debug, Clone, Serialize)]
pub struct ChunkReport {
    /// The chunk's text.
    pub text: String,
    /// Candidates that produced audio.
    pub candidates_generated: u32,
    /// Index of the kept candidate.
    pub chosen_candidate: u32,
    /// Seed of the kept candidate.
    pub seed: u64,
    /// Speech tokens of the kept candidate.
    pub speech_tokens: usize,
    /// Whether the kept candidate ended on the stop token (false: cut at the cap).
    pub stopped: bool,
    /// Its length in seconds.
    pub duration_seconds: f64,
    /// Failed tries (errors), across candidates.
    pub failed_attempts: u32,
}

/// The seed of one candidate: a stream drawn from the request seed, so a request is
/// reproducible as a whole and candidates differ from each other.
fn candidate_seed(request_seed: u64, chunk: usize, candidate: u32, attempt: u32) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(request_seed);
    // Skip to this (chunk, candidate, attempt) slot; cheap for the handful of slots used.
    let slot = (chunk as u64) * 1_000 + u64::from(candidate) * 10 + u64::from(attempt);
    let mut value = rng.random::<u64>();
    for _ in 0..slot {
        value = rng.random::<u64>();
    }
    value
}

/// Generates one chunk with Chatterbox (`index` is its place in the request, which picks
/// its candidates' seeds): the best of the job's candidates and how it was chosen. A chunk
/// without a single successful candidate fails the request.
pub fn chatterbox_chunk(
    engine: &Chatterbox,
    voice: &VoiceConditioning,
    index: usize,
    chunk: &str,
    job: &ChatterboxJob,
    stop: &StopSignal,
) -> Result<(Vec<f32>, ChunkReport)> {
    // Greedy decoding is deterministic: extra candidates would be identical copies.
    let candidates = if job.params.temperature <= 0.0 {
        1
    } else {
        job.candidates
    };
    let chars = chunk.chars().count();
    let cap = job.max_new_tokens_cap.min(100 + 8 * chars).max(1);
    let mut best: Option<(u32, u64, models::chatterbox::Generation)> = None;
    let mut generated = 0;
    let mut failed = 0;
    let mut last_error = None;
    for candidate in 0..candidates {
        for attempt in 0..job.attempts {
            let seed = candidate_seed(job.params.seed, index, candidate, attempt);
            let params = GenerationParams {
                seed,
                max_new_tokens: cap,
                ..job.params.clone()
            };
            stop.check()?;
            match engine.generate_until(chunk, voice, &params, stop.flag()) {
                Ok(generation) => {
                    generated += 1;
                    let better = best.as_ref().is_none_or(|(_, _, kept)| {
                        (
                            generation.stopped,
                            std::cmp::Reverse(generation.waveform.samples.len()),
                        ) > (kept.stopped, std::cmp::Reverse(kept.waveform.samples.len()))
                    });
                    if better {
                        best = Some((candidate, seed, generation));
                    }
                    break;
                }
                Err(models::ModelError::Stopped) => return Err(Error::Abandoned),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(chunk = index, candidate, attempt, error = %e, "generation attempt failed");
                    last_error = Some(e);
                }
            }
        }
    }
    let Some((chosen, seed, generation)) = best else {
        let reason = last_error.map(|e| e.to_string()).unwrap_or_default();
        return Err(Error::Generation(format!(
            "no candidate could be generated for chunk {} ({:?}): {reason}",
            index + 1,
            chunk
        )));
    };
    let report = ChunkReport {
        text: chunk.to_owned(),
        candidates_generated: generated,
        chosen_candidate: chosen,
        seed,
        speech_tokens: generation.speech_tokens.len(),
        stopped: generation.stopped,
        duration_seconds: generation.waveform.duration_seconds(),
        failed_attempts: failed,
    };
    Ok((generation.waveform.samples, report))
}
