//! What a binding does when a record leaves the application (its row is
//! deleted: `on_delete`) or its scope (`on_leave_scope`), and the guard
//! against deleting many objects at once (docs/BEHAVIOUR.md, "Deletes").
//!
//! Archiving is never the default ([`Disposal::Keep`], as the gem): a
//! binding asks for it, and even then a run archives nothing for the
//! binding when more records would go than [`DeleteLimit`] allows, until
//! an operator lets it ([`crate::BatchSyncOptions::allow_deletes`]).

use std::fmt;
use std::str::FromStr;

/// What happens to a record's CRM object once the record is gone: its row
/// deleted (`on_delete`), or out of the binding's scope (`on_leave_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Disposal {
    /// The object stays in the CRM, and the record's sync row stays (the
    /// gem's behaviour; the default).
    #[default]
    Keep,
    /// The object is archived (HubSpot's archive, Airtable's delete) and
    /// the record's sync row removed. Only objects Etlify knows, through a
    /// sync row with a CRM id, are ever archived.
    Archive,
}

impl Disposal {
    /// The configuration word (`keep`, `archive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Disposal::Keep => "keep",
            Disposal::Archive => "archive",
        }
    }
}

impl FromStr for Disposal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "keep" => Ok(Disposal::Keep),
            "archive" => Ok(Disposal::Archive),
            other => Err(format!("must be \"keep\" or \"archive\", not {other:?}")),
        }
    }
}

/// The most records one run may archive for one binding: above it, the
/// run archives none of them and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeleteLimit {
    /// At most this many records.
    Records(u64),
    /// At most this percentage (0–100) of the binding's records that have
    /// a CRM id, rounded down, but at least one.
    PercentOfSynced(u8),
}

/// The default guard: 10% of the binding's synced records (at least one).
pub const DEFAULT_DELETE_LIMIT: DeleteLimit = DeleteLimit::PercentOfSynced(10);

impl DeleteLimit {
    /// How many records may be archived when `synced` records of the
    /// binding have a CRM id.
    pub fn allowed(self, synced: u64) -> u64 {
        match self {
            DeleteLimit::Records(records) => records,
            DeleteLimit::PercentOfSynced(percent) => {
                (synced.saturating_mul(u64::from(percent)) / 100).max(1)
            }
        }
    }
}

impl fmt::Display for DeleteLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteLimit::Records(records) => write!(f, "{records}"),
            DeleteLimit::PercentOfSynced(percent) => write!(f, "{percent}%"),
        }
    }
}

impl FromStr for DeleteLimit {
    type Err = String;

    /// `"500"` (records) or `"10%"` (of the binding's synced records).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = || {
            format!("must be a number of records (\"500\") or a percentage of the synced records (\"10%\"), not {text:?}")
        };
        let text = text.trim();
        match text.strip_suffix('%') {
            Some(percent) => match percent.trim().parse::<u8>() {
                Ok(percent) if percent <= 100 => Ok(DeleteLimit::PercentOfSynced(percent)),
                _ => Err(expected()),
            },
            None => text
                .parse()
                .map(DeleteLimit::Records)
                .map_err(|_| expected()),
        }
    }
}

/// Whether a run may archive `pending` records of a binding whose guard
/// is `limit` and which has `synced` records with a CRM id; `allowed_once`
/// is the operator's word that this run may archive whatever it found.
pub(crate) fn may_archive(
    limit: DeleteLimit,
    synced: u64,
    pending: u64,
    allowed_once: bool,
) -> bool {
    allowed_once || pending <= limit.allowed(synced)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn delete_limits_parse_as_records_or_a_percentage() {
        assert_eq!("500".parse(), Ok(DeleteLimit::Records(500)));
        assert_eq!(" 10% ".parse(), Ok(DeleteLimit::PercentOfSynced(10)));
        assert_eq!("0".parse(), Ok(DeleteLimit::Records(0)));
        for bad in ["", "-1", "ten", "101%", "5.5%", "%"] {
            let error = bad.parse::<DeleteLimit>().unwrap_err();
            assert!(error.contains("percentage"), "{bad:?}: {error}");
        }
        assert_eq!(DeleteLimit::PercentOfSynced(10).to_string(), "10%");
    }

    #[test]
    fn delete_guard_allows_up_to_the_limit_and_everything_when_allowed_once() {
        let limit = DeleteLimit::PercentOfSynced(10);
        assert_eq!(limit.allowed(1_000), 100);
        assert_eq!(limit.allowed(5), 1, "at least one record");
        assert!(may_archive(limit, 1_000, 100, false));
        assert!(!may_archive(limit, 1_000, 101, false));
        assert!(may_archive(limit, 1_000, 1_000, true));
        assert!(!may_archive(DeleteLimit::Records(0), 10, 1, false));
    }

    #[test]
    fn on_delete_reads_keep_or_archive() {
        assert_eq!("archive".parse(), Ok(Disposal::Archive));
        assert_eq!(Disposal::default(), Disposal::Keep);
        assert!("delete"
            .parse::<Disposal>()
            .unwrap_err()
            .contains("\"keep\" or \"archive\""));
    }
}
