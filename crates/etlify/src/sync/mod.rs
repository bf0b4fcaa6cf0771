//! Syncing and deleting records: the per-record synchronizer, the deleter,
//! and the rules they share (eligibility, sync dependencies).

pub(crate) mod changed_at;
mod decision;
mod deleter;
mod dependencies;
mod failure_log;
pub(crate) mod follow_up;
mod guard;
pub(crate) mod page;
pub(crate) mod pipeline;
mod synchronizer;

pub use self::deleter::Deleter;
pub use self::page::BatchSynchronizer;
pub use self::synchronizer::Synchronizer;

use crate::error::{Error, Result};
use crate::id::{ResourceId, SyncKey};
use crate::outcome::{RecordError, RecordErrorKind};
use crate::store::sync_rows::{self, RowChange};

/// Writes synced rows in one statement; if a CRM id is already held by
/// another record (unique per CRM and type, X-6), writes them one by one
/// and records the conflicting ones as errors. Returns the errors of the
/// conflicting records (every other row is written).
pub(crate) async fn write_synced(
    store: &crate::store::Store,
    synced: Vec<(SyncKey, RowChange)>,
) -> Result<Vec<(ResourceId, RecordError)>> {
    match sync_rows::write(store, &synced).await {
        Ok(()) => Ok(Vec::new()),
        Err(Error::Database(e)) if is_unique_violation(&e) => {
            let mut conflicts = Vec::new();
            for (key, change) in synced {
                match sync_rows::write(store, std::slice::from_ref(&(key.clone(), change.clone())))
                    .await
                {
                    Ok(()) => {}
                    Err(Error::Database(e)) if is_unique_violation(&e) => {
                        let crm_id = match &change {
                            RowChange::Synced { crm_id, .. }
                            | RowChange::Resynced { crm_id, .. } => {
                                crm_id.clone().unwrap_or_default()
                            }
                            _ => String::new(),
                        };
                        let holder = match sync_rows::holder_of(
                            store,
                            &key.crm_name,
                            &key.resource_type,
                            &crm_id,
                        )
                        .await?
                        {
                            Some(holder) => format!("{} #{holder}", key.resource_type),
                            None => format!("another {}", key.resource_type),
                        };
                        let message = format!(
                            "the CRM returned id {crm_id}, which {holder} already holds: two \
                             records matched one CRM object (their id_property values are \
                             equal: fix the data, then reset the record's errors, `etlify \
                             errors reset` or `Etlify::reset_errors`; or the CRM account \
                             changed: forget its sync state, `etlify forget` or `Etlify::forget`)"
                        );
                        let id = key.resource_id.clone();
                        sync_rows::write(
                            store,
                            &[(
                                key,
                                RowChange::Failed {
                                    message: message.clone(),
                                },
                            )],
                        )
                        .await?;
                        conflicts.push((
                            id,
                            RecordError::new(RecordErrorKind::CrmIdConflict, message),
                        ));
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok(conflicts)
        }
        Err(other) => Err(other),
    }
}

/// Locks `mutex`, whose data stays consistent if a holder panicked: the
/// page and pipeline state it guards is only added to, taken or set.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}
