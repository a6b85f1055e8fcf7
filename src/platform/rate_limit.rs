//! The per-key rate limit: a token bucket per API key, in this process.
//!
//! Buckets exist only for keys that resolved to an organization, so a flood
//! of made-up keys cannot grow the map. Each replica counts on its own: N
//! replicas allow N times the rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::platform::domain::KeyHash;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second; 0 turns the limit off.
    pub per_second: f64,
    /// Bucket size: how many requests may come at once after a quiet spell.
    pub burst: u32,
}

pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<KeyHash, Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn unlimited() -> Self {
        Self::new(RateLimit {
            per_second: 0.0,
            burst: 0,
        })
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a token for `key`, or says how long until one is there.
    pub fn check(&self, key: &KeyHash) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &KeyHash, now: Instant) -> Result<(), Duration> {
        let RateLimit { per_second, burst } = self.limit;
        if per_second <= 0.0 {
            return Ok(());
        }
        let capacity = f64::from(burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(*key).or_insert(Bucket {
            tokens: capacity,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::domain::ApiKey;

    fn key(text: &str) -> KeyHash {
        ApiKey::parse(text).unwrap().hash()
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at(&key("a"), start), Ok(()));
        }
        let wait = limiter.check_at(&key("a"), start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(limiter.check_at(&key("a"), start + Duration::from_millis(500)), Ok(()));
        assert!(limiter.check_at(&key("a"), start + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn keys_have_their_own_buckets_and_zero_is_off() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1.0,
            burst: 1,
        });
        let now = Instant::now();
        assert!(limiter.check_at(&key("a"), now).is_ok());
        assert!(limiter.check_at(&key("a"), now).is_err());
        assert!(limiter.check_at(&key("b"), now).is_ok());
        let off = RateLimiter::unlimited();
        assert!((0..10_000).all(|_| off.check_at(&key("a"), now).is_ok()));
    }

    #[test]
    fn a_long_quiet_spell_refills_only_up_to_the_burst() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 100.0,
            burst: 2,
        });
        let start = Instant::now();
        let later = start + Duration::from_secs(3600);
        assert!(limiter.check_at(&key("a"), start).is_ok());
        assert!(limiter.check_at(&key("a"), later).is_ok());
        assert!(limiter.check_at(&key("a"), later).is_ok());
        assert!(limiter.check_at(&key("a"), later).is_err());
    }
}
