//! Attribute values with units: `<break time|strength>` and `<prosody rate>`.

use super::build::{bad, get};
use super::lexer::Attr;
use super::{MAX_BREAK_SECONDS, SsmlError};

/// The length of a `<break>`: `time` if given, else `strength`, else medium (0.4 s).
pub(super) fn break_seconds(attrs: &[Attr<'_>], pos: usize) -> Result<f32, SsmlError> {
    if let Some(time) = get(attrs, "time") {
        let t = time.trim();
        let seconds = match t.strip_suffix("ms") {
            Some(ms) => ms.trim().parse::<f32>().map(|v| v / 1000.0),
            None => match t.strip_suffix('s') {
                Some(s) => s.trim().parse::<f32>(),
                None => "x".parse::<f32>(),
            },
        };
        let reason = "time must be like \"500ms\" or \"1.5s\"";
        let seconds = seconds.map_err(|_| bad("break", "time", time, reason, pos))?;
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(bad("break", "time", time, reason, pos));
        }
        if seconds > MAX_BREAK_SECONDS {
            return Err(bad("break", "time", time, "time must be at most 10s", pos));
        }
        return Ok(seconds);
    }
    Ok(match get(attrs, "strength").unwrap_or("medium") {
        "none" => 0.0,
        "x-weak" => 0.1,
        "weak" => 0.25,
        "medium" => 0.4,
        "strong" => 0.75,
        "x-strong" => 1.25,
        other => {
            let reason = "strength accepts none, x-weak, weak, medium, strong, x-strong";
            return Err(bad("break", "strength", other, reason, pos));
        }
    })
}

/// A `<prosody rate>` as a factor, clamped to 0.5–2.0 (with a warning).
pub(super) fn prosody_rate(
    value: &str,
    pos: usize,
    warnings: &mut Vec<String>,
) -> Result<f32, SsmlError> {
    let v = value.trim();
    let factor = match v {
        "x-slow" => Ok(0.5),
        "slow" => Ok(0.75),
        "medium" | "default" => Ok(1.0),
        "fast" => Ok(1.25),
        "x-fast" => Ok(1.5),
        _ => match v.strip_suffix('%') {
            Some(p) if p.starts_with(['+', '-']) => p.parse::<f32>().map(|p| 1.0 + p / 100.0),
            Some(p) => p.parse::<f32>().map(|p| p / 100.0),
            None => v.parse::<f32>(),
        },
    };
    let reason = "rate accepts x-slow, slow, medium, fast, x-fast, a percentage or a factor";
    let factor = factor.map_err(|_| bad("prosody", "rate", value, reason, pos))?;
    if !factor.is_finite() || factor <= 0.0 {
        return Err(bad("prosody", "rate", value, "rate must be positive", pos));
    }
    let clamped = factor.clamp(0.5, 2.0);
    if clamped != factor {
        warnings.push(format!(
            "<prosody rate=\"{value}\"> at byte {pos} clamped to {clamped}"
        ));
    }
    Ok(clamped)
}
