//! Opening and resolving an alert incident where the shared statements of
//! `store/alert_incidents.rs` do not hold: a conditional upsert or update
//! that says whether it changed the row (`RETURNING`), which MariaDB lacks
//! on `UPDATE` and answers for rows it left alone on an upsert.

use async_trait::async_trait;

use crate::error::Result;
use crate::store::Timestamp;

/// An incident's identity: its kind, CRM and model or worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncidentIdentity<'a> {
    pub(crate) kind: &'a str,
    pub(crate) crm: &'a str,
    pub(crate) subject: &'a str,
}

/// A database's own statements for incidents: each call changes the row
/// only if it is not already in that state, atomically, and answers when
/// the incident was opened only if this call changed it (of N processes
/// seeing the same trouble, exactly one opens it, one resolves it).
#[async_trait]
pub(crate) trait IncidentWrites: Send + Sync {
    /// Opens the incident now unless it is open.
    async fn open_incident(
        &self,
        incident: IncidentIdentity<'_>,
        summary: &str,
    ) -> Result<Option<Timestamp>>;

    /// Resolves the incident now if it is open.
    async fn resolve_incident(&self, incident: IncidentIdentity<'_>) -> Result<Option<Timestamp>>;
}
