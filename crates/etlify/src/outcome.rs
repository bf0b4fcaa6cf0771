//! What a sync, a delete or a dispatch did (docs/BEHAVIOUR.md, "Outcomes").

use std::fmt;

/// Result of syncing one record with one CRM (the gem's six results).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncOutcome {
    /// The payload changed and the CRM accepted it.
    Synced,
    /// Same digest as last time: nothing sent, the row is stamped.
    NotModified,
    /// `sync_if` is false: nothing sent, the row is stamped.
    Skipped,
    /// A sync dependency has no CRM id yet: the record waits for it (G-18).
    Buffered,
    /// A failure attributable to the record; its `error_count` grew and
    /// its `last_error` holds the same message.
    Error(RecordError),
    /// The CRM is disabled: nothing read, sent or written (G-4).
    Disabled,
    /// `mode = update_only` and the CRM has no object for the record:
    /// nothing created; the row is stamped, and the record looked at
    /// again when it changes.
    NoObjectToUpdate,
}

impl SyncOutcome {
    /// The gem's symbol for this outcome (`synced`, `not_modified`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            SyncOutcome::Synced => "synced",
            SyncOutcome::NotModified => "not_modified",
            SyncOutcome::Skipped => "skipped",
            SyncOutcome::Buffered => "buffered",
            SyncOutcome::Error(_) => "error",
            SyncOutcome::Disabled => "disabled",
            SyncOutcome::NoObjectToUpdate => "no_object_to_update",
        }
    }
}

/// Why one record failed (X-3: only failures attributable to the
/// record; run errors are returned as `Err` instead).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RecordError {
    /// What kind of failure.
    pub kind: RecordErrorKind,
    /// What went wrong, as recorded in the row's `last_error`.
    pub message: String,
}

