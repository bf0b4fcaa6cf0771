//! How a binding writes to its CRM (`mode`, docs/BEHAVIOUR.md, "Modes"):
//! create or update, as the gem does (the default); update only, for
//! enriching the objects a CRM already has; create only, for a CRM that
//! owns an object once it exists.

use std::fmt;
use std::str::FromStr;

/// What a sync may do to the CRM's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum WriteMode {
    /// Create the object, or update the one matched (the default).
    #[default]
    Upsert,
    /// Update the object the record has or matches; never create one. A
    /// record without an object is stamped (`no_object_to_update`) and
    /// looked at again when it changes.
    UpdateOnly,
    /// Create the object when none matches; never update one that exists
    /// (a match is adopted: its id recorded, nothing written).
    CreateOnly,
}

impl WriteMode {
    /// The configuration word (`upsert`, `update_only`, `create_only`).
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMode::Upsert => "upsert",
            WriteMode::UpdateOnly => "update_only",
            WriteMode::CreateOnly => "create_only",
        }
    }

    /// Whether a record without a known CRM id may be sent through a batch
    /// upsert, which creates what it does not match and updates what it
    /// does: only in `upsert` mode (the others take the one-by-one path,
    /// whose search tells a match from none).
    pub(crate) fn may_batch_unknown_objects(self) -> bool {
        self == WriteMode::Upsert
    }

    /// Whether an object the record already has in the CRM is updated:
    /// not in `create_only`.
    pub(crate) fn updates_known_objects(self) -> bool {
        self != WriteMode::CreateOnly
    }
}

impl fmt::Display for WriteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WriteMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "upsert" => Ok(WriteMode::Upsert),
            "update_only" => Ok(WriteMode::UpdateOnly),
            "create_only" => Ok(WriteMode::CreateOnly),
            other => Err(format!(
                "must be \"upsert\", \"update_only\" or \"create_only\", not {other:?}"
            )),
        }
    }
}
