//! Integration tests of the `etlify` library, compiled into one binary.
//!
//! Database tests run twice, on SQLite and on PostgreSQL, under modules
//! named after the backend (`sync::sqlite::g3_…`, `sync::postgres::g3_…`).
//! Tests proving an acceptance item of SPEC.md carry its id as a prefix.

#![allow(clippy::unwrap_used)]

mod support;

mod config; // registry, builder validation (G-1, G-2, X-14, SPEC §7)
mod delete; // the deleter (G-3, G-4, X-11)
mod digest; // digest vectors of the original gem
mod finder; // the stale finder, one scenario per F-id, both plans
mod schema; // migrations, schema check, indexes (X-6, G-26)
mod sync; // the per-record synchronizer (G-3, G-4, G-21, G-24, G-25, X-1, X-2, X-8, X-12)
