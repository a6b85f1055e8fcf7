//! When to try a failed delivery again.

use std::time::Duration;

/// Exponential back-off with jitter and a cap, a bounded number of attempts.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Delay before the second attempt (before jitter); doubles each time.
    pub base: Duration,
    /// Longest computed delay.
    pub cap: Duration,
    /// Attempts in all, the first included; past it the SMS is `failed`.
    pub max_attempts: u32,
}

/// A server's `Retry-After` is honoured up to this, so that a typo on its
/// side cannot park an SMS for a year.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    /// `None` once `attempt` (from 1) was the last allowed; else the delay
    /// before the next one: half the exponential step, plus a random half
    /// (spreads a burst of failures), and never sooner than `retry_after`.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let step = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(30))
            .min(self.cap);
        let jittered = step / 2 + step.mul_f64(fastrand::f64() / 2.0);
        Some(retry_after.map_or(jittered, |asked| jittered.max(asked.min(MAX_RETRY_AFTER))))
    }
}

/// Reads `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        max_attempts: 8,
    };

    #[test]
    fn delays_double_within_their_jitter_band_up_to_the_cap() {
        for (attempt, step) in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60)] {
            for _ in 0..50 {
                let delay = POLICY.next_delay(attempt, None).unwrap();
                let step = Duration::from_secs(step);
                assert!(delay >= step / 2 && delay <= step, "attempt {attempt}: {delay:?}");
            }
        }
    }

    #[test]
    fn the_last_attempt_gets_no_retry() {
        assert_eq!(POLICY.next_delay(8, None), None);
        assert!(POLICY.next_delay(7, None).is_some());
    }

    #[test]
    fn retry_after_is_a_floor_within_reason() {
        assert_eq!(
            POLICY.next_delay(1, Some(Duration::from_secs(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            POLICY.next_delay(1, Some(Duration::from_secs(999_999))),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(90));
        let parsed = parse_retry_after(&soon).unwrap();
        assert!(
            parsed > Duration::from_secs(85) && parsed <= Duration::from_secs(90),
            "{parsed:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
