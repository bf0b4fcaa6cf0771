//! # Etlify
//!
//! Keeps a subset of an application's relational data mirrored in CRMs
//! (HubSpot, Airtable, any [`adapters::Adapter`]) **idempotently**: a
//! record is sent only when its payload really changed, and no update is
//! ever lost.
//!
//! The principal types:
//! - [`Store`]: the database (SQLite or PostgreSQL) holding the
//!   application's tables and the sync state (`crm_synchronisations`,
//!   `etlify_pending_syncs`), created by [`migrate`].
//! - [`Crm`]: a named CRM with its adapter, `enabled` flag, rate limit
//!   and error budget.
//! - [`Model`] and [`Binding`]: a table declared to Etlify and its
//!   configuration for one CRM (object type, id property, payload source,
//!   `sync_if`, `stale_scope`, dependencies).
//! - [`Etlify`]: the engine, built and validated by [`Etlify::builder`];
//!   [`Etlify::sync`] and [`Etlify::delete`] act on one record,
//!   [`Etlify::batch_sync`] on every stale record (found by the finder,
//!   [`Etlify::stale_ids`]) in pages, [`Etlify::plan`] counts them. A batch
//!   run that stopped short for one CRM or model (its token refused, its
//!   payload query failing) goes on with the others and still answers `Ok`:
//!   its [`RunStats`] says so ([`RunStats::is_complete`]), and
//!   [`RunStats::into_result`] turns it into an error
//!   (`etlify.batch_sync(&options).await?.into_result()?`).
//! - [`adapters`]: [`adapters::HubSpotAdapter`], [`adapters::AirtableAdapter`],
//!   [`adapters::WebhookAdapter`], [`adapters::NullAdapter`], and the traits
//!   to write your own.
//! - [`jobs`]: the queue seam ([`jobs::RecordJobs`], [`jobs::BatchJobs`])
//!   and the built-in queue, [`jobs::JobQueue`], that a [`Worker`] runs.
//!
//! ## One path per item
//!
//! Every public item has exactly one path. The everyday types — the
//! engine, its declarations, the store, outcomes, errors, the worker, the
//! schema functions ([`migrate`], [`check_schema`], …) — are at the crate
//! root, and the modules that define them are private. Two modules are
//! public, and their items are not repeated at the root: [`adapters`] (the
//! adapters shipped and what writing one takes) and [`jobs`] (the queue
//! seam and the built-in queue). Constants are public only when they are a
//! documented default a user may want to name (`DEFAULT_*`) or a text the
//! user sees or sizes against ([`FIX_COMMAND`], [`SQLITE_TIMESTAMP_FORMAT`],
//! [`CLOSE_GRACE`]). sqlx types
//! appear only in escape hatches named for the driver
//! ([`Store::from_sqlite_pool`], [`Store::sqlite_pool`], …), in
//! [`FromAnyRow`] (rows decoded by `#[derive(sqlx::FromRow)]`) and as the
//! cause inside [`Error::Database`]; reqwest types only in
//! [`adapters::http`], for writing an HTTP adapter.
//!
//! Where things are decided:
//! - `engine/`: the public face, thin over `context.rs` (store + catalog +
//!   follow-up seam), which every inner layer takes instead of the face;
//! - `catalog/`: declarations checked against the database (`resolve.rs`);
//! - `stale/finder.rs`: what is stale, as SQL rendered from plain inputs;
//!   `stale/pages.rs`: paging it;
//! - `sync/decision.rs`: what happens to a record (skip, fail, buffer, not
//!   modified, send), one pure function; `sync/synchronizer.rs` (one
//!   record) and `sync/page.rs` (a page) carry it out;
//!   `sync/follow_up.rs`: syncs a sync causes (dependencies, dependents);
//! - `runs/batch_run.rs`: a batch run over CRMs and models, above finding
//!   and sending; `runs/checkpointing.rs`: where it starts looking;
//! - `store/`: sync-state rows, pending rows, migrations; every lease
//!   taken in `store/leases/` (a CRM's batch run, a record's or a page's
//!   lock); every SQL difference between databases in
//!   `store/backend/sqlite/` and `store/backend/postgres/`;
//! - `payload.rs`: payload declarations; `adapters/`: CRM APIs.
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
mod alerts;
mod catalog;
mod changes;
mod config;
mod context;
mod crm;
mod crm_schema;
mod delete_policy;
mod dependency;
mod digest;
mod engine;
mod error;
mod field_digests;
mod id;
pub mod jobs;
mod link;
mod links;
mod metrics;
mod model;
mod outcome;
mod payload;
mod ratelimit;
mod runs;
mod schema_options;
mod stale;
mod store;
mod sync;
mod values;
mod worker;
mod write_mode;

