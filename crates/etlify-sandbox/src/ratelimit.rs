//! Rate-limit buckets of both APIs, as HUBSPOT-10 and AIRTABLE-7 describe them.
//!
//! * HubSpot: a rolling 10-second bucket per app (token), a daily bucket per
//!   account (fixed window from start, shared by all tokens) and a rolling
//!   per-second bucket for search (per account). Search requests count in
//!   the search and daily buckets, not in the 10-second one.
//! * Airtable: rolling one-second buckets per base and per token; after a
//!   429 the bucket stays closed for the penalty (30 s by default).
//!
//! Only admitted requests use up a bucket; rejected ones do not.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::config::{AirtableRateLimits, HubSpotRateLimits};

/// Requests seen in the trailing `length` of time.
///
/// Requests are counted at the instant they arrived (`gate::arrival`), which
/// may come after the instant of a request counted before them when their
/// tasks ran late: hits are kept in order of arrival, and a request is not
/// counted against one that arrived after it.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    length: Duration,
    /// Arrival instants, oldest first.
    hits: VecDeque<Instant>,
}

/// How late a request may be counted after a request that arrived after
/// it: hits are kept this long past the window for it.
const COUNTED_LATE_AT_MOST: Duration = Duration::from_secs(5);

impl SlidingWindow {
    pub(crate) fn new(length: Duration) -> Self {
        Self {
            length,
            hits: VecDeque::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some(oldest) = self.hits.front() {
            if now.saturating_duration_since(*oldest) >= self.length + COUNTED_LATE_AT_MOST {
                self.hits.pop_front();
            } else {
                break;
            }
        }
    }

    /// The hits in the window ending at `now`: arrived after `now - length`,
    /// not after `now`.
    fn in_window(&self, now: Instant) -> impl Iterator<Item = &Instant> {
        self.hits
            .iter()
            .filter(move |hit| **hit <= now && now.saturating_duration_since(**hit) < self.length)
    }

    /// Requests in the window ending at `now`.
    pub(crate) fn count(&mut self, now: Instant) -> u64 {
        self.prune(now);
        self.in_window(now).count() as u64
    }

    /// Records one request at `now` and returns the new count.
    pub(crate) fn record(&mut self, now: Instant) -> u64 {
        self.prune(now);
        let at = self.hits.partition_point(|hit| *hit <= now);
        self.hits.insert(at, now);
        self.in_window(now).count() as u64
    }

    /// Time until the oldest request leaves the window (a free slot opens).
    pub(crate) fn time_to_free_slot(&mut self, now: Instant) -> Duration {
        self.prune(now);
        self.in_window(now).next().map_or(Duration::ZERO, |oldest| {
            self.length
                .saturating_sub(now.saturating_duration_since(*oldest))
        })
    }
}

/// Requests counted in consecutive fixed windows of `length` from `started`.
#[derive(Debug)]
pub(crate) struct FixedWindow {
    length: Duration,
    window_start: Instant,
    count: u64,
}

impl FixedWindow {
    pub(crate) fn new(length: Duration, now: Instant) -> Self {
        Self {
            length,
            window_start: now,
            count: 0,
        }
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= self.length {
            let length_nanos = self.length.as_nanos().max(1);
            let windows_passed = elapsed.as_nanos() / length_nanos;
            let advance = self
                .length
                .saturating_mul(u32::try_from(windows_passed).unwrap_or(u32::MAX));
            self.window_start += advance;
            self.count = 0;
        }
    }

    pub(crate) fn count(&mut self, now: Instant) -> u64 {
        self.roll(now);
        self.count
    }

    pub(crate) fn record(&mut self, now: Instant) -> u64 {
        self.roll(now);
        self.count += 1;
        self.count
    }

    pub(crate) fn time_to_reset(&mut self, now: Instant) -> Duration {
        self.roll(now);
        self.length
            .saturating_sub(now.saturating_duration_since(self.window_start))
    }
}

/// Which HubSpot limit a request hit; the names are HubSpot's `policyName`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HubSpotPolicy {
    /// Per-account daily bucket.
    Daily,
    /// Per-app rolling 10-second bucket.
    TenSecondlyRolling,
    /// Search per-second bucket.
    Secondly,
}

impl HubSpotPolicy {
    pub(crate) fn policy_name(self) -> &'static str {
        match self {
            Self::Daily => "DAILY",
            Self::TenSecondlyRolling => "TEN_SECONDLY_ROLLING",
            Self::Secondly => "SECONDLY",
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Daily => "You have reached your daily limit.",
            Self::TenSecondlyRolling => "You have reached your ten_secondly_rolling limit.",
            Self::Secondly => "You have reached your secondly limit.",
        }
    }
}

/// Values of the `X-HubSpot-RateLimit-*` headers after a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HubSpotUsage {
    pub(crate) daily_max: u64,
    pub(crate) daily_remaining: u64,
    pub(crate) interval_ms: u64,
    pub(crate) max: u64,
    pub(crate) remaining: u64,
}

/// Outcome of asking the HubSpot buckets for one request.
#[derive(Debug)]
pub(crate) enum HubSpotDecision {
    Allowed(HubSpotUsage),
    Limited {
        policy: HubSpotPolicy,
        retry_after: Duration,
        usage: HubSpotUsage,
    },
}

/// All HubSpot buckets.
#[derive(Debug)]
pub(crate) struct HubSpotLimiter {
    limits: HubSpotRateLimits,
    per_app: HashMap<usize, SlidingWindow>,
    daily: FixedWindow,
    search: SlidingWindow,
}

