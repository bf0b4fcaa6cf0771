//! Per-CRM request throttling (G-8, G-12, X-17).
//!
//! A sliding-window limiter: up to `max_requests` in a burst, then each
//! request as soon as the window allows, so a CRM's bound is reached
//! exactly (and never exceeded) instead of sleeping a fixed interval
//! before every request.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ConfigError;
use crate::store::rate_window::SharedWindow;

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
    pub fn get_max_requests(&self) -> u32 {
        self.max_requests.get()
    }

    /// Length of the window.
    pub fn get_period(&self) -> Duration {
        self.period
    }
}

/// A shared, async rate limiter for one CRM: at most `max_requests` in any
/// window of `period` (a sliding log of the last `max_requests` send
/// times). A burst goes out at once, then each request waits exactly until
/// the oldest one leaves the window — the bound is reached, never exceeded
/// (unlike a token bucket refilled at `max_requests / period`, which lets
/// up to twice the bound through one window, and unlike the gem's fixed
/// sleep before every request).
pub struct RateLimiter {
    limit: RateLimit,
    /// Send times of the last `max_requests` requests, oldest first.
    sent: Mutex<VecDeque<Instant>>,
    /// No request before this time (the CRM answered 429 with a delay).
    paused_until: Mutex<Option<Instant>>,
    /// Shortest and longest time between sending a request and its
    /// response, seen so far: how late a request may arrive in the CRM's
    /// window after it left.
    latency: Mutex<Option<(Duration, Duration)>>,
    /// The window every process sharing the database counts in,
    /// once the engine is built on PostgreSQL.
    shared: OnceLock<SharedWindow>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit)
            .finish()
    }
}

