//! The HubSpot CRM v3 objects API (CONTRACTS §1).

pub(crate) mod batch;
pub(crate) mod errors;
pub(crate) mod gate;
pub(crate) mod routes;
pub(crate) mod search;
pub mod store;
