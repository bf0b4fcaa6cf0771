//! The HubSpot CRM v3 objects API (docs/CRM-APIS.md, HUBSPOT-1..HUBSPOT-10).

pub(crate) mod associations;
pub(crate) mod batch;
pub(crate) mod errors;
pub(crate) mod gate;
pub(crate) mod properties;
pub(crate) mod routes;
pub(crate) mod search;
pub mod store;