impl RateLimiter {
    /// A limiter allowing `limit.max_requests` per `limit.period`.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            sent: Mutex::new(VecDeque::with_capacity(limit.get_max_requests() as usize)),
            paused_until: Mutex::new(None),
            latency: Mutex::new(None),
            shared: OnceLock::new(),
        }
    }

    /// Counts this limiter's requests in `window`, shared with every
    /// process using the same database (the first window given stays).
    pub(crate) fn share(&self, window: SharedWindow) {
        let _ = self.shared.set(window);
    }

    /// Whether requests are counted in a window shared through the database.
    pub fn is_shared(&self) -> bool {
        self.shared.get().is_some()
    }

    /// One request took `latency` from sending to its response.
    pub fn observe_latency(&self, latency: Duration) {
        let mut seen = self
            .latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *seen = Some(match *seen {
            None => (latency, latency),
            Some((low, high)) => (low.min(latency), high.max(latency)),
        });
    }

    fn latency_range(&self) -> (Duration, Duration) {
        self.latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .unwrap_or_default()
    }

    /// The CRM said only `remaining` more requests fit in its current
    /// window, of `of` when it says its limit (read from a response):
    /// requests slow down before the CRM answers 429 — when other processes
    /// or apps use the same account, or the configured limit is above the
    /// account's.
    /// - `0`: the CRM counts the last `of` requests sent; nothing goes out
    ///   until the oldest of them has left its window, even had it arrived
    ///   as late as the slowest response seen (a whole window from now when
    ///   that is not known);
    /// - otherwise the local window is counted as holding at least
    ///   `max_requests - remaining` requests (the missing ones as sent now).
    pub fn observe_remaining(&self, remaining: u32, of: Option<u32>) {
        let max = self.limit.get_max_requests() as usize;
        let used = max.saturating_sub(remaining as usize);
        let now = Instant::now();
        let window = self.window();
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            sent.pop_front();
        }
        if remaining == 0 {
            let counted = of.map_or(usize::MAX, |of| of as usize);
            let oldest_counted = sent
                .len()
                .checked_sub(counted)
                .and_then(|index| sent.get(index).copied());
            drop(sent);
            let (_, slowest) = self.latency_range();
            let free_at = oldest_counted.map_or(now + window, |t| t + window + slowest);
            self.pause(free_at.saturating_duration_since(now));
            return;
        }
        while sent.len() < used {
            sent.push_back(now);
        }
    }

    /// No request goes out for `delay` (a 429 with `Retry-After`): every
    /// task sharing this limiter waits, not only the one that was refused.
    pub fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
        drop(paused);
        // Every other process waits too.
        if let (Some(shared), Ok(runtime)) =
            (self.shared.get(), tokio::runtime::Handle::try_current())
        {
            let shared = shared.clone();
            runtime.spawn(async move {
                if let Err(error) = shared.pause(delay).await {
                    tracing::warn!(message = "Sharing a pause of the CRM with other workers failed.", %error);
                }
            });
        }
    }

    /// Waits out a pause this process knows of.
    async fn wait_for_local_pause(&self) {
        loop {
            let paused = *self
                .paused_until
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match paused.filter(|until| *until > Instant::now()) {
                Some(until) => tokio::time::sleep_until(until).await,
                None => return,
            }
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// The window, plus a margin so that requests sent one period apart do
    /// not arrive inside one server window when network latency varies: 1%
    /// (between 10 and 100 ms), plus the spread of the latencies seen
    /// (capped at 5% of the period). On a 1-second window (Airtable, HubSpot
    /// search) a fixed 10 ms was less than real jitter, and one Airtable 429
    /// costs a 30-second penalty.
    fn window(&self) -> Duration {
        let margin =
            (self.limit.period / 100).clamp(Duration::from_millis(10), Duration::from_millis(100));
        let (fastest, slowest) = self.latency_range();
        let jitter = (slowest - fastest).min(self.limit.period / 20);
        self.limit.period + margin + jitter
    }

    /// Waits until one more request is allowed, and counts it.
    pub async fn throttle(&self) {
        if let Some(shared) = self.shared.get() {
            loop {
                self.wait_for_local_pause().await;
                match shared.try_take(self.window()).await {
                    Ok(None) => return,
                    // A slot another worker holds for a moment: ask again soon.
                    Ok(Some(wait)) => tokio::time::sleep(wait.max(Duration::from_millis(2))).await,
                    Err(error) => {
                        tracing::warn!(message = "The shared rate window is unreachable; counting in this process only.", %error);
                        break;
                    }
                }
            }
        }
        loop {
            self.wait_for_local_pause().await;
            let wait = {
                let mut sent = self
                    .sent
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = Instant::now();
                let window = self.window();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.limit.get_max_requests() as usize {
                    sent.push_back(now);
                    return;
                }
                // Full: wait until the oldest request leaves the window.
                match sent.front() {
                    Some(oldest) => window.saturating_sub(now.duration_since(*oldest)),
                    None => Duration::ZERO,
                }
            };
            tokio::time::sleep(wait).await;
        }
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

    #[tokio::test(start_paused = true)]
    async fn limiter_bursts_to_the_bound_then_waits_for_the_window() {
        let limiter = RateLimiter::new(RateLimit::new(3, Duration::from_secs(10)).unwrap());
        let start = Instant::now();
        for _ in 0..3 {
            limiter.throttle().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the burst goes out at once"
        );
        limiter.throttle().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(10),
            "the 4th waits a full window: {waited:?}"
        );
        assert!(waited <= Duration::from_millis(10_200), "{waited:?}");
    }

    /// The CRM's "remaining" header fills the window: with 1 of 3 left, one
    /// request goes at once and the next waits for the window.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_remaining_in_window_from_the_crm_slows_down_before_a_429() {
        let limiter = RateLimiter::new(RateLimit::new(3, Duration::from_secs(10)).unwrap());
        limiter.observe_remaining(1, Some(3));
        let start = Instant::now();
        limiter.throttle().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.throttle().await;
        assert!(
            start.elapsed() >= Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }

    /// None left of 2: nothing goes until the older of the last 2 requests
    /// has left the window, even had it arrived as late as the slowest
    /// response; with nothing counted here, a whole window.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_none_remaining_waits_for_the_oldest_request_the_crm_counts() {
        let limiter = RateLimiter::new(RateLimit::new(5, Duration::from_secs(10)).unwrap());
        let start = Instant::now();
        limiter.throttle().await; // t = 0, no longer counted by the CRM (of 2)
        tokio::time::sleep(Duration::from_secs(2)).await;
        limiter.throttle().await; // t = 2
        limiter.throttle().await; // t = 2
        limiter.observe_latency(Duration::from_millis(300));
        tokio::time::sleep(Duration::from_secs(1)).await;
        limiter.observe_remaining(0, Some(2));
        limiter.throttle().await;
        let resumed = start.elapsed();
        assert!(resumed >= Duration::from_millis(12_300), "{resumed:?}");
        assert!(resumed < Duration::from_millis(12_500), "{resumed:?}");

        let fresh = RateLimiter::new(RateLimit::new(3, Duration::from_secs(10)).unwrap());
        fresh.observe_remaining(0, Some(3));
        let start = Instant::now();
        fresh.throttle().await;
        assert!(
            start.elapsed() >= Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }

    /// The window's margin grows with the spread of latencies seen (up to
    /// 5% of the period): 10 ms and 60 ms responses add 50 ms.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_the_window_margin_grows_with_the_latency_spread() {
        let limiter = RateLimiter::new(RateLimit::new(1, Duration::from_secs(1)).unwrap());
        limiter.observe_latency(Duration::from_millis(10));
        limiter.observe_latency(Duration::from_millis(60));
        let start = Instant::now();
        limiter.throttle().await;
        limiter.throttle().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1_000 + 10 + 50));
        limiter.observe_latency(Duration::from_secs(5));
        let again = Instant::now();
        limiter.throttle().await;
        assert_eq!(
            again.elapsed(),
            Duration::from_millis(1_000 + 10 + 50),
            "capped at 5% of the period"
        );
    }

    /// A pause (429 with Retry-After) holds every request until it ends.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_a_pause_holds_every_request_until_it_ends() {
        let limiter = RateLimiter::new(RateLimit::new(100, Duration::from_secs(10)).unwrap());
        limiter.pause(Duration::from_secs(2));
        limiter.pause(Duration::from_secs(1));
        let start = Instant::now();
        limiter.throttle().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "the longer pause wins"
        );
        limiter.throttle().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn rate_limit_rejects_zero_requests_and_zero_period() {
        let err = RateLimit::new(0, Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.field, "max_requests");
        let err = RateLimit::new(10, Duration::ZERO).unwrap_err();
        assert_eq!(err.field, "period");
        assert!(RateLimit::new(100, Duration::from_secs(10)).is_ok());
    }
}
