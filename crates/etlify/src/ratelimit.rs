//! Per-CRM request throttling (G-8, G-12, X-17).
//!
//! A sliding-window limiter: up to `max_requests` in a burst, then each
//! request as soon as the window allows, so a CRM's bound is reached
//! exactly (and never exceeded) instead of sleeping a fixed interval
//! before every request.
//!
//! The limiters belong to the engine, never to an adapter or the process:
//! registering a CRM builds its [`CrmLimits`] (its own limiter and its
//! adapter's vendor [`Budget`]s from the engine's [`RateBudgets`]), and the
//! engine hands them to every adapter call as a [`Throttle`], having
//! counted the call's first request itself.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
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

/// A vendor's budget besides a CRM's own rate limit: a limit on some or
/// all of the requests of one account, whatever CRM (base, app) they are
/// sent for. Airtable limits each token across its bases; HubSpot limits
/// an account's searches apart from its 10-second window.
///
/// An adapter names its budgets ([`crate::adapters::Adapter::budgets`]); the engine
/// keeps one limiter per budget name and account ([`RateBudgets`]), so the
/// CRMs whose adapters name the same account share it. The account is
/// kept as a digest: a token never sits in the engine's maps.
#[derive(Clone, PartialEq, Eq)]
pub struct Budget {
    name: &'static str,
    account: [u8; 32],
    limit: RateLimit,
    every_request: bool,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("every_request", &self.every_request)
            .finish()
    }
}

impl Budget {
    /// A budget every request of the adapter counts against, e.g.
    /// Airtable's per token; `account` (a token) is only kept as a digest.
    pub fn every_request(name: &'static str, account: &[u8], limit: RateLimit) -> Self {
        Self {
            name,
            account: Sha256::digest(account).into(),
            limit,
            every_request: true,
        }
    }

    /// A budget only the requests the adapter sends through
    /// [`Throttle::request_in`] with this `name` count against, e.g.
    /// HubSpot's searches.
    pub fn some_requests(name: &'static str, account: &[u8], limit: RateLimit) -> Self {
        Self {
            every_request: false,
            ..Self::every_request(name, account, limit)
        }
    }

    /// The budget's name, e.g. `airtable.token`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Requests allowed per period.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }
}

/// The limiters of vendor budgets, one per budget name and account.
///
/// Every engine owns one, so two engines in one process share no budget;
/// engines meant to share their accounts' budgets (one service, several
/// engines on one Airtable token) are given clones of one
/// ([`crate::Config::rate_budgets`]). The first budget registered under a
/// name and account sets its limit.
#[derive(Clone, Default)]
pub struct RateBudgets {
    limiters: Arc<Mutex<HashMap<BudgetKey, Arc<RateLimiter>>>>,
}

/// A budget's name and the digest of its account.
type BudgetKey = (&'static str, [u8; 32]);

impl fmt::Debug for RateBudgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limiters = self
            .limiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f.debug_struct("RateBudgets")
            .field("budgets", &limiters.len())
            .finish()
    }
}

impl RateBudgets {
    /// No budget yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The limiter of `budget`'s name and account.
    fn limiter(&self, budget: &Budget) -> Arc<RateLimiter> {
        let mut limiters = self
            .limiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        limiters
            .entry((budget.name, budget.account))
            .or_insert_with(|| Arc::new(RateLimiter::new(budget.limit)))
            .clone()
    }
}

/// Every limit a registered CRM's requests count against: its own rate
/// limit and its adapter's vendor budgets. Built when the CRM is
/// registered ([`crate::CrmRegistry::register`]), so it belongs to that
/// registration, not to the adapter: one adapter registered under two CRMs
/// counts each CRM's calls in that CRM's limit.
#[derive(Debug, Default)]
pub struct CrmLimits {
    crm: Option<Arc<RateLimiter>>,
    budgets: Vec<BudgetLimiter>,
}

/// A vendor budget's limiter, as a CRM's limits hold it.
#[derive(Debug)]
struct BudgetLimiter {
    name: &'static str,
    every_request: bool,
    limiter: Arc<RateLimiter>,
}

impl CrmLimits {
    /// A CRM's limits: `limit` (if any) in a limiter of its own, and the
    /// limiters of `budgets` from `shared`.
    pub(crate) fn new(limit: Option<RateLimit>, budgets: &[Budget], shared: &RateBudgets) -> Self {
        Self {
            crm: limit.map(|limit| Arc::new(RateLimiter::new(limit))),
            budgets: budgets
                .iter()
                .map(|budget| BudgetLimiter {
                    name: budget.name,
                    every_request: budget.every_request,
                    limiter: shared.limiter(budget),
                })
                .collect(),
        }
    }

