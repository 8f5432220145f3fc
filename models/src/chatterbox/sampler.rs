//! Choosing the next speech token from one row of logits: CFG combine, repetition penalty,
//! temperature, min-p, top-k, top-p and a seeded draw, in each family's upstream order.
//! Pure functions, so they are tested without ONNX.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::Family;

/// The sampler's knobs (a subset of the generation parameters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SamplerSettings {
    pub(crate) temperature: f32,
    pub(crate) top_p: f32,
    pub(crate) min_p: f32,
    pub(crate) top_k: usize,
    pub(crate) repetition_penalty: f32,
}

/// Classifier-free guidance: `cond + weight · (cond − uncond)`.
pub(crate) fn cfg_combine(cond: &[f32], uncond: &[f32], weight: f32) -> Vec<f32> {
    cond.iter()
        .zip(uncond)
        .map(|(&c, &u)| c + weight * (c - u))
        .collect()
}

/// HF repetition penalty over the distinct ids seen so far: negative logits are multiplied
/// by the penalty, others divided.
pub(crate) fn repetition_penalty(logits: &mut [f32], seen: &[i64], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut distinct: Vec<i64> = seen.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for id in distinct {
        let Some(logit) = usize::try_from(id).ok().and_then(|i| logits.get_mut(i)) else {
            continue;
        };
        *logit = if *logit < 0.0 {
            *logit * penalty
        } else {
            *logit / penalty
        };
    }
}

/// Softmax in f64; non-finite logits get probability 0.
pub(crate) fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits
        .iter()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, |max, &x| max.max(f64::from(x)));
    let max = if max.is_finite() { max } else { 0.0 };
    let exps: Vec<f64> = logits
        .iter()
        .map(|&x| {
            if x.is_finite() {
                (f64::from(x) - max).exp()
            } else {
                0.0
            }
        })
        .collect();
    let sum: f64 = exps.iter().sum();
    if sum > 0.0 {
        exps.into_iter().map(|e| e / sum).collect()
    } else {
        exps
    }
}

/// Drops tokens whose probability is below `min_p` × the highest probability.
pub(crate) fn min_p_filter(logits: &mut [f32], min_p: f32) {
    if min_p <= 0.0 {
        return;
    }
    let probs = softmax(logits);
    let top = probs.iter().copied().fold(0.0, f64::max);
    let threshold = f64::from(min_p) * top;
    for (logit, p) in logits.iter_mut().zip(probs) {
        if p < threshold {
            *logit = f32::NEG_INFINITY;
        }
    }
}

/// Nucleus filter, HF style: sort ascending, drop the low tail whose cumulative probability
/// is ≤ 1 − top_p, always keeping the most likely token.
pub(crate) fn top_p_filter(logits: &mut [f32], top_p: f32) {
    if top_p >= 1.0 || logits.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[a].total_cmp(&logits[b]));
    let sorted: Vec<f32> = order.iter().map(|&i| logits[i]).collect();
    let probs = softmax(&sorted);
    let limit = 1.0 - f64::from(top_p);
    let mut cumulative = 0.0;
    let last = order.len() - 1;
    for (rank, (&index, p)) in order.iter().zip(probs).enumerate() {
        cumulative += p;
        if cumulative <= limit && rank != last {
            logits[index] = f32::NEG_INFINITY;
        }
    }
}

/// Keeps the `k` highest logits (ties with the k-th kept too); 0 turns it off.
pub(crate) fn top_k_filter(logits: &mut [f32], k: usize) {
    if k == 0 || k >= logits.len() {
        return;
    }
    let mut sorted = logits.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let kth = sorted[k - 1];
    for logit in logits.iter_mut() {
        if *logit < kth {
            *logit = f32::NEG_INFINITY;
        }
    }
}

/// Index of the largest logit (the first on ties; NaN never wins).
pub(crate) fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (index, &value) in logits.iter().enumerate() {
        if value > best_value {
            best = index;
            best_value = value;
        }
    }
    best
}

/// Draws an index from a probability vector with one uniform number.
pub(crate) fn draw(probs: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = probs.iter().sum();
    let target = rng.random::<f64>() * total;
    let mut cumulative = 0.0;
    let mut last_possible = 0;
    for (index, &p) in probs.iter().enumerate() {
        if p <= 0.0 {
            continue;
        }
        cumulative += p;
        last_possible = index;
        if target < cumulative {
            return index;
        }
    }
    last_possible
}

