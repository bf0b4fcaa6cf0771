//! The internal context the inner layers take: the store, the catalog and
//! the follow-up seam. A leaf: it imports neither the layers that take it
//! nor the face, which builds it and injects the follow-up strategy.
//!
//! `sync/`, `stale/` (and later the job workers) take a [`Context`], never
//! the public [`crate::Etlify`] face: when a face method changes meaning
//! (inline → enqueued), what the synchronizers do does not change with it.
//! A context is built from plain data (the catalog is resolved from the
//! declarations), so any process — the embedding service, the CLI from its
//! TOML file, a worker — rebuilds the same one.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::id::SyncKey;
use crate::metrics::Metrics;
use crate::store::rate_window::SharedWindow;
use crate::store::Store;

/// Store + catalog + follow-up seam, and the engine's metrics the inner
/// layers record into. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    store: Store,
    catalog: Arc<Catalog>,
    follow_up: Arc<dyn FollowUp>,
    metrics: Metrics,
}

impl Context {
    /// The context of `catalog` on `store`; follow-up work goes to
    /// `follow_up` (the face chooses: inline, or record jobs); syncs count
    /// in `metrics`.
    pub(crate) fn new(
        store: Store,
        catalog: Catalog,
        follow_up: Arc<dyn FollowUp>,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            catalog: Arc::new(catalog),
            follow_up,
            metrics,
        }
    }

    /// The engine's metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The database.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// This context on `store` (the same database with other lease owner
    /// tokens: a worker's, [`Store::with_lease_owner`]).
    pub(crate) fn with_store(&self, store: Store) -> Self {
        Self {
            store,
            ..self.clone()
        }
    }

    /// The resolved declarations.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Where follow-up work goes (inline, or a queue).
    pub(crate) fn follow_up(&self) -> &dyn FollowUp {
        self.follow_up.as_ref()
    }
}

/// Why a record is synced as follow-up work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A record that a buffered record waits on.
    Dependency,
    /// A record that waited on one now in the CRM.
    WaitingDependent,
}

/// Where follow-up syncs go: work a sync causes beyond its own record
/// (a buffered record's sync dependencies; the records that waited on a
/// record now in the CRM). `sync/follow_up.rs` runs them inline,
/// `jobs/follow_up.rs` requests them as record jobs.
#[async_trait]
pub(crate) trait FollowUp: Send + Sync + fmt::Debug {
    /// Syncs (or schedules the sync of) `key`. An error is reported by the
    /// caller and never fails the sync that caused the work: the record
    /// stays stale and the finder picks it up again.
    async fn sync(&self, ctx: &Context, key: SyncKey, reason: Reason) -> Result<()>;
}

/// Where the database keeps a shared rate window (PostgreSQL, a SQLite
/// file), each CRM's limiter counts in it, with every process;
/// elsewhere (SQLite in memory) it stays in the process.
pub(crate) async fn share_rate_limits(store: &Store, catalog: &Catalog) {
    for crm in catalog.resolved_crms() {
        let (Some(limiter), Some(max_requests)) = (crm.limits().rate_limiter(), crm.max_requests)
        else {
            continue;
        };
        match SharedWindow::open(store, &crm.name, max_requests).await {
            Ok(Some(window)) => limiter.share(window),
            // The database keeps no shared window, for any CRM.
            Ok(None) => return,
            // A read-only role (a replica for `status`) cannot write the
            // slots; such a process sends nothing to the CRM anyway.
            Err(error) => tracing::warn!(
                message = "The CRM's rate window cannot be shared through the database; this process counts its own requests only.",
                crm = crm.name.as_str(),
                %error
            ),
        }
    }
}
