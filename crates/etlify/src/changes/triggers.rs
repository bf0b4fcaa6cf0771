//! `etlify migrate --triggers`: change triggers on every table the
//! declared models read (`tables.rs`), installed, listed and removed
//! through the backend's [`ChangeTriggers`] capability: PostgreSQL's
//! notify (`store/backend/postgres/change_triggers.rs`), SQLite's count
//! each table's writes, the job queue's table included
//! (`store/backend/sqlite/change_triggers.rs`).

use std::sync::Arc;

use crate::engine::Etlify;
use crate::error::{Error, Result};
use crate::store::backend::{ChangeTriggers, TriggerChanges};
use crate::store::Store;

fn capability(store: &Store) -> Result<Arc<dyn ChangeTriggers>> {
    store.backend().change_triggers().ok_or_else(|| {
        Error::Unsupported(format!(
            "change triggers need PostgreSQL or SQLite (this is {}); set [worker] watch to a duration to poll instead",
            store.kind().name()
        ))
    })
}

impl Etlify {
    /// Installs the change triggers. PostgreSQL: one statement-level
    /// trigger `etlify_changes` on each table a declared model reads, all
    /// calling `etlify_notify_change()`, which notifies the channel
    /// `etlify_changes` with the table's name; a worker listening there
    /// requests the batch jobs of the CRMs reading it. SQLite: three
    /// row-level triggers per such table (and on the job queue's table,
    /// when it exists) counting its writes in `etlify_changes`, which a
    /// worker reads every period. Idempotent; triggers on tables no model
    /// reads any longer are removed.
    pub async fn install_change_triggers(&self) -> Result<TriggerChanges> {
        let triggers = capability(self.store())?;
        let tables = self.trigger_tables(triggers.as_ref()).await?;
        triggers.install(&tables).await
    }

    /// The statements [`Etlify::install_change_triggers`] would run now
    /// (empty when every trigger is in place), changing nothing.
    pub async fn change_trigger_statements(&self) -> Result<Vec<String>> {
        let triggers = capability(self.store())?;
        let tables = self.trigger_tables(triggers.as_ref()).await?;
        triggers.install_statements(&tables).await
    }

    /// Every table a declared model reads, as the database resolves it.
    async fn trigger_tables(&self, triggers: &dyn ChangeTriggers) -> Result<Vec<String>> {
        let ctx = self.job_context();
        let mut tables = Vec::new();
        for table in super::tables::read_by_crm(ctx.context().catalog(), false).keys() {
            // The catalog checked that every table exists.
            if let Some(qualified) = triggers.qualified(table).await? {
                tables.push(qualified);
            }
        }
        if let Some(queue) = triggers.queue_table() {
            // Absent until a queue was opened on this database.
            if let Some(qualified) = triggers.qualified(queue).await? {
                tables.push(qualified);
            }
        }
        Ok(tables)
    }
}

/// Removes every change trigger and their function (PostgreSQL) or
/// counter table (SQLite); nothing elsewhere: the tables whose trigger was removed. `revert_migration`
/// does it too.
pub async fn remove_change_triggers(store: &Store) -> Result<Vec<String>> {
    match store.backend().change_triggers() {
        Some(triggers) => triggers.remove().await,
        None => Ok(Vec::new()),
    }
}

/// The tables (`schema.table`) that have a change trigger (none where the
/// database has no triggers).
pub async fn change_trigger_tables(store: &Store) -> Result<Vec<String>> {
    match store.backend().change_triggers() {
        Some(triggers) => triggers.installed().await,
        None => Ok(Vec::new()),
    }
}
