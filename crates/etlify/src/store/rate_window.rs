//! A CRM's rate window kept in the database (`etlify_rate_slots`), so that
//! every worker process sharing it stays within the CRM's limit together
//!
//!
//! The window is a ring of `max_requests` slots, each holding the send
//! time of one of the CRM's last requests by the database's clock. A
//! request takes the slot whose send left the window (the oldest), and
//! stamps it: never more than `max_requests` sends in any window, whatever
//! the number of processes. Slot -1 holds the end of a pause (a 429 with a
//! delay), which every process then waits for. Where the database offers
//! one (`backend/rate_window.rs`: PostgreSQL, and SQLite in a file, where
//! two `etlify sync` or worker processes may run on one file).

use std::sync::Arc;
use std::time::Duration;

use super::backend::{SharedRateWindow, Take, WindowUsage};
use super::{Store, Timestamp};
use crate::error::Result;

/// The sends of `crm_name` within the last `window` by every process, and
/// the pause left; `None` where the database keeps no shared window.
pub(crate) async fn usage(
    store: &Store,
    crm_name: &str,
    window: Duration,
) -> Result<Option<WindowUsage>> {
    match store.backend().shared_rate_window() {
        Some(slots) => Ok(Some(slots.usage(crm_name, window).await?)),
        None => Ok(None),
    }
}

/// One CRM's window in the database.
#[derive(Debug, Clone)]
pub(crate) struct SharedWindow {
    slots: Arc<dyn SharedRateWindow>,
    crm_name: String,
}

impl SharedWindow {
    /// The window of `crm_name`, sized for `max_requests`; `None` where
    /// the database keeps no shared window (the limiter then counts in the
    /// process).
    pub(crate) async fn open(
        store: &Store,
        crm_name: &str,
        max_requests: u32,
    ) -> Result<Option<Self>> {
        let Some(slots) = store.backend().shared_rate_window() else {
            return Ok(None);
        };
        slots.size(crm_name, max_requests).await?;
        Ok(Some(Self {
            slots,
            crm_name: crm_name.to_owned(),
        }))
    }

    /// Takes a slot for one request, or says how long to wait before
    /// asking again.
    pub(crate) async fn try_take(&self, window: Duration, late_by: Duration) -> Result<Take> {
        self.slots.take(&self.crm_name, window, late_by).await
    }

    /// The request that took `slot` is sent only now.
    pub(crate) async fn restamp(&self, slot: i32, late_by: Duration) -> Result<Option<Timestamp>> {
        self.slots.restamp(&self.crm_name, slot, late_by).await
    }

    /// The request that took `slot` (stamped `was`) was answered: its
    /// place moves to `to`.
    pub(crate) async fn settle(&self, slot: i32, was: Timestamp, to: Timestamp) -> Result<()> {
        self.slots.settle(&self.crm_name, slot, was, to).await
    }

    /// No process sends for `delay`.
    pub(crate) async fn pause(&self, delay: Duration) -> Result<()> {
        self.slots.pause(&self.crm_name, delay).await
    }
}
