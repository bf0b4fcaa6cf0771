//! The org's daily API allocation as the adapter last saw it, read from
//! every answer's `Sforce-Limit-Info` header (SALESFORCE-6): a run stops
//! before the allocation's end, so that the org's other integrations keep
//! their share, and the CRM's run is interrupted (retriable later) instead
//! of its records failing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::adapters::http::HttpResponse;
use crate::adapters::{AdapterError, AdapterErrorKind};

/// How long a reading that said "nearly spent" holds requests back: then
/// one request is let through to read the allocation anew (it rolls over
/// 24 hours, and other integrations' use comes and goes).
pub(super) const HELD_FOR: Duration = Duration::from_secs(5 * 60);

/// One reading of the header.
#[derive(Debug, Clone, Copy)]
struct Reading {
    used: u64,
    max: u64,
    at: Instant,
}

/// The last reading, and the share to leave unused.
#[derive(Debug)]
pub(super) struct Allocation {
    reserve_percent: u8,
    last: Mutex<Option<Reading>>,
}

impl Allocation {
    pub(super) fn new(reserve_percent: u8) -> Self {
        Self {
            reserve_percent,
            last: Mutex::new(None),
        }
    }

    /// Records the `Sforce-Limit-Info` of `response`, when it has one.
    pub(super) fn observe(&self, response: &HttpResponse) {
        if let Some((used, max)) = response.header("sforce-limit-info").and_then(api_usage) {
            *self.lock() = Some(Reading {
                used,
                max,
                at: Instant::now(),
            });
        }
    }

    /// The allocation was answered spent (a 403): held back as a reading
    /// of "all used" would.
    pub(super) fn spent(&self) {
        let mut last = self.lock();
        let max = last.map_or(1, |reading| reading.max.max(1));
        *last = Some(Reading {
            used: max,
            max,
            at: Instant::now(),
        });
    }

    /// `Err` (rate limited, retriable later) when the last reading, still
    /// fresh, leaves no more than the reserve.
    pub(super) fn check(&self) -> Result<(), AdapterError> {
        let Some(reading) = *self.lock() else {
            return Ok(());
        };
        if reading.at.elapsed() >= HELD_FOR
            || !nearly_spent(reading.used, reading.max, self.reserve_percent)
        {
            return Ok(());
        }
        Err(AdapterError::new(
            AdapterErrorKind::RateLimited,
            format!(
                "Salesforce's daily API allocation is nearly spent ({} of {} requests used; {}% is \
                 left to the org's other integrations): this CRM's run stops here and can run \
                 again once the allocation recovers",
                reading.used, reading.max, self.reserve_percent
            ),
        )
        .retry_after(HELD_FOR))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Reading>> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether `used` of `max` leaves no more than `reserve_percent` of it
/// (at least one request: the allocation's very end).
pub(super) fn nearly_spent(used: u64, max: u64, reserve_percent: u8) -> bool {
    let reserve = (max.saturating_mul(u64::from(reserve_percent)) / 100).max(1);
    max.saturating_sub(used) < reserve
}

/// `(used, max)` of a `Sforce-Limit-Info` value: `api-usage=25/15000`,
/// possibly among other entries (`; per-app-api-usage=…`).
pub(super) fn api_usage(header: &str) -> Option<(u64, u64)> {
    header
        .split([',', ';'])
        .filter_map(|entry| entry.trim().split_once('='))
        .find(|(name, _)| name.trim() == "api-usage")
        .and_then(|(_, value)| value.split_once('/'))
        .and_then(|(used, max)| Some((used.trim().parse().ok()?, max.trim().parse().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_limit_info_is_read_among_other_entries() {
        assert_eq!(api_usage("api-usage=25/15000"), Some((25, 15000)));
        assert_eq!(
            api_usage("per-app-api-usage=3/100(appName=x); api-usage=7/50"),
            Some((7, 50))
        );
        assert_eq!(api_usage("api-usage=lots"), None);
    }

    #[test]
    fn salesforce_allocation_stops_at_the_reserve_and_at_its_end() {
        // 5% of 100 is 5: 96 used leaves 4, under the reserve.
        assert!(!nearly_spent(95, 100, 5));
        assert!(nearly_spent(96, 100, 5));
        // Without a reserve, only the very end stops.
        assert!(!nearly_spent(99, 100, 0));
        assert!(nearly_spent(100, 100, 0));
        assert!(nearly_spent(150, 100, 0));
    }
}
