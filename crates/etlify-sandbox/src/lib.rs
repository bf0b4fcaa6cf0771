//! Local sandbox of the HubSpot CRM v3 objects API, the Airtable Web API
//! v0, Salesforce's REST API (sObject Collections), Brevo's contacts API
//! v3, Intercom's REST API (contacts and companies), and a receiver of
//! Etlify's signed webhook, for Etlify's tests, demo and benchmarks.
//!
//! One loopback HTTP server answers both APIs the way their contracts
//! (docs/CRM-APIS.md) describe: status codes, JSON shapes, error
//! envelopes, batch limits, 207 multi-status, search semantics, rate limits
//! and their headers. Faults (error statuses, latency, dropped connections)
//! can be injected, and everything it received can be inspected.
//!
//! * [`Sandbox::start`] takes a [`SandboxConfig`] and returns a [`RunningSandbox`]
//!   with the URLs to give to the adapters.
//! * [`RunningSandbox::admin`] gives a [`SandboxAdmin`]: stored objects and
//!   records, the [`RequestLogSnapshot`], reset, faults and limits — the same
//!   operations as the HTTP admin API under `/_sandbox`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), etlify_sandbox::SandboxError> {
//! use etlify_sandbox::{Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let hubspot_url = sandbox.hubspot_base_url(); // use as https://api.hubapi.com
//! let airtable_url = sandbox.airtable_base_url(); // use as https://api.airtable.com/v0
//! # let _ = (hubspot_url, airtable_url);
//! // ... run the code under test ...
//! let log = sandbox.admin().request_log();
//! assert_eq!(log.count("POST", "/crm/v3/objects/{objectType}/batch/upsert"), 0);
//! sandbox.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod admin;
mod airtable;
mod brevo;
pub mod config;
mod error;
mod faults;
mod gate;
mod hubspot;
mod intercom;
mod persist;
mod random;
mod ratelimit;
mod request_log;
mod salesforce;
mod server;
mod state;
mod webhook;

pub use admin::{FaultSettings, LimitSettings, ResetScope, SandboxAdmin, TargetApi};
pub use airtable::store::AirtableRecord;
pub use brevo::config::{BrevoAttributeKind, BrevoConfig, BrevoRateLimits, DEFAULT_BREVO_API_KEY};
pub use brevo::store::BrevoContact;
pub use config::AssociationLabelConfig;
pub use config::{
    AirtableConfig, AirtableRateLimits, BaseConfig, FaultConfig, FieldConfig, FieldKind,
    HubSpotConfig, HubSpotRateLimits, NotFoundStyle, ObjectTypeConfig, PropertyConfig,
    PropertyKind, SandboxConfig, SearchConfig, SecretToken, TableConfig, DEFAULT_AIRTABLE_TOKEN,
    DEFAULT_HUBSPOT_TOKEN,
};
pub use error::SandboxError;
pub use hubspot::associations::HubSpotAssociation;
pub use hubspot::store::HubSpotObject;
pub use intercom::config::{
    IntercomAttributeKind, IntercomConfig, IntercomLimits, DEFAULT_INTERCOM_TOKEN,
};
pub use intercom::store::{IntercomCompany, IntercomContact};
pub use request_log::{Api, EndpointCount, RequestEntry, RequestLogSnapshot, WindowPeak};
pub use salesforce::config::{
    SObjectConfig, SalesforceConfig, SalesforceFieldConfig, SalesforceFieldKind, SalesforceLimits,
    DEFAULT_SALESFORCE_CLIENT_ID, DEFAULT_SALESFORCE_CLIENT_SECRET,
};
pub use salesforce::store::SalesforceRecord;
pub use server::{RunningSandbox, Sandbox};
pub use webhook::config::{WebhookConfig, WebhookRateLimits, DEFAULT_WEBHOOK_SECRET};
pub use webhook::store::{WebhookEvent, WebhookObject};
