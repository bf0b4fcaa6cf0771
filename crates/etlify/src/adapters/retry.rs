//! How long to wait before trying a request again.
//!
//! *Whether* to retry is decided by the error's kind
//! ([`AdapterError::is_retriable`](super::AdapterError::is_retriable):
//! throttling and transient failures); this module only says *how long*:
//! the server's requested delay when it gave one (Retry-After, rate-limit
//! headers), otherwise exponential backoff with jitter, for a bounded number
//! of attempts (X-3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Retry settings of an HTTP adapter.
///
/// ```
/// # use std::time::Duration;
/// # use etlify::adapters::RetryPolicy;
/// let policy = RetryPolicy::default()
///     .max_attempts(3)
///     .base_delay(Duration::from_millis(10));
/// assert_eq!(policy.get_max_attempts(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in total, the first included (at least 1; default 5).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Delay before the second attempt; doubles after each failure
    /// (default 500 ms).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Longest delay between two attempts, server-requested ones included
    /// (default 60 s).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Attempts in total, the first included.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Delay before the second attempt.
    pub fn get_base_delay(&self) -> Duration {
        self.base_delay
    }

    /// Longest delay between two attempts.
    pub fn get_max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The wait before attempt `attempt + 1`, after `attempt` failed
    /// (1-based); `server` is the delay the server asked for, if any.
    pub fn delay(&self, attempt: u32, server: Option<Duration>) -> Duration {
        if let Some(server) = server {
            return server.min(self.max_delay);
        }
        let exponent = attempt.saturating_sub(1).min(16);
        let full = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        // Equal jitter: half fixed, half random, so workers spread out.
        let half = full / 2;
        half + jitter(half)
    }
}

/// A pseudo-random duration in `0..=max` (clock-seeded; good enough to
/// desynchronize workers, not for anything else).
fn jitter(max: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let spread = max.as_nanos().max(1) as u64;
    Duration::from_nanos(u64::from(nanos).wrapping_mul(2_654_435_761) % spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_delay_wins_but_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(600))),
            policy.max_delay
        );
    }

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds() {
        let policy = RetryPolicy::default();
        for attempt in 1..=4u32 {
            let full = policy.base_delay * (1 << (attempt - 1));
            let delay = policy.delay(attempt, None);
            assert!(
                delay >= full / 2 && delay <= full,
                "attempt {attempt}: {delay:?}"
            );
        }
        assert!(policy.delay(30, None) <= policy.max_delay);
    }
}
