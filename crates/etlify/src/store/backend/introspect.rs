//! What the database holds: tables, columns, indexes, foreign keys.

use async_trait::async_trait;

use crate::error::Result;
use crate::id::{KeyStorage, KeyType};

/// The database's catalog, read through its own views.
#[async_trait]
pub(crate) trait Introspect: Send + Sync {
    /// Column names of `table` in order, or `None` when it does not exist.
    async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>>;

    /// Index names on `table`.
    async fn index_names(&self, table: &str) -> Result<Vec<String>>;

    /// The columns of index `index`, in key order (empty when it does not
    /// exist).
    async fn index_columns(&self, index: &str) -> Result<Vec<String>>;

    /// The names of the database's tables (the current schema on
    /// PostgreSQL), sorted.
    async fn table_names(&self) -> Result<Vec<String>>;

    /// The foreign keys declared on `table`: (column, referenced table,
    /// referenced column).
    async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>>;

    /// Whether `table.column` accepts NULL (`false` when it does not exist).
    async fn column_is_nullable(&self, table: &str, column: &str) -> Result<bool>;

    /// The type of `table.column` as keys see it, or `None` when the
    /// column does not exist.
    async fn key_column(&self, table: &str, column: &str) -> Result<Option<KeyColumn>>;

    /// Whether `table` takes a fill factor and has none set (or does not
    /// exist yet): a storage parameter of PostgreSQL's, which other
    /// databases do not have.
    async fn fillfactor_settable(&self, _table: &str) -> Result<bool> {
        Ok(false)
    }
}

/// A key column's SQL type, as the database names it, and what its values
/// are as keys (each backend classifies its own type names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyColumn {
    /// The type as the database names it (`uuid`, `char(36)`, `bigint`).
    pub(crate) sql_type: String,
    pub(crate) holds: KeyValues,
}

/// What a key column's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyValues {
    /// Integers, of any width.
    Integers,
    /// The database's own UUID type (PostgreSQL `uuid`).
    NativeUuids,
    /// 16-byte binaries (MySQL `BINARY(16)`).
    UuidBytes,
    /// Texts of 36 characters where UUIDs are kept as text (`CHAR(36)`,
    /// SQLite's `uuid` or `varchar(36)`): UUIDs most likely, or texts.
    UuidTexts,
    /// Other texts (and every text on PostgreSQL, where a UUID key is
    /// bound as a `uuid`).
    Texts,
    /// A type no key type is known to fit (a `numeric`, a SQLite column
    /// without a declared type): not checked.
    Unknown,
}

impl KeyColumn {
    /// Whether a model declaring `key_type`, in a database that keeps UUID
    /// keys as `uuids`, binds keys this column compares with: an integer
    /// declared over a UUID column would bind a `bigint` against it, a
    /// UUID declared over 16 bytes would bind a text, one declared over a
    /// PostgreSQL `varchar` a `uuid`.
    pub(crate) fn fits(&self, key_type: KeyType, uuids: KeyStorage) -> bool {
        let uuid_as_text = key_type == KeyType::Uuid && uuids == KeyStorage::Text;
        match self.holds {
            KeyValues::Integers => key_type == KeyType::Integer,
            KeyValues::NativeUuids => matches!(key_type, KeyType::Uuid | KeyType::UuidBinary),
            KeyValues::UuidBytes => key_type == KeyType::UuidBinary,
            KeyValues::UuidTexts | KeyValues::Texts => key_type == KeyType::Text || uuid_as_text,
            KeyValues::Unknown => true,
        }
    }

    /// The key type a model over this column declares (what `etlify
    /// new-model` writes, what a refusal asks for), if one is known.
    pub(crate) fn key_type(&self) -> Option<KeyType> {
        match self.holds {
            KeyValues::Integers => Some(KeyType::Integer),
            KeyValues::NativeUuids | KeyValues::UuidTexts => Some(KeyType::Uuid),
            KeyValues::UuidBytes => Some(KeyType::UuidBinary),
            KeyValues::Texts => Some(KeyType::Text),
            KeyValues::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{KeyColumn, KeyValues};
    use crate::id::{KeyStorage, KeyType};

    fn column(holds: KeyValues) -> KeyColumn {
        KeyColumn {
            sql_type: String::new(),
            holds,
        }
    }

    #[test]
    fn uuid_key_columns_fit_the_key_types_that_bind_their_values() {
        use KeyType::{Integer, Text, Uuid, UuidBinary};
        let cases = [
            (KeyValues::Integers, &[Integer][..]),
            (KeyValues::NativeUuids, &[Uuid, UuidBinary]),
            (KeyValues::UuidBytes, &[UuidBinary]),
            (KeyValues::UuidTexts, &[Uuid, Text]),
            (KeyValues::Texts, &[Uuid, Text]),
            (KeyValues::Unknown, &[Integer, Uuid, UuidBinary, Text]),
        ];
        for (holds, fitting) in cases {
            for key_type in [Integer, Uuid, UuidBinary, Text] {
                assert_eq!(
                    column(holds).fits(key_type, KeyStorage::Text),
                    fitting.contains(&key_type),
                    "{holds:?} {key_type}"
                );
            }
            // What a scaffold writes always fits.
            if let Some(key_type) = column(holds).key_type() {
                assert!(column(holds).fits(key_type, KeyStorage::Text), "{holds:?}");
            }
        }
    }

    #[test]
    fn uuid_keys_bound_as_uuids_do_not_fit_text_columns() {
        // PostgreSQL binds a UUID key as a `uuid`: a `varchar` key column
        // takes text keys only.
        let texts = column(KeyValues::Texts);
        assert!(!texts.fits(KeyType::Uuid, KeyStorage::Bytes));
        assert!(texts.fits(KeyType::Text, KeyStorage::Bytes));
        assert!(column(KeyValues::NativeUuids).fits(KeyType::Uuid, KeyStorage::Bytes));
    }
}
