//! A receiver of Etlify's signed webhook (issue 30, item 5): it checks
//! each request's `Etlify-Signature`, applies each event once by its key,
//! answers one entry per event, and takes the same faults and a rate limit
//! like the CRM APIs beside it.
//!
//! Files: `config.rs` (its settings), `signature.rs` (verification),
//! `store.rs` (objects, events, keys already applied), `routes.rs` (the
//! endpoint: log, latency, signature, rate limit, faults, handler).

pub(crate) mod config;
pub(crate) mod routes;
pub(crate) mod signature;
pub(crate) mod store;