pub use crate::alerts::{
    AlertFormat, AlertKind, AlertOptions, Webhook, DEFAULT_ALERT_ATTEMPTS,
    DEFAULT_ALERT_CHECK_INTERVAL,
};
pub use crate::changes::{
    change_trigger_tables, remove_change_triggers, ChangeWatch, ChangeWatchCounts, TriggerChanges,
};
pub use crate::config::{
    Config, DEFAULT_COMMIT_MARGIN, DEFAULT_COMPLETE_CHECK_INTERVAL, DEFAULT_MAX_SYNC_ERRORS,
};
pub use crate::config::{DEFAULT_KEEP_RUNS, DEFAULT_KEEP_RUNS_PER_CRM};
pub use crate::crm::SchemaCheck;
pub use crate::crm::ThrottledAssociations;
pub use crate::crm::{Crm, CrmRegistry, ThrottledAdapter, ThrottledBatch, DEFAULT_MAX_IN_FLIGHT};
pub use crate::crm_schema::{
    BindingSchema, BindingSchemaStatus, FieldProblem, FieldProblemKind, MissingFields,
};
pub use crate::delete_policy::{DeleteLimit, Disposal, DEFAULT_DELETE_LIMIT};
pub use crate::dependency::{Dependency, Hop, HopCondition, HopSide, JoinPath, SyncDependency};
pub use crate::digest::{canonical_json, stable_sha256, DigestStrategy, StableSha256};
pub use crate::engine::RateWindowUse;
pub use crate::engine::{
    check_key_types, check_schema, migrate, migrate_dry_run, require_schema_up_to_date,
    revert_migration, BatchEnqueued, Etlify, EtlifyBuilder, Forgotten, JobCounts, StatusEntry,
};
pub use crate::engine::{
    ConfigWarning, CrmAccess, SuggestedFix, WarningKind, WholeSecondTimestamps, TIMESTAMP_SAMPLE,
};
pub use crate::error::{BoxError, ConfigError, Error, ErrorKind, Remedy, Result};
pub use crate::id::{KeyStorage, KeyType, ResourceId, SyncKey};
pub use crate::link::{AssociationCategory, AssociationType, Link, LinkVia};
pub use crate::metrics::{Metrics, DEFAULT_METRICS_MIN_INTERVAL, METRICS_CONTENT_TYPE};
pub use crate::model::MatchBy;
pub use crate::model::{Binding, Model, StiFilter, SyncIf};
pub use crate::outcome::{
    BatchStats, DeleteOutcome, RecordError, RecordErrorKind, SyncDispatch, SyncOutcome,
};
pub use crate::payload::{LoadedPayloads, PayloadSource, RowPayload, SqlPayload};
pub use crate::ratelimit::{CrmLimits, RateBudgets, RateLimit, RateLimiter};
pub use crate::runs::{
    BatchSyncOptions, HeldDeletes, Interruption, LinkChange, LinkDiff, PayloadChange, PlanEntry,
    PlannedArchive, Progress, ProgressFn, RecordDiff, RunStats,
};
pub use crate::runs::{RunQuery, RunRecord, RunStatus, RunTrigger, DEFAULT_RUN_QUERY_LIMIT};
#[cfg(feature = "bench")]
pub use crate::stale::FinderPlan;
pub use crate::stale::{StaleIds, DEFAULT_BATCH_SIZE};
pub use crate::store::schema::{
    MigrateOptions, Migrated, SchemaProblem, SchemaReport, FIX_COMMAND,
};
pub use crate::store::{
    BackendKind, FromAnyRow, Store, StoreOptions, SyncRow, Timestamp, SQLITE_TIMESTAMP_FORMAT,
};
pub use crate::sync::{BatchSynchronizer, Deleter, Synchronizer};
pub use crate::values::{ColumnMapping, ColumnType, Payload, Rendering, TimestampColumn};
pub use crate::worker::{
    shutdown_signal, Health, HealthHandle, Worker, WorkerOptions, CLOSE_GRACE, DEFAULT_CONCURRENCY,
    DEFAULT_INTERVAL, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use crate::write_mode::WriteMode;