    /// The CRM's own limiter, when it has a rate limit.
    pub fn rate_limiter(&self) -> Option<&Arc<RateLimiter>> {
        self.crm.as_ref()
    }

    /// The limiter of the vendor budget `name`, when the adapter has one.
    pub fn budget(&self, name: &str) -> Option<&Arc<RateLimiter>> {
        self.budgets
            .iter()
            .find(|budget| budget.name == name)
            .map(|budget| &budget.limiter)
    }

    /// The limiters a request counts against: the CRM's, every budget of
    /// every request, and the budget `name` if given.
    fn limiters<'a>(&'a self, name: Option<&'a str>) -> impl Iterator<Item = &'a RateLimiter> {
        let budgets = self
            .budgets
            .iter()
            .filter(move |budget| budget.every_request || Some(budget.name) == name)
            .map(|budget| budget.limiter.as_ref());
        self.crm.as_deref().into_iter().chain(budgets)
    }
}

/// What an adapter call is given to count its requests: the limits of the
/// CRM it is called for ([`crate::adapters::Adapter`]).
///
/// The engine counts one request in the CRM's limit before it calls the
/// adapter, so an adapter that never calls [`Throttle::request`] is still
/// held to one request per call; the first `request` of a call uses that
/// one and the next ones wait their turn. An adapter that sends several
/// requests per call (a search then a write, a batch in slices) calls
/// `request` before each.
#[derive(Debug)]
pub struct Throttle<'a> {
    limits: Option<&'a CrmLimits>,
    /// The request the engine counted before the call, not used yet.
    prepaid: AtomicBool,
}

impl<'a> Throttle<'a> {
    /// No limit at all: for calling an adapter outside an engine (tests,
    /// tools); the engine always hands in the CRM's limits.
    pub fn unlimited() -> Self {
        Self {
            limits: None,
            prepaid: AtomicBool::new(false),
        }
    }

    /// Counts the call's first request in the CRM's limit, then a throttle
    /// for the call whose first `request` does not wait for it again.
    pub(crate) async fn for_call(limits: &'a CrmLimits) -> Throttle<'a> {
        if let Some(crm) = &limits.crm {
            crm.throttle().await;
        }
        Self {
            limits: Some(limits),
            prepaid: AtomicBool::new(limits.crm.is_some()),
        }
    }

    /// Waits until one more request is allowed by the CRM's limit and by
    /// the adapter's budgets of every request, and counts it.
    pub async fn request(&self) {
        self.wait(None).await;
    }

    /// [`Throttle::request`] for a request that also counts against the
    /// budget `name` (a [`Budget::some_requests`]).
    pub async fn request_in(&self, name: &str) {
        self.wait(Some(name)).await;
    }

    async fn wait(&self, name: Option<&str>) {
        let Some(limits) = self.limits else {
            return;
        };
        let prepaid = self.prepaid.swap(false, Ordering::AcqRel);
        if let (Some(crm), false) = (&limits.crm, prepaid) {
            crm.throttle().await;
        }
        for budget in limits
            .budgets
            .iter()
            .filter(|budget| budget.every_request || Some(budget.name) == name)
        {
            budget.limiter.throttle().await;
        }
    }

    /// A request counted in `name`'s budget (if any) took `latency` from
    /// sending to its response.
    pub fn observe_latency(&self, latency: Duration, name: Option<&str>) {
        for limiter in self.limits.into_iter().flat_map(|l| l.limiters(name)) {
            limiter.observe_latency(latency);
        }
    }

    /// The CRM said how many requests its window still allows
    /// ([`RateLimiter::observe_remaining`]).
    pub fn observe_remaining(&self, remaining: u32, of: Option<u32>) {
        if let Some(crm) = self.crm() {
            crm.observe_remaining(remaining, of);
        }
    }

    /// The CRM asked for no request during `delay` (a 429 with
    /// `Retry-After`): every call of the CRM waits ([`RateLimiter::pause`]).
    pub fn pause(&self, delay: Duration) {
        if let Some(crm) = self.crm() {
            crm.pause(delay);
        }
    }

    fn crm(&self) -> Option<&RateLimiter> {
        self.limits.and_then(|limits| limits.crm.as_deref())
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
