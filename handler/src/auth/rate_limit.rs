//! Per-key request rates: one token bucket per key name, in this process. With several
//! replicas each enforces the rate on its own share of the traffic (documented): a
//! cluster-wide limit belongs in the load balancer in front of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};

use super::keys::Rate;

/// The buckets of the keys that have a rate, keyed by key name (bounded by the number of
/// configured keys).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The outcome of taking one request from a key's bucket, with what the
/// `x-ratelimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// The bucket's size (requests per period).
    pub limit: u32,
    /// Whole requests left after this one.
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset: Duration,
    /// Until the next request would be allowed (zero when allowed).
    pub retry_after: Duration,
}

impl RateLimiter {
    /// Takes one request from `key`'s bucket at `rate`, now.
    pub fn take(&self, key: &str, rate: Rate) -> Decision {
        self.take_at(key, rate, Instant::now())
    }

    fn take_at(&self, key: &str, rate: Rate, now: Instant) -> Decision {
        let capacity = f64::from(rate.limit);
        let per_second = capacity / rate.period.as_secs_f64().max(1e-3);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let retry_after = if allowed {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - bucket.tokens) / per_second)
        };
        Decision {
            allowed,
            limit: rate.limit,
            // Truncation: a fractional token is not a request.
            remaining: bucket.tokens.max(0.0) as u32,
            reset: Duration::from_secs_f64((capacity - bucket.tokens).max(0.0) / per_second),
            retry_after,
        }
    }
}

impl Decision {
    /// Whole seconds for `Retry-After` (at least 1 when refused).
    pub fn retry_after_seconds(&self) -> u64 {
        if self.allowed {
            0
        } else {
            self.retry_after.as_secs_f64().ceil().max(1.0) as u64
        }
    }

    /// Writes OpenAI's `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests` and
    /// `x-ratelimit-reset-requests` (a duration such as `1s`, `6m0s` or `250ms`).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit-requests", HeaderValue::from(self.limit));
        headers.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from(self.remaining),
        );
        if let Ok(value) = HeaderValue::from_str(&go_duration(self.reset)) {
            headers.insert("x-ratelimit-reset-requests", value);
        }
    }
}

/// A duration the way OpenAI writes reset times (Go's `time.Duration` format, rounded to
/// milliseconds): `250ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let hours = millis / 3_600_000;
    let minutes = millis / 60_000 % 60;
    let seconds = (millis % 60_000) as f64 / 1000.0;
    let seconds = format!("{seconds}s");
    match (hours, minutes) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_passes_its_burst_then_refills_evenly() {
        let limiter = RateLimiter::default();
        let rate = Rate {
            limit: 3,
            period: Duration::from_secs(3),
        };
        let start = Instant::now();
        for remaining in [2, 1, 0] {
            let d = limiter.take_at("k", rate, start);
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
        }
        let refused = limiter.take_at("k", rate, start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_seconds(), 1);
        assert_eq!(refused.reset, Duration::from_secs(3));
        // One token per second comes back.
        let later = limiter.take_at("k", rate, start + Duration::from_millis(1001));
        assert!(later.allowed);
        // Other keys have their own bucket.
        assert!(limiter.take_at("other", rate, start).allowed);
    }

    #[test]
    fn reset_times_read_like_openai_s() {
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
    }
}
