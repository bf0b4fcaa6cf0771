//! The state shared by all handlers: stores, limiters, faults, request log.
//! Each part has its own mutex, held only for short synchronous sections.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::airtable::store::AirtableStore;
use crate::config::{SandboxConfig, SearchConfig};
use crate::faults::FaultInjector;
use crate::hubspot::store::HubSpotStore;
use crate::random::Random;
use crate::ratelimit::{AirtableLimiter, HubSpotLimiter};
use crate::request_log::RequestLog;
use crate::webhook::routes::WebhookLimiter;
use crate::webhook::store::WebhookStore;

/// Statuses injected when a fault configuration lists none.
pub(crate) const HUBSPOT_DEFAULT_FAULT_STATUSES: &[u16] = &[502, 503, 504];
pub(crate) const AIRTABLE_DEFAULT_FAULT_STATUSES: &[u16] = &[500, 502, 503];
pub(crate) const WEBHOOK_DEFAULT_FAULT_STATUSES: &[u16] = &[500, 502, 503];

/// Everything the handlers and the admin API share.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The configuration the sandbox started with (tokens, paths, schemas).
    pub(crate) config: SandboxConfig,
    pub(crate) random: Mutex<Random>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) hubspot: Mutex<HubSpotStore>,
    pub(crate) hubspot_search: Mutex<SearchConfig>,
    pub(crate) hubspot_limiter: Mutex<HubSpotLimiter>,
    pub(crate) hubspot_faults: Mutex<FaultInjector>,
    pub(crate) airtable: Mutex<AirtableStore>,
    pub(crate) airtable_limiter: Mutex<AirtableLimiter>,
    pub(crate) airtable_faults: Mutex<FaultInjector>,
    pub(crate) webhook: Mutex<WebhookStore>,
    pub(crate) webhook_limiter: Mutex<WebhookLimiter>,
    pub(crate) webhook_faults: Mutex<FaultInjector>,
    pub(crate) salesforce: crate::salesforce::SalesforceSide,
    pub(crate) brevo: crate::brevo::BrevoSide,
    pub(crate) intercom: crate::intercom::IntercomSide,
}

pub(crate) type SharedState = Arc<AppState>;

impl AppState {
    pub(crate) fn new(config: SandboxConfig) -> Self {
        let now = Instant::now();
        let random = Random::new(config.seed);
        let airtable = AirtableStore::new(&config.airtable, config.seed);
        Self {
            log: Mutex::new(RequestLog::new(config.request_log_capacity, now)),
            hubspot: Mutex::new(HubSpotStore::new(&config.hubspot)),
            hubspot_search: Mutex::new(config.hubspot.search.clone()),
            hubspot_limiter: Mutex::new(HubSpotLimiter::new(
                config.hubspot.rate_limits.clone(),
                now,
            )),
            hubspot_faults: Mutex::new(FaultInjector::new(
                config.hubspot.faults.clone(),
                HUBSPOT_DEFAULT_FAULT_STATUSES,
            )),
            airtable: Mutex::new(airtable),
            airtable_limiter: Mutex::new(AirtableLimiter::new(config.airtable.rate_limits.clone())),
            airtable_faults: Mutex::new(FaultInjector::new(
                config.airtable.faults.clone(),
                AIRTABLE_DEFAULT_FAULT_STATUSES,
            )),
            webhook: Mutex::new(WebhookStore::default()),
            webhook_limiter: Mutex::new(WebhookLimiter::new(config.webhook.rate_limits.clone())),
            webhook_faults: Mutex::new(FaultInjector::new(
                config.webhook.faults.clone(),
                WEBHOOK_DEFAULT_FAULT_STATUSES,
            )),
            salesforce: crate::salesforce::SalesforceSide::new(&config.salesforce, now),
            brevo: crate::brevo::BrevoSide::new(&config.brevo),
            intercom: crate::intercom::IntercomSide::new(&config.intercom, now),
            random: Mutex::new(random),
            config,
        }
    }
}

/// Locks a mutex; a panic in another holder does not make the data unusable here.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