impl HubSpotLimiter {
    pub(crate) fn new(limits: HubSpotRateLimits, now: Instant) -> Self {
        Self {
            daily: FixedWindow::new(Duration::from_millis(limits.daily_window_ms), now),
            search: SlidingWindow::new(Duration::from_millis(limits.search_window_ms)),
            per_app: HashMap::new(),
            limits,
        }
    }

    pub(crate) fn limits(&self) -> &HubSpotRateLimits {
        &self.limits
    }

    /// Admits or rejects one request of `app` (index of its token).
    pub(crate) fn check(&mut self, app: usize, is_search: bool, now: Instant) -> HubSpotDecision {
        let limits = self.limits.clone();
        let app_window = self
            .per_app
            .entry(app)
            .or_insert_with(|| SlidingWindow::new(Duration::from_millis(limits.per_app_window_ms)));
        let daily_used = self.daily.count(now);
        let app_used = app_window.count(now);
        let usage = |daily_used: u64, app_used: u64| HubSpotUsage {
            daily_max: limits.daily_max,
            daily_remaining: limits.daily_max.saturating_sub(daily_used),
            interval_ms: limits.per_app_window_ms,
            max: limits.per_app_max,
            remaining: limits.per_app_max.saturating_sub(app_used),
        };
        if limits.enabled {
            let limited = if daily_used >= limits.daily_max {
                Some((HubSpotPolicy::Daily, self.daily.time_to_reset(now)))
            } else if is_search && self.search.count(now) >= limits.search_max {
                Some((HubSpotPolicy::Secondly, self.search.time_to_free_slot(now)))
            } else if !is_search && app_used >= limits.per_app_max {
                Some((
                    HubSpotPolicy::TenSecondlyRolling,
                    app_window.time_to_free_slot(now),
                ))
            } else {
                None
            };
            if let Some((policy, retry_after)) = limited {
                return HubSpotDecision::Limited {
                    policy,
                    retry_after,
                    usage: usage(daily_used, app_used),
                };
            }
        }
        let daily_used = self.daily.record(now);
        let app_used = if is_search {
            self.search.record(now);
            app_used
        } else {
            app_window.record(now)
        };
        HubSpotDecision::Allowed(usage(daily_used, app_used))
    }
}

/// One Airtable bucket: a rolling window plus the penalty after a 429.
#[derive(Debug)]
struct PenaltyBucket {
    window: SlidingWindow,
    penalty_until: Option<Instant>,
}

/// Which Airtable bucket rejected a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AirtableScope {
    Base,
    Token,
}

/// All Airtable buckets.
#[derive(Debug)]
pub(crate) struct AirtableLimiter {
    limits: AirtableRateLimits,
    per_base: HashMap<String, PenaltyBucket>,
    per_token: HashMap<usize, PenaltyBucket>,
}

impl AirtableLimiter {
    pub(crate) fn new(limits: AirtableRateLimits) -> Self {
        Self {
            limits,
            per_base: HashMap::new(),
            per_token: HashMap::new(),
        }
    }

    pub(crate) fn limits(&self) -> &AirtableRateLimits {
        &self.limits
    }

    /// Admits a request for `base` by `token`, or returns the rejecting
    /// bucket and the time left before requests succeed again.
    pub(crate) fn check(
        &mut self,
        base: &str,
        token: usize,
        now: Instant,
    ) -> Result<(), (AirtableScope, Duration)> {
        let limits = self.limits.clone();
        let new_bucket = || PenaltyBucket {
            window: SlidingWindow::new(Duration::from_millis(limits.window_ms)),
            penalty_until: None,
        };
        let base_bucket = self
            .per_base
            .entry(base.to_owned())
            .or_insert_with(new_bucket);
        let token_bucket = self.per_token.entry(token).or_insert_with(new_bucket);
        if !limits.enabled {
            return Ok(());
        }
        let penalty = Duration::from_millis(limits.penalty_ms);
        for (scope, bucket, max) in [
            (AirtableScope::Base, &mut *base_bucket, limits.per_base_max),
            (
                AirtableScope::Token,
                &mut *token_bucket,
                limits.per_token_max,
            ),
        ] {
            if let Some(until) = bucket.penalty_until {
                if now < until {
                    return Err((scope, until - now));
                }
                bucket.penalty_until = None;
            }
            if bucket.window.count(now) >= max {
                bucket.penalty_until = Some(now + penalty);
                return Err((scope, penalty));
            }
        }
        base_bucket.window.record(now);
        token_bucket.window.record(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request counted after one that arrived after it (its task ran
    /// late) is not counted against that later one, and counts against
    /// the requests that arrive after both.
    #[test]
    fn probe_a_request_counted_late_counts_at_its_arrival() {
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        let mut window = SlidingWindow::new(Duration::from_millis(1_000));
        assert_eq!(window.record(ms(1_105)), 1);
        // Arrived at 1,000 ms, counted after the one of 1,105 ms.
        assert_eq!(
            window.record(ms(1_000)),
            1,
            "not counted against a later arrival"
        );
        assert_eq!(window.count(ms(1_999)), 2);
        assert_eq!(window.count(ms(2_000)), 1, "the one of 1,000 ms has left");
        assert_eq!(
            window.time_to_free_slot(ms(2_000)),
            Duration::from_millis(105)
        );
        assert_eq!(window.count(ms(2_105)), 0);
    }
}
