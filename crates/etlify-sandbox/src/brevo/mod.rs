//! Brevo's contacts API, version 3 (docs/CRM-APIS.md, BREVO-1..BREVO-6):
//! the `api-key` header, contacts created or updated by email or
//! `ext_id`, read, updated and deleted by an identifier, the account
//! endpoint; rolling rate-limit windows with their `x-sib-ratelimit-*`
//! headers on every answer, faults.

pub(crate) mod admin;
pub mod config;
pub(crate) mod errors;
pub(crate) mod routes;
pub mod store;

use std::sync::Mutex;
use std::time::Duration;

use self::config::{BrevoConfig, BrevoRateLimits};
use self::store::BrevoStore;
use crate::faults::FaultInjector;
use crate::ratelimit::SlidingWindow;

/// Statuses injected when the fault configuration lists none.
const DEFAULT_FAULT_STATUSES: &[u16] = &[500, 502, 503];

/// The Brevo side's state; each part locked on its own, briefly.
#[derive(Debug)]
pub(crate) struct BrevoSide {
    pub(crate) store: Mutex<BrevoStore>,
    pub(crate) limiter: Mutex<BrevoLimiter>,
    pub(crate) faults: Mutex<FaultInjector>,
}

impl BrevoSide {
    pub(crate) fn new(config: &BrevoConfig) -> Self {
        Self {
            store: Mutex::new(BrevoStore::new(config)),
            limiter: Mutex::new(BrevoLimiter::new(config.rate_limits.clone())),
            faults: Mutex::new(FaultInjector::new(
                config.faults.clone(),
                DEFAULT_FAULT_STATUSES,
            )),
        }
    }
}

/// Which endpoints a request counts against (BREVO-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// `/v3/contacts…`.
    Contacts,
    /// Every other endpoint.
    Other,
}

impl Bucket {
    pub(crate) fn of_path(path: &str) -> Self {
        if path == "/v3/contacts" || path.starts_with("/v3/contacts/") {
            Self::Contacts
        } else {
            Self::Other
        }
    }

    /// The request log's name of the bucket's window.
    pub(crate) fn policy(self) -> &'static str {
        match self {
            Self::Contacts => "brevo.contacts",
            Self::Other => "brevo.other",
        }
    }
}

/// What a bucket said of one request: admitted or not, and the figures
/// of its `x-sib-ratelimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    pub(crate) admitted: bool,
    pub(crate) limit: u64,
    pub(crate) remaining: u64,
    pub(crate) reset: Duration,
}

/// The two rolling windows of the account.
#[derive(Debug)]
pub(crate) struct BrevoLimiter {
    limits: BrevoRateLimits,
    contacts: SlidingWindow,
    other: SlidingWindow,
}

impl BrevoLimiter {
    pub(crate) fn new(limits: BrevoRateLimits) -> Self {
        Self {
            contacts: SlidingWindow::new(Duration::from_millis(limits.contacts_window_ms)),
            other: SlidingWindow::new(Duration::from_millis(limits.other_window_ms)),
            limits,
        }
    }

    pub(crate) fn limits(&self) -> &BrevoRateLimits {
        &self.limits
    }

    /// The window length of `bucket`.
    pub(crate) fn window(&self, bucket: Bucket) -> Duration {
        Duration::from_millis(match bucket {
            Bucket::Contacts => self.limits.contacts_window_ms,
            Bucket::Other => self.limits.other_window_ms,
        })
    }

    /// Counts one request of `bucket` at `now`, unless its window is full.
    pub(crate) fn admit(&mut self, bucket: Bucket, now: std::time::Instant) -> Admission {
        let (window, max) = match bucket {
            Bucket::Contacts => (&mut self.contacts, self.limits.contacts_max),
            Bucket::Other => (&mut self.other, self.limits.other_max),
        };
        let full = self.limits.enabled && window.count(now) >= max;
        let used = if full { max } else { window.record(now) };
        let reset = window.time_to_free_slot(now);
        Admission {
            admitted: !full,
            limit: max,
            remaining: max.saturating_sub(used),
            reset,
        }
    }
}
