//! Per-CRM request throttling (SPEC G-8, G-12, X-17).
//!
//! A GCRA limiter (governor): up to `max_requests` in a burst, then one
//! request every `period / max_requests`, so a CRM's bound is reached
//! exactly instead of sleeping a fixed interval before every request.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;

use crate::error::ConfigError;

/// `max_requests` per `period`, both strictly positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    max_requests: NonZeroU32,
    period: Duration,
}

impl RateLimit {
    /// Validates and builds a rate limit; `location` names the CRM in errors.
    pub fn new(max_requests: u32, period: Duration) -> Result<Self, ConfigError> {
        let max_requests = NonZeroU32::new(max_requests).ok_or_else(|| {
            ConfigError::new("rate_limit", "max_requests", "must be a positive number")
        })?;
        if period.is_zero() {
            return Err(ConfigError::new(
                "rate_limit",
                "period",
                "must be a positive duration",
            ));
        }
        Ok(Self {
            max_requests,
            period,
        })
    }

    /// Requests allowed per period.
    pub fn max_requests(&self) -> u32 {
        self.max_requests.get()
    }

    /// Length of the window.
    pub fn period(&self) -> Duration {
        self.period
    }
}

/// A shared, async rate limiter for one CRM.
pub struct RateLimiter {
    limit: RateLimit,
    inner: governor::RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit)
            .finish()
    }
}

impl RateLimiter {
    /// A limiter allowing `limit.max_requests` per `limit.period`, burst included.
    pub fn new(limit: RateLimit) -> Self {
        let replenish = limit.period / limit.max_requests.get();
        // `replenish` is non-zero unless period < max_requests nanoseconds;
        // fall back to one nanosecond, which means "effectively unlimited".
        let quota = Quota::with_period(replenish.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(limit.max_requests);
        Self {
            limit,
            inner: governor::RateLimiter::direct(quota),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Waits until one more request is allowed.
    pub async fn throttle(&self) {
        self.inner.until_ready().await;
    }
}

/// Where a registered CRM installs its limiter into an adapter (G-12).
///
/// Adapters hold one and call [`RateLimiterSlot::throttle`] before every
/// request; while nothing is installed it does not wait.
#[derive(Default)]
pub struct RateLimiterSlot {
    limiter: RwLock<Option<Arc<RateLimiter>>>,
}

impl fmt::Debug for RateLimiterSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiterSlot")
            .field("limit", &self.current().map(|l| l.limit()))
            .finish()
    }
}

impl RateLimiterSlot {
    /// Installs (or replaces) the limiter.
    pub fn install(&self, limiter: Arc<RateLimiter>) {
        let mut slot = self
            .limiter
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(limiter);
    }

    /// The limiter in place, if any.
    pub fn current(&self) -> Option<Arc<RateLimiter>> {
        self.limiter
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Waits for the installed limiter, if any.
    pub async fn throttle(&self) {
        if let Some(limiter) = self.current() {
            limiter.throttle().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_rejects_zero_requests_and_zero_period() {
        let err = RateLimit::new(0, Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.field, "max_requests");
        let err = RateLimit::new(10, Duration::ZERO).unwrap_err();
        assert_eq!(err.field, "period");
        assert!(RateLimit::new(100, Duration::from_secs(10)).is_ok());
    }
}
