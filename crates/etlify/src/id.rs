//! Identifiers of local records.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use sqlx::types::Uuid;

/// Primary key of a local record: an integer (the gem's `resource_id
/// bigint`), a UUID, or a text.
///
/// The variant says how the key is bound and compared in the database: an
/// integer as a `bigint`, a UUID as the database's own 16-byte value
/// (PostgreSQL `uuid`, MySQL `BINARY(16)`), a text as a string (text keys,
/// and UUIDs a database keeps as text: SQLite, MySQL `CHAR(36)`). A key
/// read from a column gets the variant of that column's type, so the
/// same record always carries the same variant in one database.
///
/// Integer keys stay as cheap as the `i64` they were: cloning one copies
/// eight bytes, and nothing is allocated per record. Texts share their
/// bytes (`Arc<str>`), so a clone never copies them.
///
/// Keys of one kind order as the database orders them: integers by value,
/// UUIDs by their bytes (PostgreSQL and `BINARY(16)` order), texts by their
/// bytes (SQLite's default, PostgreSQL's `C` and MySQL's `_bin`
/// collations; lowercase UUIDs in `CHAR(36)` order alike in any collation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceId(Key);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Uuid(Uuid),
    Text(Arc<str>),
}

/// The kind of a model's primary key (`key_type` in the TOML file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyType {
    /// A 64-bit integer (the default; Rails' `bigint`).
    #[default]
    Integer,
    /// A UUID: PostgreSQL `uuid`, MySQL `CHAR(36)`, SQLite text.
    Uuid,
    /// A UUID kept as 16 bytes: MySQL `BINARY(16)`.
    UuidBinary,
    /// A text (`varchar`).
    Text,
}

impl KeyType {
    /// The setting's name: `integer`, `uuid` or `text`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Integer => "integer",
            KeyType::Uuid => "uuid",
            KeyType::UuidBinary => "uuid_binary",
            KeyType::Text => "text",
        }
    }

    /// The key type named `name` (see [`KeyType::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            KeyType::Integer,
            KeyType::Uuid,
            KeyType::UuidBinary,
            KeyType::Text,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }
}

