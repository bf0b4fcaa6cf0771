//! Integration tests of the sandbox, over real loopback HTTP.
#![allow(clippy::unwrap_used)]

// Shared start-up and HTTP helpers.
#[path = "sandbox/common.rs"]
mod common;
// HubSpot objects, batch, search, auth, errors.
#[path = "sandbox/hubspot.rs"]
mod hubspot;
// HubSpot v4 associations: batch create and archive, labels, 207, limits.
#[path = "sandbox/associations.rs"]
mod associations;
// HubSpot's path families, required properties, secondary emails.
#[path = "sandbox/versions.rs"]
mod versions;
// HubSpot and Airtable rate limits.
#[path = "sandbox/limits.rs"]
mod limits;
// Airtable records, upsert, formulas, errors.
#[path = "sandbox/airtable.rs"]
mod airtable;
// Salesforce tokens, collections, allocation, concurrency.
#[path = "sandbox/salesforce.rs"]
mod salesforce;
// Intercom contacts, search, companies, versions, windows.
#[path = "sandbox/intercom.rs"]
mod intercom;
// Injected errors, latency, dropped connections.
#[path = "sandbox/faults.rs"]
mod faults;
// Request log, admin API, persistence, configuration.
#[path = "sandbox/admin.rs"]
mod admin;
// The HubSpot properties API and Airtable's metadata API.
#[path = "sandbox/schema.rs"]
mod schema;
// Brevo contacts, identifiers, attributes, lists, windows and their headers.
#[path = "sandbox/brevo.rs"]
mod brevo;