/// The next token from one row of (CFG-combined) logits, `seen` being every id generated
/// so far (start token included). Temperature 0 is greedy.
pub(crate) fn choose(
    mut logits: Vec<f32>,
    seen: &[i64],
    settings: &SamplerSettings,
    family: Family,
    rng: &mut ChaCha8Rng,
) -> usize {
    let sampling = settings.temperature > 0.0;
    match family {
        Family::Turbo => {
            if sampling {
                scale(&mut logits, settings.temperature);
                top_k_filter(&mut logits, settings.top_k);
                top_p_filter(&mut logits, settings.top_p);
            }
            repetition_penalty(&mut logits, seen, settings.repetition_penalty);
        }
        Family::Original => {
            repetition_penalty(&mut logits, seen, settings.repetition_penalty);
            if sampling {
                scale(&mut logits, settings.temperature);
                min_p_filter(&mut logits, settings.min_p);
                top_p_filter(&mut logits, settings.top_p);
            }
        }
    }
    if sampling {
        draw(&softmax(&logits), rng)
    } else {
        argmax(&logits)
    }
}

fn scale(logits: &mut [f32], temperature: f32) {
    for logit in logits.iter_mut() {
        *logit /= temperature;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    const GREEDY: SamplerSettings = SamplerSettings {
        temperature: 0.0,
        top_p: 1.0,
        min_p: 0.0,
        top_k: 0,
        repetition_penalty: 1.0,
    };

    #[test]
    fn repetition_penalty_sign_rule_and_distinct_ids() {
        let mut logits = vec![2.0, -2.0, 1.0, 4.0];
        repetition_penalty(&mut logits, &[0, 1, 0, 7, -1], 2.0);
        assert_eq!(logits, [1.0, -4.0, 1.0, 4.0]);
    }

    #[test]
    fn cfg_combine_extrapolates() {
        assert_eq!(cfg_combine(&[1.0, 2.0], &[0.0, 4.0], 0.5), [1.5, 1.0]);
    }

    #[test]
    fn min_p_drops_unlikely_tokens() {
        let mut logits = vec![0.0, (0.05f32).ln() - 0.01, -0.5];
        min_p_filter(&mut logits, 0.05);
        assert_eq!(logits[0], 0.0);
        assert_eq!(logits[1], f32::NEG_INFINITY);
        assert_eq!(logits[2], -0.5);
    }

    #[test]
    fn top_p_keeps_the_nucleus() {
        // probs ≈ 0.64, 0.24, 0.09, 0.03
        let mut logits = vec![3.0, 2.0, 1.0, 0.0];
        top_p_filter(&mut logits, 0.8);
        assert_eq!(&logits[..2], &[3.0, 2.0]);
        assert!(logits[2..].iter().all(|&x| x == f32::NEG_INFINITY));
        let mut single = vec![5.0, 0.0];
        top_p_filter(&mut single, 0.01);
        assert_eq!(single, [5.0, f32::NEG_INFINITY]);
    }

    #[test]
    fn top_k_keeps_k() {
        let mut logits = vec![1.0, 5.0, 3.0, 4.0];
        top_k_filter(&mut logits, 2);
        assert_eq!(logits, [f32::NEG_INFINITY, 5.0, f32::NEG_INFINITY, 4.0]);
    }

    #[test]
    fn greedy_is_argmax_after_penalty() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let logits = vec![1.0, 1.1, 0.5];
        assert_eq!(
            choose(logits.clone(), &[], &GREEDY, Family::Original, &mut rng),
            1
        );
        let penalised = SamplerSettings {
            repetition_penalty: 1.2,
            ..GREEDY
        };
        assert_eq!(
            choose(logits, &[1], &penalised, Family::Original, &mut rng),
            0
        );
        assert_eq!(argmax(&[f32::NAN, 1.0]), 1);
    }

    #[test]
    fn temperature_sharpens_and_flattens() {
        let probs = |t: f32| {
            let mut logits = vec![1.0, 0.0];
            scale(&mut logits, t);
            softmax(&logits)[0]
        };
        assert!(probs(0.5) > probs(1.0));
        assert!(probs(2.0) < probs(1.0));
    }

    #[test]
    fn seeded_draws_repeat() {
        let settings = SamplerSettings {
            temperature: 1.0,
            ..GREEDY
        };
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..20)
                .map(|_| choose(logits.clone(), &[], &settings, Family::Original, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn draw_never_picks_impossible_tokens() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            assert_eq!(draw(&[0.0, 1.0, 0.0], &mut rng), 1);
        }
        assert_eq!(softmax(&[f32::NEG_INFINITY; 3]), [0.0; 3]);
    }
}