impl RecordError {
    pub(crate) fn new(kind: RecordErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A CRM's answer about this record's payload, classified.
    pub(crate) fn from_adapter(error: &crate::adapters::AdapterError) -> Self {
        let kind = match error.kind() {
            crate::adapters::AdapterErrorKind::ValidationFailed => RecordErrorKind::Rejected,
            crate::adapters::AdapterErrorKind::NotFound => RecordErrorKind::NotFound,
            _ => RecordErrorKind::Other,
        };
        Self::new(kind, error.to_string())
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Classification of a [`RecordError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// The payload source could not build this record's payload.
    Payload,
    /// The CRM rejected the payload (validation: 400/409/422).
    Rejected,
    /// The CRM answered that an object it needed does not exist.
    NotFound,
    /// The CRM returned an id another record of the same type already holds.
    CrmIdConflict,
    /// Any other failure of this record.
    Other,
}

impl RecordErrorKind {
    /// Lowercase name (`payload`, `rejected`, `not_found`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordErrorKind::Payload => "payload",
            RecordErrorKind::Rejected => "rejected",
            RecordErrorKind::NotFound => "not_found",
            RecordErrorKind::CrmIdConflict => "crm_id_conflict",
            RecordErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for SyncOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of deleting one record's CRM object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeleteOutcome {
    /// The CRM deleted the object.
    Deleted,
    /// The CRM said the object did not exist (a success).
    AlreadyGone,
    /// No CRM id is known for the record: nothing to delete.
    Noop,
    /// The CRM is disabled: no call made.
    Disabled,
}

impl DeleteOutcome {
    /// Lowercase name (`deleted`, `already_gone`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteOutcome::Deleted => "deleted",
            DeleteOutcome::AlreadyGone => "already_gone",
            DeleteOutcome::Noop => "noop",
            DeleteOutcome::Disabled => "disabled",
        }
    }
}

impl fmt::Display for DeleteOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the per-record sync API did with a request (the gem's
/// `crm_sync!` return value, made explicit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncDispatch {
    /// Ran inline; here is the outcome.
    Completed(SyncOutcome),
    /// A record queue is configured: the sync was requested as a job
    /// (new, merged into a queued one, or to run after a running one).
    Enqueued(Enqueued),
    /// The CRM is disabled: nothing run (G-3).
    Disabled,
}

impl SyncDispatch {
    /// Whether calling code should treat the request as successful: every
    /// case except a sync that ended in [`SyncOutcome::Error`].
    pub fn succeeded(&self) -> bool {
        !matches!(self, SyncDispatch::Completed(SyncOutcome::Error(_)))
    }
}

/// Counts of a batch sync for one CRM (the gem's, with `disabled`: G-5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchStats {
    /// Records sent and accepted.
    pub synced: usize,
    /// Records not eligible (or all of them when the CRM is disabled).
    pub skipped: usize,
    /// Records waiting for a sync dependency.
    pub buffered: usize,
    /// Records whose digest did not change.
    pub not_modified: usize,
    /// Records that failed.
    pub errors: usize,
    /// Records whose create was sent but whose answer was lost (a dropped
    /// connection, a timeout, a gateway's 5xx): the object may exist. The
    /// create is not repeated and nothing is written: the record stays
    /// stale, and its next sync looks for the object by its match value
    /// (or external id) and adopts it. A record with neither is created
    /// again then, so its CRM may hold a duplicate: each is logged at warn.
    pub in_doubt: usize,
    /// Records whose row left the application and whose CRM object was
    /// archived, their sync rows removed (`on_delete = archive`).
    pub archived: usize,
    /// Records an update-only binding found no CRM object for: nothing
    /// created, the row stamped (`mode = update_only`).
    pub no_object_to_update: usize,
    /// Whether the CRM was disabled (nothing was done).
    pub disabled: bool,
}

impl BatchStats {
    /// Counts one outcome.
    pub fn record(&mut self, outcome: &SyncOutcome) {
        match outcome {
            SyncOutcome::Synced => self.synced += 1,
            SyncOutcome::NotModified => self.not_modified += 1,
            SyncOutcome::Skipped | SyncOutcome::Disabled => self.skipped += 1,
            SyncOutcome::Buffered => self.buffered += 1,
            SyncOutcome::Error(_) => self.errors += 1,
            SyncOutcome::NoObjectToUpdate => self.no_object_to_update += 1,
        }
    }

    /// The counts by outcome, named as `etlify_records_synced_total`
    /// labels them (docs/OPERATIONS.md, "Metrics").
    pub(crate) fn by_outcome(&self) -> [(&'static str, usize); 8] {
        [
            ("synced", self.synced),
            ("not_modified", self.not_modified),
            ("skipped", self.skipped),
            ("buffered", self.buffered),
            ("error", self.errors),
            ("in_doubt", self.in_doubt),
            ("archived", self.archived),
            ("no_object_to_update", self.no_object_to_update),
        ]
    }

    /// Records counted, whatever their outcome.
    pub fn handled(&self) -> usize {
        self.synced
            + self.skipped
            + self.buffered
            + self.not_modified
            + self.errors
            + self.in_doubt
            + self.archived
            + self.no_object_to_update
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &BatchStats) {
        self.synced += other.synced;
        self.skipped += other.skipped;
        self.buffered += other.buffered;
        self.not_modified += other.not_modified;
        self.errors += other.errors;
        self.in_doubt += other.in_doubt;
        self.archived += other.archived;
        self.no_object_to_update += other.no_object_to_update;
        self.disabled |= other.disabled;
    }
}

/// What a request for a job found (the answer of an enqueue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Enqueued {
    /// A new job was queued.
    New,
    /// A job for the same record (or CRM) was queued and not started yet:
    /// it will read the latest data, so no second job was queued.
    AlreadyQueued,
    /// A job for the same record (or CRM) is running: another one runs
    /// after it ends (the request is not lost).
    AfterRunning,
}

impl Enqueued {
    /// Lowercase name (`new`, `already_queued`, `after_running`).
    pub fn as_str(self) -> &'static str {
        match self {
            Enqueued::New => "new",
            Enqueued::AlreadyQueued => "already_queued",
            Enqueued::AfterRunning => "after_running",
        }
    }
}

impl fmt::Display for Enqueued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
