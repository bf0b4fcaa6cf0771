//! The Salesforce REST API (docs/CRM-APIS.md, SALESFORCE-1..SALESFORCE-8):
//! the client-credentials token endpoint, sObject Collections upsert by
//! an external id, update and delete by id, an sObject's description and
//! the org's limits; tokens that expire, the daily allocation with its
//! `Sforce-Limit-Info` header, a limit of requests in flight, faults.

pub(crate) mod admin;
pub mod config;
pub(crate) mod errors;
pub(crate) mod gate;
pub(crate) mod routes;
pub mod store;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use self::config::{SalesforceConfig, SalesforceLimits};
use self::store::SalesforceStore;
use crate::faults::FaultInjector;

/// Statuses injected when the fault configuration lists none.
const DEFAULT_FAULT_STATUSES: &[u16] = &[500, 503];

/// The Salesforce side's state; each part locked on its own, briefly.
#[derive(Debug)]
pub(crate) struct SalesforceSide {
    pub(crate) store: Mutex<SalesforceStore>,
    pub(crate) sessions: Mutex<Sessions>,
    pub(crate) allocation: Mutex<Allocation>,
    pub(crate) faults: Mutex<FaultInjector>,
    /// Data requests being served now (SALESFORCE-7).
    pub(crate) in_flight: AtomicU64,
}

impl SalesforceSide {
    pub(crate) fn new(config: &SalesforceConfig, now: Instant) -> Self {
        Self {
            store: Mutex::new(SalesforceStore::new(config)),
            sessions: Mutex::new(Sessions::new(Duration::from_millis(config.token_ttl_ms))),
            allocation: Mutex::new(Allocation::new(config.limits.clone(), now)),
            faults: Mutex::new(FaultInjector::new(
                config.faults.clone(),
                DEFAULT_FAULT_STATUSES,
            )),
            in_flight: AtomicU64::new(0),
        }
    }
}

/// The access tokens issued, and when (SALESFORCE-1).
#[derive(Debug)]
pub(crate) struct Sessions {
    ttl: Duration,
    issued: HashMap<String, Instant>,
    count: u64,
}

impl Sessions {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            issued: HashMap::new(),
            count: 0,
        }
    }

    /// A new token, valid for the configured time from `now`.
    pub(crate) fn issue(&mut self, now: Instant) -> String {
        self.count += 1;
        // Shaped like Salesforce's: the org id, `!`, an opaque part.
        let token = format!("00D5g000000SBOX!sandbox.session.{:06}", self.count);
        self.issued.insert(token.clone(), now);
        token
    }

    /// Whether `token` was issued and has not expired at `now`.
    pub(crate) fn accepts(&self, token: &str, now: Instant) -> bool {
        self.issued
            .get(token)
            .is_some_and(|issued| now.duration_since(*issued) < self.ttl)
    }

    /// Every token issued so far expires now.
    pub(crate) fn expire_all(&mut self) {
        self.issued.clear();
    }

    /// Tokens issued so far.
    pub(crate) fn issued_count(&self) -> u64 {
        self.count
    }
}

/// The daily allocation (SALESFORCE-6), in fixed windows from its start.
#[derive(Debug)]
pub(crate) struct Allocation {
    limits: SalesforceLimits,
    window_start: Instant,
    used: u64,
}

impl Allocation {
    pub(crate) fn new(limits: SalesforceLimits, now: Instant) -> Self {
        Self {
            used: limits.daily_used,
            limits,
            window_start: now,
        }
    }

    pub(crate) fn limits(&self) -> &SalesforceLimits {
        &self.limits
    }

    fn roll(&mut self, now: Instant) {
        let window = Duration::from_millis(self.limits.daily_window_ms);
        if now.duration_since(self.window_start) >= window {
            self.window_start = now;
            self.used = 0;
        }
    }

    /// Counts one request at `now`: `Ok((used, max))`, or `Err` with the
    /// same figures when the allocation is spent (nothing counted).
    pub(crate) fn take(&mut self, now: Instant) -> Result<(u64, u64), (u64, u64)> {
        self.roll(now);
        let max = self.limits.daily_max;
        if self.used >= max {
            return Err((self.used, max));
        }
        self.used += 1;
        Ok((self.used, max))
    }

    /// `(used, max)` at `now`.
    pub(crate) fn usage(&mut self, now: Instant) -> (u64, u64) {
        self.roll(now);
        (self.used, self.limits.daily_max)
    }
}
