//! The Airtable Web API v0 (docs/CRM-APIS.md, AIRTABLE-1..AIRTABLE-9).

pub(crate) mod errors;
pub(crate) mod formula;
pub(crate) mod gate;
pub(crate) mod routes;
pub(crate) mod schema;
pub mod store;
