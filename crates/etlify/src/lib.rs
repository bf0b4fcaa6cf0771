//! # Etlify
//!
//! Keeps a subset of an application's relational data mirrored in CRMs
//! (HubSpot, Airtable, any [`Adapter`]) **idempotently**: a record is sent
//! only when its payload really changed, and no update is ever lost.
//!
//! The principal types:
//! - [`Store`]: the database (SQLite or PostgreSQL) holding the
//!   application's tables and the sync state (`crm_synchronisations`,
//!   `etlify_pending_syncs`), created by [`migrate`].
//! - [`Crm`]: a named CRM with its [`Adapter`], `enabled` flag, rate limit
//!   and error budget.
//! - [`Model`] and [`Binding`]: a table declared to Etlify and its
//!   configuration for one CRM (object type, id property, payload source,
//!   `sync_if`, `stale_scope`, dependencies).
//! - [`Etlify`]: the engine, built and validated by [`Etlify::builder`];
//!   [`Etlify::sync`] and [`Etlify::delete`] act on one record,
//!   [`Etlify::batch_sync`] on every stale record (found by the finder,
//!   [`Etlify::stale_ids`]) in pages, [`Etlify::plan`] counts them.
//! - [`adapters`]: [`adapters::HubSpotAdapter`], [`adapters::AirtableAdapter`],
//!   [`adapters::NullAdapter`], and the traits to write your own.
//!
//! Where things are decided: `stale/finder.rs` (what is stale),
//! `sync/synchronizer.rs` and `sync/batch.rs` (what is sent and recorded),
//! `store/` (sync-state tables, per backend), `adapters/` (CRM APIs).
//!
//! ```no_run
//! use std::sync::Arc;
//! use etlify::{adapters::NullAdapter, Binding, Crm, Etlify, MigrateOptions, Model, SqlPayload, Store};
//!
//! # async fn run() -> etlify::Result<()> {
//! let store = Store::connect("sqlite://app.db").await?;
//! etlify::migrate(&store, &MigrateOptions::default()).await?;
//! let etlify = Etlify::builder(store)
//!     .crm(Crm::new("hubspot", Arc::new(NullAdapter::new())))
//!     .model(Model::new("User", "users").bind(
//!         "hubspot",
//!         Binding::new("contacts", "email").payload(SqlPayload::new(
//!             "SELECT id, email, full_name FROM users",
//!         )),
//!     ))
//!     .build()
//!     .await?;
//! let dispatch = etlify.sync("hubspot", "User", 42).await?;
//! assert!(dispatch.succeeded());
//! # Ok(())
//! # }
//! ```

pub mod adapters;
mod config;
mod crm;
pub mod dependency;
pub mod digest;
mod engine;
mod error;
mod id;
mod model;
mod outcome;
mod payload;
mod ratelimit;
mod stale;
pub mod store;
mod sync;

pub use crate::adapters::{Adapter, AdapterError, AdapterErrorKind, BatchAdapter, BatchItem};
pub use crate::config::{Config, DEFAULT_MAX_SYNC_ERRORS};
pub use crate::crm::{Crm, CrmRegistry, JobOptions};
pub use crate::dependency::{Dependency, Hop, SyncDependency};
pub use crate::digest::{DigestStrategy, StableSha256};
pub use crate::engine::{migrate, revert_migration, Etlify, EtlifyBuilder};
pub use crate::error::{ConfigError, Error, ErrorKind, Result};
pub use crate::id::{ResourceId, SyncKey};
pub use crate::model::{Binding, Model, StiFilter, SyncIf, TimestampColumn};
pub use crate::outcome::{BatchStats, DeleteOutcome, SyncDispatch, SyncOutcome};
pub use crate::payload::{LoadedPayloads, Payload, PayloadSource, RowPayload, SqlPayload};
pub use crate::ratelimit::{RateLimit, RateLimiter, RateLimiterSlot};
pub use crate::stale::{
    BatchSyncOptions, FinderPlan, PlanEntry, Progress, ProgressFn, RunStats, StaleIds,
};
pub use crate::store::schema::{MigrateOptions, SchemaProblem, SchemaReport};
pub use crate::store::{BackendKind, Store, SyncRow, Timestamp};
pub use crate::sync::{BatchSynchronizer, Deleter, Synchronizer};
