//! Identifiers of local records.

use std::fmt;

/// Primary key of a local record: a 64-bit integer, as the gem's
/// `resource_id bigint`.
///
/// Only integer primary keys are supported today: build one with
/// [`ResourceId::new`] or `From<i64>`, read the integer with
/// [`ResourceId::get`]. Signatures take this type rather than `i64` so that
/// UUID and text keys can be added to it; that change will make it neither
/// `Copy` nor convertible to an integer in every case, so code that calls
/// [`ResourceId::get`] will have to handle other keys then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(i64);

impl ResourceId {
    /// The id of the record whose integer primary key is `id`.
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    /// The integer primary key.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for ResourceId {
    fn from(value: i64) -> Self {
        Self(value)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies one sync row: `(crm_name, resource_type, resource_id)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncKey {
    /// Registered CRM name.
    pub crm_name: String,
    /// Declared resource type (the STI base name).
    pub resource_type: String,
    /// Primary key of the record.
    pub resource_id: ResourceId,
}

impl SyncKey {
    /// Builds a key.
    pub fn new(
        crm_name: impl Into<String>,
        resource_type: impl Into<String>,
        resource_id: impl Into<ResourceId>,
    ) -> Self {
        Self {
            crm_name: crm_name.into(),
            resource_type: resource_type.into(),
            resource_id: resource_id.into(),
        }
    }
}

impl fmt::Display for SyncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} #{}",
            self.crm_name, self.resource_type, self.resource_id
        )
    }
}
