//! A capability: a CRM's rate window kept in the database and shared by
//! every process using it (`store/rate_window.rs`). PostgreSQL has one
//! (row locks: `postgres/rate_window.rs`), and so has SQLite for a database
//! in a file, which several processes may open (one write transaction per
//! take: `sqlite/rate_window.rs`); a database in memory belongs to one
//! process and offers none.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::store::Timestamp;

/// What asking for a slot gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Slot `slot` holds this request's send now: it may go. `stamped`:
    /// the time written in the slot, where the database said.
    Taken {
        slot: i32,
        stamped: Option<Timestamp>,
    },
    /// No slot is free: ask again after this long (a pause, or the oldest
    /// send's window).
    Wait(Duration),
}

/// The send slots of each CRM in `etlify_rate_slots`.
#[async_trait]
pub(crate) trait SharedRateWindow: Send + Sync + fmt::Debug {
    /// Gives `crm_name` exactly `max_requests` send slots (and its pause
    /// slot).
    async fn size(&self, crm_name: &str, max_requests: u32) -> Result<()>;

    /// Takes the slot of `crm_name` whose time left `window` ago, by the
    /// database's clock, and stamps it with the time now plus `late_by`
    /// (how late the request may reach the CRM, until it is answered).
    async fn take(&self, crm_name: &str, window: Duration, late_by: Duration) -> Result<Take>;

    /// The request that took `slot` is sent only now (it waited for
    /// another limit after taking it): its time moves to now plus
    /// `late_by`, never earlier, so that the slot is not freed a wait too
    /// soon. The time written, where the database says.
    async fn restamp(
        &self,
        crm_name: &str,
        slot: i32,
        late_by: Duration,
    ) -> Result<Option<Timestamp>>;

    /// The request that took `slot` and stamped it `was` was answered: its
    /// time moves to `to` (earlier), if the slot still holds it (another
    /// request may have taken the slot since).
    async fn settle(&self, crm_name: &str, slot: i32, was: Timestamp, to: Timestamp) -> Result<()>;

    /// No slot of `crm_name` is taken for `delay` from now (a 429's delay).
    async fn pause(&self, crm_name: &str, delay: Duration) -> Result<()>;

    /// How much of `crm_name`'s window the processes used: the sends
    /// stamped within the last `window`, and the pause still to run;
    /// reads only (a status page).
    async fn usage(&self, crm_name: &str, window: Duration) -> Result<WindowUsage>;
}

/// What [`SharedRateWindow::usage`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WindowUsage {
    /// Sends within the last window, by every process.
    pub sent: u64,
    /// Until when no process sends (a 429's delay), from now.
    pub paused_for: Duration,
}
