//! CRM registration and its options (G-1, G-2, G-8, G-16).

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::adapters::Adapter;
use crate::error::ConfigError;
use crate::ratelimit::{RateLimit, RateLimiter};

/// A CRM to register: a name, an adapter and options.
///
/// ```
/// # use std::{sync::Arc, time::Duration};
/// # use etlify::{Crm, RateLimit, adapters::NullAdapter};
/// let crm = Crm::new("hubspot", Arc::new(NullAdapter::new()))
///     .enabled(true)
///     .rate_limit(RateLimit::new(100, Duration::from_secs(10)).unwrap())
///     .max_sync_errors(5);
/// assert_eq!(crm.get_name(), "hubspot");
/// ```
#[derive(Clone)]
pub struct Crm {
    name: String,
    adapter: Arc<dyn Adapter>,
    enabled: bool,
    rate_limit: Option<RateLimit>,
    max_sync_errors: Option<u32>,
    max_in_flight: usize,
}

/// Requests a batch run keeps in flight per CRM by default: enough to
/// reach a bound of 10 requests per second (HubSpot's 100 per 10 s) when
/// each request takes up to 400 ms.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

impl fmt::Debug for Crm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The adapter may hold credentials: only its kind is shown.
        f.debug_struct("Crm")
            .field("name", &self.name)
            .field("adapter", &self.adapter.kind())
            .field("enabled", &self.enabled)
            .field("rate_limit", &self.rate_limit)
            .field("max_sync_errors", &self.max_sync_errors)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl Crm {
    /// A CRM named `name` talking through `adapter`; enabled, unthrottled.
    pub fn new(name: impl Into<String>, adapter: Arc<dyn Adapter>) -> Self {
        Self {
            name: name.into(),
            adapter,
            enabled: true,
            rate_limit: None,
            max_sync_errors: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// Turns the CRM into a no-op when `false` (G-1, default `true`).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Throttles every request of this CRM (G-8).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Error budget of this CRM, overriding the global one (G-16).
    pub fn max_sync_errors(mut self, max: u32) -> Self {
        self.max_sync_errors = Some(max);
        self
    }

    /// Requests a batch run keeps in flight at once with this CRM
    /// (default [`DEFAULT_MAX_IN_FLIGHT`], at least 1): while they wait on
    /// the CRM, the next page is found, loaded and digested. The rate limit
    /// still caps every request.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Requests kept in flight at once by a batch run.
    pub fn get_max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Registered name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Whether the CRM is active.
    pub fn get_enabled(&self) -> bool {
        self.enabled
    }

    /// The adapter.
    pub fn get_adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    /// Configured rate limit, if any.
    pub fn get_rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// This CRM's own error budget, if set (else the global one applies).
    pub fn get_max_sync_errors(&self) -> Option<u32> {
        self.max_sync_errors
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let location = format!("crms.{}", self.name);
        if self.name.trim().is_empty() {
            return Err(ConfigError::new("crms", "name", "must not be empty"));
        }
        if self.max_sync_errors == Some(0) {
            return Err(ConfigError::new(
                location,
                "max_sync_errors",
                "must be a positive integer",
            ));
        }
        Ok(())
    }
}

/// The registered CRMs, in registration order (as in the gem).
#[derive(Debug, Clone, Default)]
pub struct CrmRegistry {
    crms: IndexMap<String, Crm>,
}

impl CrmRegistry {
    /// Registers `crm`, replacing an earlier one of the same name (as in the gem), and
    /// installs its rate limiter into the adapter (G-8).
    pub fn register(&mut self, crm: Crm) -> Result<(), ConfigError> {
        crm.validate()?;
        if let (Some(limit), Some(slot)) = (crm.rate_limit, crm.adapter.rate_limiter_slot()) {
            slot.install(Arc::new(RateLimiter::new(limit)));
        }
        self.crms.insert(crm.name.clone(), crm);
        Ok(())
    }

    /// The CRM named `name`.
    pub fn get(&self, name: &str) -> Option<&Crm> {
        self.crms.get(name)
    }

    /// Registered names in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.crms.keys().map(String::as_str)
    }

    /// All registered CRMs.
    pub fn iter(&self) -> impl Iterator<Item = &Crm> {
        self.crms.values()
    }

    /// Whether `name` is enabled; `true` for unknown names on purpose (G-2).
    pub fn enabled(&self, name: &str) -> bool {
        self.crms.get(name).is_none_or(|crm| crm.enabled)
    }
}
