//! Failed records in the logs: each at warn, with its CRM, model, id, the
//! kind of failure and the message recorded on its row (the CRM's words;
//! never the payload it was sent, nor a credential), at most
//! [`LINES_PER_PAGE`] a page, then one line counting the rest when the
//! page ends, so that a page the CRM rejects whole cannot flood the log.
//! `etlify errors` lists them all. Records in doubt (a create whose answer
//! was lost) are logged the same way, under the same budget.

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
        if self.has_room() {
            tracing::warn!(message = "Sync failed.", crm, model, id = %id, kind, error = message);
        }
    }

    /// Logs that record `id`'s create was sent and its answer lost
    /// ([`crate::BatchStats::in_doubt`]), unless the page has logged enough.
    pub(crate) fn in_doubt(&mut self, (crm, model): (&str, &str), id: ResourceId, message: &str) {
        if self.has_room() {
            tracing::warn!(
                message = "The answer to a create was lost: not repeated; the next sync looks for the object before creating it.",
                crm,
                model,
                id = %id,
                kind = "in_doubt",
                error = message
            );
        }
    }

    /// Whether one more line may be logged (else it is counted).
    fn has_room(&mut self) -> bool {
        if self.logged == LINES_PER_PAGE {
            self.left_out += 1;
            return false;
        }
        self.logged += 1;
        true
    }

    /// At the page's end: one line counting the failures not logged.
    pub(crate) fn summarize(&self, (crm, model): (&str, &str)) {
        if self.left_out > 0 {
            tracing::warn!(
                message =
                    "More records failed or are in doubt; `etlify errors` lists the failed ones.",
                crm,
                model,
                records = self.left_out
            );
        }
    }
}
