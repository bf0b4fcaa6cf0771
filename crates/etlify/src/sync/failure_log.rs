//! Failed records in the logs: each at warn, with its CRM, model, id, the
//! kind of failure and the message recorded on its row (the CRM's words;
//! never the payload it was sent, nor a credential), at most
//! [`LINES_PER_PAGE`] a page, then one line counting the rest when the
//! page ends, so that a page the CRM rejects whole cannot flood the log.
//! `etlify errors` lists them all.

use crate::id::ResourceId;

/// Failed records of one page logged one by one; the rest are counted.
pub(crate) const LINES_PER_PAGE: usize = 10;

/// The failures of one page (or of one record) logged so far.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    logged: usize,
    left_out: usize,
}

impl FailureLog {
    /// Logs record `id`'s failure, unless the page has logged enough.
    pub(crate) fn failed(
        &mut self,
        (crm, model): (&str, &str),
        id: ResourceId,
        kind: &str,
        message: &str,
    ) {
        if self.logged == LINES_PER_PAGE {
            self.left_out += 1;
            return;
        }
        self.logged += 1;
        tracing::warn!(message = "Sync failed.", crm, model, id = %id, kind, error = message);
    }

    /// At the page's end: one line counting the failures not logged.
    pub(crate) fn summarize(&self, (crm, model): (&str, &str)) {
        if self.left_out > 0 {
            tracing::warn!(
                message = "More records failed; `etlify errors` lists them.",
                crm,
                model,
                records = self.left_out
            );
        }
    }
}