impl KeyType {
    /// A key column as statements select it: integer keys of any width
    /// as the 64-bit ids they are (SQLite's typeless columns, PostgreSQL's
    /// `integer`), UUID and text keys as they are (a UUID cannot be cast
    /// to an integer).
    pub(crate) fn selected(self, key: sea_query::Expr) -> sea_query::Expr {
        use sea_query::ExprTrait;
        match self {
            KeyType::Integer => key.cast_as("bigint"),
            _ => key,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ResourceId {
    /// The id of the record whose integer primary key is `id`.
    pub const fn new(id: i64) -> Self {
        Self(Key::Int(id))
    }

    /// The id of the record whose primary key is the UUID `id`, in a
    /// database that keeps UUIDs as 16-byte values (PostgreSQL `uuid`,
    /// MySQL `BINARY(16)`).
    pub const fn uuid(id: Uuid) -> Self {
        Self(Key::Uuid(id))
    }

    /// The id of the record whose primary key is the text `id` (a text
    /// key, or a UUID a database keeps as text).
    pub fn text(id: impl Into<Arc<str>>) -> Self {
        Self(Key::Text(id.into()))
    }

    /// The integer primary key, if the key is one.
    pub const fn as_int(&self) -> Option<i64> {
        match self.0 {
            Key::Int(id) => Some(id),
            _ => None,
        }
    }

    /// The UUID primary key, if the key is kept as a 16-byte value.
    pub const fn as_uuid(&self) -> Option<Uuid> {
        match self.0 {
            Key::Uuid(id) => Some(id),
            _ => None,
        }
    }

    /// The text primary key, if the key is kept as text.
    pub fn as_text(&self) -> Option<&str> {
        match &self.0 {
            Key::Text(id) => Some(id),
            _ => None,
        }
    }

    /// The key as the value bound in a statement.
    pub(crate) fn value(&self) -> sea_query::Value {
        match &self.0 {
            Key::Int(id) => (*id).into(),
            Key::Uuid(id) => (*id).into(),
            Key::Text(id) => id.as_ref().into(),
        }
    }

    /// The id of `text` as a key of `kind` in a database that keeps UUIDs
    /// as `uuids` (what a user typed: `etlify sync-record User 3f…`);
    /// `None` if the text is not such a key.
    pub fn parse(text: &str, kind: KeyType, uuids: KeyStorage) -> Option<Self> {
        let uuid = || Uuid::parse_str(text.trim()).ok();
        match (kind, uuids) {
            (KeyType::Integer, _) => text.trim().parse().ok().map(Self::new),
            (KeyType::UuidBinary, _) | (KeyType::Uuid, KeyStorage::Bytes) => uuid().map(Self::uuid),
            (KeyType::Uuid, KeyStorage::Text) => {
                uuid().map(|id| Self::text(id.hyphenated().to_string()))
            }
            (KeyType::Text, _) => (!text.is_empty()).then(|| Self::text(text)),
        }
    }
}

/// How a database keeps [`KeyType::Uuid`] keys: as 16-byte values
/// (PostgreSQL `uuid`) or as text (SQLite, MySQL `CHAR(36)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStorage {
    /// A 16-byte value.
    Bytes,
    /// Hyphenated lowercase text.
    Text,
}

impl From<&ResourceId> for sea_query::Value {
    fn from(id: &ResourceId) -> Self {
        id.value()
    }
}

impl From<ResourceId> for sea_query::Value {
    fn from(id: ResourceId) -> Self {
        id.value()
    }
}

impl Ord for ResourceId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Uuid(a), Key::Uuid(b)) => a.cmp(b),
            (Key::Text(a), Key::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            // Keys of one model are of one kind; across kinds, an order
            // that is total is all that is needed.
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl PartialOrd for ResourceId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Int(_) => 0,
            Key::Uuid(_) => 1,
            Key::Text(_) => 2,
        }
    }
}

impl From<i64> for ResourceId {
    fn from(value: i64) -> Self {
        Self::new(value)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Key::Int(id) => id.fmt(f),
            Key::Uuid(id) => id.hyphenated().fmt(f),
            Key::Text(id) => f.write_str(id),
        }
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

/// In reports (JSON): an integer key as a number, any other as its text.
impl serde::Serialize for ResourceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Key::Int(id) => serializer.serialize_i64(*id),
            _ => serializer.collect_str(self),
        }
    }
}

/// A key as a queued job stores it (`#[serde(with = "crate::id::stored")]`):
/// an integer as a JSON number (the form jobs always had), a UUID kept as
/// bytes as `{"uuid": "…"}`, a text as `{"text": "…"}`; read back as the
/// same variant.
pub(crate) mod stored {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Key, ResourceId, Uuid};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum StoredKey {
        Int(i64),
        Uuid { uuid: String },
        Text { text: String },
    }

    pub(crate) fn serialize<S: Serializer>(
        id: &ResourceId,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let stored = match &id.0 {
            Key::Int(id) => StoredKey::Int(*id),
            Key::Uuid(id) => StoredKey::Uuid {
                uuid: id.hyphenated().to_string(),
            },
            Key::Text(id) => StoredKey::Text {
                text: id.to_string(),
            },
        };
        stored.serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<ResourceId, D::Error> {
        Ok(match StoredKey::deserialize(deserializer)? {
            StoredKey::Int(id) => ResourceId::new(id),
            StoredKey::Uuid { uuid } => {
                ResourceId::uuid(Uuid::parse_str(&uuid).map_err(serde::de::Error::custom)?)
            }
            StoredKey::Text { text } => ResourceId::text(text),
        })
    }
}
