//! The Intercom REST API (docs/CRM-APIS.md, INTERCOM-1..INTERCOM-8), under
//! `/intercom`: contacts (create, update, delete, search), companies
//! (create or update by `company_id`, find, delete), a contact attached
//! to companies, `/me`; the `Intercom-Version` header checked and
//! counted, fixed 10-second windows per app and per workspace with their
//! `X-RateLimit-*` headers, a search that may lag writes, faults.

pub(crate) mod admin;
pub mod config;
pub(crate) mod errors;
pub(crate) mod gate;
pub(crate) mod routes;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use self::config::{IntercomConfig, IntercomLimits};
use self::store::IntercomStore;
use crate::faults::FaultInjector;
use crate::ratelimit::FixedWindow;

/// Statuses injected when the fault configuration lists none.
const DEFAULT_FAULT_STATUSES: &[u16] = &[500, 502, 503];

/// The Intercom side's state; each part locked on its own, briefly.
#[derive(Debug)]
pub(crate) struct IntercomSide {
    pub(crate) store: Mutex<IntercomStore>,
    pub(crate) limiter: Mutex<IntercomLimiter>,
    pub(crate) faults: Mutex<FaultInjector>,
    /// Requests per `Intercom-Version` value (`""`: without the header).
    pub(crate) versions: Mutex<BTreeMap<String, u64>>,
}

impl IntercomSide {
    pub(crate) fn new(config: &IntercomConfig, now: Instant) -> Self {
        Self {
            store: Mutex::new(IntercomStore::new(config)),
            limiter: Mutex::new(IntercomLimiter::new(config.limits.clone(), now)),
            faults: Mutex::new(FaultInjector::new(
                config.faults.clone(),
                DEFAULT_FAULT_STATUSES,
            )),
            versions: Mutex::new(BTreeMap::new()),
        }
    }
}

/// What the `X-RateLimit-*` headers say after a request: the window that
/// binds (of the app's and the workspace's, the one with fewer requests
/// left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntercomUsage {
    pub(crate) limit: u64,
    pub(crate) remaining: u64,
    pub(crate) reset_in: Duration,
}

/// The windows of every app and of the workspace (INTERCOM-6), fixed
/// from one start so that they roll together.
#[derive(Debug)]
pub(crate) struct IntercomLimiter {
    limits: IntercomLimits,
    started: Instant,
    per_app: HashMap<usize, FixedWindow>,
    workspace: FixedWindow,
}

impl IntercomLimiter {
    pub(crate) fn new(limits: IntercomLimits, now: Instant) -> Self {
        Self {
            workspace: FixedWindow::new(Duration::from_millis(limits.window_ms), now),
            per_app: HashMap::new(),
            started: now,
            limits,
        }
    }

    pub(crate) fn limits(&self) -> &IntercomLimits {
        &self.limits
    }

    /// Admits (`Ok`) or refuses (`Err`) one request of `app` at `now`;
    /// either way, the usage its headers show.
    pub(crate) fn check(
        &mut self,
        app: usize,
        now: Instant,
    ) -> Result<IntercomUsage, IntercomUsage> {
        let limits = self.limits.clone();
        let window = Duration::from_millis(limits.window_ms);
        let started = self.started;
        let app_window = self
            .per_app
            .entry(app)
            .or_insert_with(|| FixedWindow::new(window, started));
        let limited = limits.enabled
            && (app_window.count(now) >= limits.per_app_max
                || self.workspace.count(now) >= limits.per_workspace_max);
        if !limited {
            app_window.record(now);
            self.workspace.record(now);
        }
        let app_left = limits.per_app_max.saturating_sub(app_window.count(now));
        let workspace_left = limits
            .per_workspace_max
            .saturating_sub(self.workspace.count(now));
        let reset_in = self.workspace.time_to_reset(now);
        let usage = if app_left <= workspace_left {
            IntercomUsage {
                limit: limits.per_app_max,
                remaining: app_left,
                reset_in,
            }
        } else {
            IntercomUsage {
                limit: limits.per_workspace_max,
                remaining: workspace_left,
                reset_in,
            }
        };
        if limited {
            Err(IntercomUsage {
                remaining: 0,
                ..usage
            })
        } else {
            Ok(usage)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intercom_windows_bind_per_app_then_per_workspace() {
        let start = Instant::now();
        let limits = IntercomLimits {
            per_app_max: 2,
            per_workspace_max: 3,
            window_ms: 10_000,
            ..IntercomLimits::default()
        };
        let mut limiter = IntercomLimiter::new(limits, start);
        assert_eq!(limiter.check(0, start).unwrap().remaining, 1);
        assert_eq!(limiter.check(0, start).unwrap().remaining, 0);
        let refused = limiter.check(0, start).unwrap_err();
        assert_eq!((refused.limit, refused.remaining), (2, 0));
        let other_app = limiter.check(1, start).unwrap();
        assert_eq!((other_app.limit, other_app.remaining), (3, 0));
        assert!(limiter.check(1, start).is_err(), "the workspace is full");
        let next = start + Duration::from_secs(10);
        assert_eq!(limiter.check(0, next).unwrap().remaining, 1);
    }
}
