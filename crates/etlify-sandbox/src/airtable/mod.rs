//! The Airtable Web API v0 (CONTRACTS §2).

pub(crate) mod errors;
pub(crate) mod formula;
pub(crate) mod gate;
pub(crate) mod routes;
pub mod store;
