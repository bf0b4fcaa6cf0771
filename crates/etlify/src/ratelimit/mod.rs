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

mod sends;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use crate::error::ConfigError;
use crate::metrics::CrmMetrics;
use crate::store::backend::Take;
use crate::store::rate_window::SharedWindow;
use crate::store::Timestamp;
use sends::{Reckoning, SendLog};

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
    /// This process's last `max_requests` requests, whatever their age:
    /// the window is full while each of them is in it, and a CRM saying
    /// its window is full names one of them (`observe_remaining`).
    sent: Mutex<SendLog>,
    /// Told when a request is answered: its place in the window may free
    /// before the wait a task sleeps on.
    answers: tokio::sync::Notify,
    /// Answered requests whose slot in the shared window can move earlier
    /// (written before the next take: an answer is read where no `await`
    /// can be).
    settlements: Mutex<Vec<Settlement>>,
    /// No request before this time (the CRM answered 429 with a delay).
    paused_until: Mutex<Option<Instant>>,
    /// Times between sending a request and its response, the last
    /// [`LATENCY_SAMPLES`]: how late a request may arrive in the CRM's
    /// window after it left. Recent ones only, so that one slow response
    /// (a retry, a busy moment) widens the window for a while, not for
    /// the rest of the run.
    latency: Mutex<VecDeque<Duration>>,
    /// The window every process sharing the database counts in,
    /// once the engine is built on PostgreSQL or a SQLite file.
    shared: OnceLock<SharedWindow>,
    /// The turn to take a slot of the shared window: this process's tasks
    /// ask the database one at a time, in order, instead of all polling it
    /// whenever a slot may be free.
    taking: tokio::sync::Mutex<()>,
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
            sent: Mutex::new(SendLog::new(limit.get_max_requests() as usize)),
            answers: tokio::sync::Notify::new(),
            settlements: Mutex::new(Vec::new()),
            paused_until: Mutex::new(None),
            latency: Mutex::new(VecDeque::with_capacity(LATENCY_SAMPLES)),
            shared: OnceLock::new(),
            taking: tokio::sync::Mutex::new(()),
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
        if seen.len() == LATENCY_SAMPLES {
            seen.pop_front();
        }
        seen.push_back(latency);
    }

    /// How many recent latencies are known.
    fn latency_samples(&self) -> usize {
        self.latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// The shortest and the longest of the recent latencies.
    fn latency_range(&self) -> (Duration, Duration) {
        let seen = self
            .latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fastest = seen.iter().min().copied().unwrap_or_default();
        let slowest = seen.iter().max().copied().unwrap_or_default();
        (fastest, slowest)
    }

    /// The CRM said only `remaining` more requests fit in its current
    /// window, of `of` when it says its limit (read from a response):
    /// requests slow down before the CRM answers 429 — when other processes
    /// or apps use the same account, or the configured limit is above the
    /// account's.
    /// - `0`: the CRM counts the last `of` requests sent; nothing goes out
    ///   until the oldest of them has left the window (with the window's
    ///   margin for the latency spread, as for any request: waiting the
    ///   slowest response on top cost a quarter of a 1-second window at
    ///   300 ms, issue 26 item 5). A whole window from now when that
    ///   request is not known, or was sent too long ago to be among those
    ///   the CRM counts (it counts other senders' requests then);
    /// - otherwise the local window is counted as holding at least
    ///   `max_requests - remaining` requests (the missing ones as sent now).
    pub fn observe_remaining(&self, remaining: u32, of: Option<u32>) {
        let max = self.limit.get_max_requests() as usize;
        let now = Instant::now();
        let reckoning = self.reckoning();
        let window = self.window();
        if remaining == 0 {
            let (_, slowest) = self.latency_range();
            let oldest_counted = of
                .and_then(|of| (of as usize).checked_sub(1))
                .and_then(|back| self.sent().sent_at(back))
                .filter(|at| now.duration_since(*at) < window + slowest);
            let free_at = oldest_counted.map_or(now + window, |at| at + window);
            self.pause(free_at.saturating_duration_since(now));
            return;
        }
        let used = max.saturating_sub(remaining as usize);
        let mut sent = self.sent();
        for _ in sent.in_window(now, reckoning)..used {
            sent.push(now, reckoning);
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
    /// (between 10 and 100 ms), plus how much later than the fastest a
    /// request may have been counted (`sends.rs`): the spread of the recent
    /// latencies until it is answered, its own lateness after (both capped
    /// at 10% of the period). On a 1-second window (Airtable, HubSpot
    /// search) a fixed 10 ms was less than real jitter, and one Airtable
    /// 429 costs a 30-second penalty. A spread above the cap is not
    /// covered: the CRM's "remaining" header and its 429s pause the
    /// limiter then (with 5% a 100 ms jitter on a 1-second window let
    /// requests over the limit; with 10% the window keeps it, at 0.9× the
    /// bound: docs/BENCHMARKS.md, issue 26 item 5).
    fn reckoning(&self) -> Reckoning {
        let (fastest, slowest) = self.latency_range();
        Reckoning {
            window: self.margin_window(),
            unanswered_late_by: self.late_by_at_most(slowest - fastest),
        }
    }

    /// The period and its fixed margin.
    fn margin_window(&self) -> Duration {
        let margin =
            (self.limit.period / 100).clamp(Duration::from_millis(10), Duration::from_millis(100));
        self.limit.period + margin
    }

    /// `late_by`, capped at 10% of the period.
    fn late_by_at_most(&self, late_by: Duration) -> Duration {
        late_by.min(self.limit.period / 10)
    }

    /// The whole window of a request not answered yet.
    fn window(&self) -> Duration {
        let reckoning = self.reckoning();
        reckoning.window + reckoning.unanswered_late_by
    }

    /// How late a request counted in the window shared with other
    /// processes may arrive until it is answered: as in this process's
    /// window once [`SHARED_LATENCY_SAMPLES`] latencies are known, the
    /// widest margin before. Other processes' requests count in it from
    /// their own send times, whose delays this process has not seen: with
    /// the spread of a handful of its own latencies, two engines on one
    /// SQLite file sent 11 requests in a 1-second window on a loaded
    /// machine (a third of the tries, 3 runs at once).
    fn shared_late_by(&self) -> Duration {
        if self.latency_samples() < SHARED_LATENCY_SAMPLES {
            return self.late_by_at_most(Duration::MAX);
        }
        self.reckoning().unanswered_late_by
    }

    /// Request `stamp` was answered `now`: the CRM counted it before, so
    /// its place in the window is kept for its own lateness from now on,
    /// not the worst spread; a task waiting for a place looks again.
    fn answered(&self, stamp: &Stamp, now: Instant) {
        let (fastest, _) = self.latency_range();
        let late_by = self.late_by_at_most(
            now.saturating_duration_since(stamp.at)
                .saturating_sub(fastest),
        );
        self.sent().answered(stamp.id, late_by);
        if let Some(SlotStamp {
            slot,
            stamped: Some(was),
            stamped_before,
        }) = stamp.slot
        {
            if let Some(earlier) = stamp
                .late_by
                .checked_sub(late_by + stamped_before)
                .and_then(|by| chrono::TimeDelta::from_std(by).ok())
                .filter(|by| !by.is_zero())
            {
                self.settlements
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(Settlement {
                        slot,
                        was,
                        to: was - earlier,
                    });
            }
        }
        self.answers.notify_waiters();
    }

    /// Writes the answered requests' earlier places in the shared window.
    async fn settle(&self, shared: &SharedWindow) {
        let settlements = std::mem::take(
            &mut *self
                .settlements
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for settlement in settlements {
            if let Err(error) = shared
                .settle(settlement.slot, settlement.was, settlement.to)
                .await
            {
                tracing::warn!(message = "Moving an answered request's place in the shared rate window failed; it keeps its wider place.", %error);
            }
        }
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, SendLog> {
        self.sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until one more request is allowed, and counts it.
    pub async fn throttle(&self) {
        self.take().await;
    }

    /// Sleeps `wait`, or less if a request is answered meanwhile (`answered`
    /// is enabled before the wait was reckoned, so no answer is missed).
    async fn sleep_or_answer(
        wait: Duration,
        answered: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    ) {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = answered => {}
        }
    }

    /// [`RateLimiter::throttle`], saying where the request was counted.
    pub(crate) async fn take(&self) -> Stamp {
        if let Some(shared) = self.shared.get() {
            let _turn = self.taking.lock().await;
            loop {
                self.wait_for_local_pause().await;
                let answered = self.answers.notified();
                tokio::pin!(answered);
                answered.as_mut().enable();
                // This process's own window first, counted from when its
                // requests left: the database's stamp comes a write
                // transaction earlier, which a busy machine can stretch
                // past the window's margin (11 in a window of 10, seen at
                // a load of 7 on 2 cores).
                let reckoning = self.reckoning();
                let local = self.sent().wait(Instant::now(), reckoning);
                if !local.is_zero() {
                    Self::sleep_or_answer(local, answered).await;
                    continue;
                }
                self.settle(shared).await;
                let late_by = self.shared_late_by();
                let asked = Instant::now();
                match shared.try_take(self.margin_window(), late_by).await {
                    Ok(Take::Taken { slot, stamped }) => {
                        // Kept for this process's window, and for what the
                        // CRM's answers say of its window (`observe_remaining`).
                        let at = Instant::now();
                        let id = self.sent().push(at, self.reckoning());
                        return Stamp {
                            id,
                            at,
                            late_by,
                            slot: Some(SlotStamp {
                                slot,
                                stamped,
                                stamped_before: at - asked,
                            }),
                        };
                    }
                    // A slot another worker holds for a moment: ask again soon.
                    Ok(Take::Wait(wait)) => {
                        Self::sleep_or_answer(wait.max(Duration::from_millis(2)), answered).await
                    }
                    Err(error) => {
                        tracing::warn!(message = "The shared rate window is unreachable; counting in this process only.", %error);
                        break;
                    }
                }
            }
        }
        loop {
            self.wait_for_local_pause().await;
            let answered = self.answers.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let wait = {
                let reckoning = self.reckoning();
                let mut sent = self.sent();
                let now = Instant::now();
                let wait = sent.wait(now, reckoning);
                if wait.is_zero() {
                    let id = sent.push(now, reckoning);
                    return Stamp {
                        id,
                        at: now,
                        late_by: reckoning.unanswered_late_by,
                        slot: None,
                    };
                }
                wait
            };
            Self::sleep_or_answer(wait, answered).await;
        }
    }

    /// The request counted at `stamp` leaves only now (it waited for
    /// another limit after it was counted): it is counted as sent now, so
    /// that its place in the window is not freed a wait too soon — which
    /// would let the next requests arrive inside one window of the CRM
    /// with it. Where it is counted now.
    pub(crate) async fn restamp(&self, stamp: Stamp) -> Stamp {
        let now = Instant::now();
        if now.duration_since(stamp.at) < RESTAMP_AFTER {
            return stamp;
        }
        self.sent().move_to(stamp.id, now);
        let mut moved = Stamp { at: now, ..stamp };
        if let (Some(shared), Some(SlotStamp { slot, .. })) = (self.shared.get(), stamp.slot) {
            let stamped = match shared.restamp(slot, stamp.late_by).await {
                Ok(stamped) => stamped,
                Err(error) => {
                    tracing::warn!(message = "Moving a request's send time in the shared rate window failed.", %error);
                    None
                }
            };
            moved.slot = Some(SlotStamp {
                slot,
                stamped,
                stamped_before: Duration::ZERO,
            });
        }
        moved
    }
}

/// Latencies kept for the window's margin: enough to see the spread of a
/// few windows of a 10-request limit, few enough that an old outlier
/// leaves soon.
const LATENCY_SAMPLES: usize = 64;

/// Latencies a process must have seen before a window it shares with
/// others is spaced by their spread rather than by the widest margin.
const SHARED_LATENCY_SAMPLES: usize = 8;

/// A wait after a request was counted that is short enough to ignore (the
/// window's margin covers it): moving its send time costs a write of the
/// shared window.
const RESTAMP_AFTER: Duration = Duration::from_millis(1);

/// Where one request was counted: its send time, how late it was assumed
/// to arrive until answered, and its slot in the shared window if any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp {
    id: u64,
    at: Instant,
    late_by: Duration,
    slot: Option<SlotStamp>,
}

/// A request's slot in the shared window, and the time written in it (if
/// the database said), which an answer moves earlier only while the slot
/// still holds it.
#[derive(Debug, Clone, Copy)]
struct SlotStamp {
    slot: i32,
    stamped: Option<Timestamp>,
    /// At most how long before the request's send time here the database
    /// read its clock for `stamped` (the take's round trip): an answer
    /// moves the slot no earlier than the send.
    stamped_before: Duration,
}

/// An answered request's slot, to move from `was` to `to`.
#[derive(Debug, Clone, Copy)]
struct Settlement {
    slot: i32,
    was: Timestamp,
    to: Timestamp,
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

    /// Whether every request of the adapter counts against it.
    pub(crate) fn counts_every_request(&self) -> bool {
        self.every_request
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
    /// The CRM's request series of the engine it is registered in, once
    /// the engine is built: the time calls wait here, and what the HTTP
    /// layer sees of each request.
    metrics: OnceLock<CrmMetrics>,
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
            metrics: OnceLock::new(),
        }
    }

    /// Counts this CRM's waits and requests in `metrics` (the first given
    /// stays: the engine's that registered it).
    pub(crate) fn record_into(&self, metrics: CrmMetrics) {
        let _ = self.metrics.set(metrics);
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

/// Where a request was counted ([`Throttle::request`]): hand it back to
/// [`Throttle::answered`] when the CRM answers.
#[derive(Debug, Default)]
pub struct Counted {
    /// In the CRM's own limit.
    crm: Option<Stamp>,
    /// In the adapter's budgets, by name.
    budgets: Vec<(&'static str, Stamp)>,
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
    prepaid: Mutex<Option<Stamp>>,
}

impl<'a> Throttle<'a> {
    /// No limit at all: for calling an adapter outside an engine (tests,
    /// tools); the engine always hands in the CRM's limits.
    pub fn unlimited() -> Self {
        Self {
            limits: None,
            prepaid: Mutex::new(None),
        }
    }

    /// Counts the call's first request in the CRM's limit, then a throttle
    /// for the call whose first `request` does not wait for it again.
    pub(crate) async fn for_call(limits: &'a CrmLimits) -> Throttle<'a> {
        let prepaid = match &limits.crm {
            Some(crm) => {
                let started = Instant::now();
                let stamp = crm.take().await;
                if let Some(metrics) = limits.metrics.get() {
                    metrics.waited(started.elapsed());
                }
                Some(stamp)
            }
            None => None,
        };
        Self {
            limits: Some(limits),
            prepaid: Mutex::new(prepaid),
        }
    }

    /// Waits until one more request is allowed by the CRM's limit and by
    /// the adapter's budgets of every request, and counts it. An adapter
    /// that hands the result back with [`Throttle::answered`] once the
    /// CRM answers frees the request's place in the windows sooner.
    pub async fn request(&self) -> Counted {
        self.wait(None).await
    }

    /// [`Throttle::request`] for a request that also counts against the
    /// budget `name` (a [`Budget::some_requests`]).
    pub async fn request_in(&self, name: &str) -> Counted {
        self.wait(Some(name)).await
    }

    /// The request `counted` was answered (its response's head came back)
    /// `latency` after it was sent: the latency is seen by its limits (as
    /// [`Throttle::observe_latency`]), and the request keeps its place in
    /// their windows only for how much later than the fastest request it
    /// was answered, instead of the spread of recent latencies (the CRM
    /// counted it before answering).
    pub fn answered(&self, counted: &Counted, latency: Duration) {
        let Some(limits) = self.limits else {
            return;
        };
        let now = Instant::now();
        let budgets = counted.budgets.iter().filter_map(|(name, stamp)| {
            limits.budget(name).map(|limiter| (limiter.as_ref(), stamp))
        });
        for (limiter, stamp) in limits
            .crm
            .as_deref()
            .zip(counted.crm.as_ref())
            .into_iter()
            .chain(budgets)
        {
            limiter.observe_latency(latency);
            limiter.answered(stamp, now);
        }
    }

    async fn wait(&self, name: Option<&str>) -> Counted {
        let mut counted = Counted::default();
        let Some(limits) = self.limits else {
            return counted;
        };
        let started = Instant::now();
        let prepaid = self
            .prepaid
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        // The budgets first, the CRM's limit last: the CRM's window is the
        // one other processes share, so its count is taken (or moved) as
        // close to the send as can be.
        let mut budgets = Vec::new();
        for budget in limits
            .budgets
            .iter()
            .filter(|budget| budget.every_request || Some(budget.name) == name)
        {
            budgets.push((budget.name, &budget.limiter, budget.limiter.take().await));
        }
        counted.crm = match (&limits.crm, prepaid) {
            (Some(crm), Some(stamp)) => Some(crm.restamp(stamp).await),
            (Some(crm), None) => Some(crm.take().await),
            (None, _) => None,
        };
        // A budget counted before a wait for the CRM's limit is sent now.
        for (name, limiter, stamp) in budgets {
            counted.budgets.push((name, limiter.restamp(stamp).await));
        }
        if let Some(metrics) = limits.metrics.get() {
            metrics.waited(started.elapsed());
        }
        counted
    }

    /// The request series of the CRM this call is for (none outside an
    /// engine, or before it is built): the HTTP layer counts each request
    /// it sends there.
    pub(crate) fn metrics(&self) -> Option<&CrmMetrics> {
        self.limits.and_then(|limits| limits.metrics.get())
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
    /// has left the window (its margin included, not the slowest response
    /// on top: issue 26, item 5); with nothing counted here, a whole window.
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
        assert_eq!(
            resumed,
            Duration::from_millis(2_000 + 10_000 + 100),
            "2 s + the window and its 1% margin"
        );

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
    /// 10% of the period): 10 ms and 60 ms responses add 50 ms.
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
            Duration::from_millis(1_000 + 10 + 100),
            "capped at 10% of the period"
        );
    }

    /// A window shared with other processes keeps the widest margin (10%
    /// of the period) until this process has seen a few latencies of its
    /// own; then the spread of those, as its own window.
    #[test]
    fn ratelimit_a_shared_window_keeps_the_widest_margin_until_latencies_are_known() {
        let limiter = RateLimiter::new(RateLimit::new(10, Duration::from_secs(1)).unwrap());
        limiter.observe_latency(Duration::from_millis(300));
        limiter.observe_latency(Duration::from_millis(320));
        assert_eq!(limiter.shared_late_by(), Duration::from_millis(100));
        assert_eq!(limiter.window(), Duration::from_millis(1_000 + 10 + 20));
        for _ in 2..SHARED_LATENCY_SAMPLES {
            limiter.observe_latency(Duration::from_millis(310));
        }
        assert_eq!(limiter.shared_late_by(), Duration::from_millis(20));
    }

    /// A request answered as fast as the fastest keeps its place only for
    /// the window and its fixed margin, not for the spread of latencies a
    /// request not answered yet keeps (issue 26, item 5): at 1 s of
    /// latency the next window opens once the answer is back.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_an_answered_request_frees_its_place_before_the_worst_spread() {
        let limits = CrmLimits::new(
            Some(RateLimit::new(1, Duration::from_secs(1)).unwrap()),
            &[],
            &RateBudgets::new(),
        );
        let limiter = limits.rate_limiter().unwrap();
        limiter.observe_latency(Duration::from_millis(1_000));
        limiter.observe_latency(Duration::from_millis(1_060));
        let start = Instant::now();
        let call = Throttle::for_call(&limits).await;
        let counted = call.request().await;
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        call.answered(&counted, Duration::from_millis(1_000));
        Throttle::for_call(&limits).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1_000 + 10),
            "answered as fast as the fastest: the window and its 1% only"
        );
        // Not answered: the spread of 60 ms is kept.
        let next = Instant::now();
        Throttle::for_call(&limits).await;
        assert_eq!(next.elapsed(), Duration::from_millis(1_000 + 10 + 60));
    }

    /// A task already waiting for a place is woken by an answer that frees
    /// one sooner than the wait it sleeps on.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_an_answer_wakes_a_request_waiting_for_the_worst_spread() {
        let limits = Arc::new(CrmLimits::new(
            Some(RateLimit::new(1, Duration::from_secs(1)).unwrap()),
            &[],
            &RateBudgets::new(),
        ));
        let limiter = limits.rate_limiter().unwrap();
        limiter.observe_latency(Duration::from_millis(500));
        limiter.observe_latency(Duration::from_millis(600));
        let start = Instant::now();
        let call = Throttle::for_call(&limits).await;
        let counted = call.request().await;
        let waiting = tokio::spawn({
            let limits = Arc::clone(&limits);
            async move {
                Throttle::for_call(&limits).await;
                start.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        call.answered(&counted, Duration::from_millis(500));
        assert_eq!(
            waiting.await.unwrap(),
            Duration::from_millis(1_000 + 10),
            "not 1,110 ms: the answer came back as fast as the fastest"
        );
    }

    /// One slow response widens the margin only while it is among the
    /// recent latencies (issue 26, item 5: the spread of a whole run kept
    /// a 1-second window at its cap for good).
    #[tokio::test(start_paused = true)]
    async fn ratelimit_an_old_slow_response_leaves_the_margin() {
        let limiter = RateLimiter::new(RateLimit::new(1, Duration::from_secs(1)).unwrap());
        limiter.observe_latency(Duration::from_secs(5));
        for _ in 0..LATENCY_SAMPLES {
            limiter.observe_latency(Duration::from_millis(300));
        }
        let start = Instant::now();
        limiter.throttle().await;
        limiter.throttle().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1_000 + 10));
    }

    /// A request that waits for a budget after the CRM's limit counted it
    /// (the engine counts a call's first request before the adapter says
    /// which budget it needs) is counted as sent when it leaves: the next
    /// request keeps a whole window from its real send.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_a_request_held_by_a_budget_counts_from_when_it_leaves() {
        let per_second = RateLimit::new(1, Duration::from_secs(1)).unwrap();
        let limits = CrmLimits::new(
            Some(per_second),
            &[Budget::some_requests("search", b"token", per_second)],
            &RateBudgets::new(),
        );
        let start = Instant::now();
        // A search now uses the search budget until 1.01 s.
        limits.budget("search").unwrap().throttle().await;
        let call = Throttle::for_call(&limits).await;
        call.request_in("search").await;
        let left = start.elapsed();
        assert_eq!(left, Duration::from_millis(1_010), "held by the budget");
        Throttle::for_call(&limits).await;
        assert_eq!(
            start.elapsed(),
            left + Duration::from_millis(1_010),
            "a window after the search left, not after it was counted"
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
