//! A capability: a CRM's rate window kept in the database and shared by
//! every process using it (`store/rate_window.rs`). PostgreSQL has one; on
//! SQLite the workers are one process, whose limiter is shared already, so
//! its backend offers none.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// The send slots of each CRM in `etlify_rate_slots`.
#[async_trait]
pub(crate) trait SharedRateWindow: Send + Sync + fmt::Debug {
    /// Gives `crm_name` exactly `max_requests` send slots (and its pause
    /// slot).
    async fn size(&self, crm_name: &str, max_requests: u32) -> Result<()>;

    /// Takes the slot of `crm_name` whose send left `window` ago, by the
    /// database's clock: `None` when taken (the request may go), else how
    /// long until one may be free (a pause, or the oldest send's window).
    async fn take(&self, crm_name: &str, window: Duration) -> Result<Option<Duration>>;

    /// No slot of `crm_name` is taken for `delay` from now (a 429's delay).
    async fn pause(&self, crm_name: &str, delay: Duration) -> Result<()>;
}
