//! The internal context the inner layers take: the store, the catalog and
//! the follow-up seam.
//!
//! `sync/`, `stale/` (and later the job workers) take a [`Context`], never
//! the public [`crate::Etlify`] face: when a face method changes meaning
//! (inline → enqueued), what the synchronizers do does not change with it.
//! A context is built from plain data ([`Declarations`]), so any process —
//! the embedding service, the CLI from its TOML file, a worker — rebuilds
//! the same one.

use std::sync::Arc;

use crate::catalog::{Catalog, Declarations};
use crate::error::Result;
use crate::jobs::follow_up::QueuedFollowUp;
use crate::jobs::JobHandlers;
use crate::store::rate_window::SharedWindow;
use crate::store::Store;
use crate::sync::follow_up::{FollowUp, InlineFollowUp};

/// Store + catalog + follow-up seam + job queues. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    store: Store,
    catalog: Arc<Catalog>,
    follow_up: Arc<dyn FollowUp>,
    jobs: Arc<JobHandlers>,
}

impl Context {
    /// Resolves `declarations` against `store`. Follow-up work is run
    /// inline, or requested as record jobs when a record queue is set.
    pub(crate) async fn build(
        store: Store,
        declarations: Declarations,
        jobs: JobHandlers,
    ) -> Result<Self> {
        let catalog = Catalog::build(&store, declarations).await?;
        share_rate_limits(&store, &catalog).await;
        let follow_up: Arc<dyn FollowUp> = if jobs.record.is_some() {
            Arc::new(QueuedFollowUp)
        } else {
            Arc::new(InlineFollowUp)
        };
        Ok(Self {
            store,
            catalog: Arc::new(catalog),
            follow_up,
            jobs: Arc::new(jobs),
        })
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

    /// Where jobs go, and how they retry.
    pub(crate) fn jobs(&self) -> &JobHandlers {
        &self.jobs
    }
}

/// On PostgreSQL, each CRM's limiter counts in a window kept in the
/// database, shared by every process; on SQLite it stays in the
/// process.
async fn share_rate_limits(store: &Store, catalog: &Catalog) {
    if store.kind() != crate::store::BackendKind::Postgres {
        return;
    }
    for crm in catalog.crms().iter() {
        let Some(limiter) = crm.limits().rate_limiter() else {
            continue;
        };
        match SharedWindow::open(store, crm.get_name(), limiter.limit().get_max_requests()).await {
            Ok(window) => limiter.share(window),
            // A read-only role (a replica for `status`) cannot write the
            // slots; such a process sends nothing to the CRM anyway.
            Err(error) => tracing::warn!(
                message = "The CRM's rate window cannot be shared through the database; this process counts its own requests only.",
                crm = crm.get_name(),
                %error
            ),
        }
    }
}
