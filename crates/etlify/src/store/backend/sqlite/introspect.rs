//! SQLite's catalog: `sqlite_master` and the `pragma_*` table functions.

use async_trait::async_trait;

use super::SqliteBackend;
use crate::error::Result;
use crate::store::backend::{Introspect, KeyColumn, KeyValues};

#[async_trait]
impl Introspect for SqliteBackend {
    async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>> {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind(table)
                .fetch_all(&self.pool)
                .await?;
        Ok((!columns.is_empty()).then_some(columns))
    }

    async fn index_names(&self, table: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM pragma_index_list(?)")
            .bind(table)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn index_columns(&self, index: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                .bind(index)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>> {
        let rows: Vec<(String, String, Option<String>)> =
            sqlx::query_as(r#"SELECT "from", "table", "to" FROM pragma_foreign_key_list(?)"#)
                .bind(table)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(column, target, to)| (column, target, to.unwrap_or_else(|| "id".to_owned())))
            .collect())
    }

    async fn column_is_nullable(&self, table: &str, column: &str) -> Result<bool> {
        let not_null: Option<i64> =
            sqlx::query_scalar(r#"SELECT "notnull" FROM pragma_table_info(?) WHERE name = ?"#)
                .bind(table)
                .bind(column)
                .fetch_optional(&self.pool)
                .await?;
        Ok(not_null == Some(0))
    }

    async fn key_column(&self, table: &str, column: &str) -> Result<Option<KeyColumn>> {
        let declared: Option<String> =
            sqlx::query_scalar("SELECT type FROM pragma_table_info(?) WHERE name = ?")
                .bind(table)
                .bind(column)
                .fetch_optional(&self.pool)
                .await?;
        Ok(declared.map(|sql_type| KeyColumn {
            holds: key_values(&sql_type),
            sql_type,
        }))
    }
}

/// What a column declared `sql_type` holds as keys, by SQLite's affinity
/// rules (a type naming `INT` is an integer, one naming `CHAR`, `CLOB` or
/// `TEXT` a text): Rails writes `uuid` for UUID keys, and a text of 36
/// characters is taken for one. A blob is no key type's: SQLite keeps no
/// 16-byte keys (its `Ddl::refuses_keys`).
fn key_values(sql_type: &str) -> KeyValues {
    let name = sql_type.to_ascii_lowercase().replace(' ', "");
    if name.contains("int") {
        KeyValues::Integers
    } else if matches!(name.as_str(), "uuid" | "char(36)" | "varchar(36)") {
        KeyValues::UuidTexts
    } else if ["char", "clob", "text"].iter().any(|t| name.contains(t)) {
        KeyValues::Texts
    } else {
        KeyValues::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::{key_values, KeyValues};

    #[test]
    fn uuid_sqlite_key_columns_are_classified_by_affinity() {
        for (sql_type, holds) in [
            ("INTEGER", KeyValues::Integers),
            ("bigint", KeyValues::Integers),
            ("uuid", KeyValues::UuidTexts),
            ("VARCHAR(36)", KeyValues::UuidTexts),
            ("varchar", KeyValues::Texts),
            ("text", KeyValues::Texts),
            ("blob", KeyValues::Unknown),
            ("", KeyValues::Unknown),
            ("numeric", KeyValues::Unknown),
        ] {
            assert_eq!(key_values(sql_type), holds, "{sql_type}");
        }
    }
}
