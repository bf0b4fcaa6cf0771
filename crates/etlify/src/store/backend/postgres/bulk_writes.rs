//! PostgreSQL's writes of many rows: the shared statements fed by arrays
//! (`SELECT UNNEST($1), …`), so parse and bind cost do not grow with the
//! number of rows.

use std::time::Duration;

use async_trait::async_trait;
use sea_query::{Expr, Func, PostgresQueryBuilder, Query};
use sqlx::AssertSqlSafe;

use super::{PostgresBackend, PostgresDialect};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::store::backend::{BulkWrites, Dialect};
use crate::store::leases::batch_run;
use crate::store::sync_rows::{self, RowChange, UPSERT_COLUMNS};

/// The array types of [`UPSERT_COLUMNS`] bound as `$1…$8`, in order; the
/// last two columns (`created_at`, `updated_at`) are the server's "now".
/// The array of record keys in [`UPSERT_ARRAYS`], cast to the keys' type
/// ([`KeyArray::cast`]).
const KEY_ARRAY: &str = "$3::int8[]";

/// The record keys of upserted rows as one typed array: integers stay an
/// `int8[]` (as before non-integer keys), UUIDs a `uuid[]`, texts a
/// `varchar[]`.
enum KeyArray {
    Ints(Vec<i64>),
    Uuids(Vec<sqlx::types::Uuid>),
    Texts(Vec<String>),
}

impl KeyArray {
    fn of(ids: Vec<ResourceId>) -> Self {
        if let Some(ints) = ids.iter().map(ResourceId::as_int).collect() {
            KeyArray::Ints(ints)
        } else if let Some(uuids) = ids.iter().map(ResourceId::as_uuid).collect() {
            KeyArray::Uuids(uuids)
        } else {
            KeyArray::Texts(ids.iter().map(ToString::to_string).collect())
        }
    }

    fn cast(&self) -> &'static str {
        match self {
            KeyArray::Ints(_) => KEY_ARRAY,
            KeyArray::Uuids(_) => "$3::uuid[]",
            KeyArray::Texts(_) => "$3::varchar[]",
        }
    }
}

const UPSERT_ARRAYS: [&str; 9] = [
    "$1::varchar[]",
    "$2::varchar[]",
    KEY_ARRAY,
    "$4::varchar[]",
    "$5::varchar[]",
    "$6::text[]",
    "$7::timestamp[]",
    "$8::text[]",
    "$9::int4[]",
];

#[async_trait]
impl BulkWrites for PostgresBackend {
    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>> {
        // The shared statement, fed by one array of names.
        let mut source = Query::select();
        source
            .expr(Func::cust("UNNEST").arg(Expr::cust("$1::varchar[]")))
            .expr(Expr::cust("$2::varchar"))
            .expr(PostgresDialect.now_plus(ttl));
        let mut insert = batch_run::take_statement(&PostgresDialect);
        insert
            .select_from(source)
            // Internal invariant: three select expressions for three columns.
            .expect("select list matches the column list");
        // The statement binds no value of its own: `$1`, `$2` are bound here.
        let sql = insert.to_string(PostgresQueryBuilder);
        let taken: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(names)
            .bind(owner)
            .persistent(false)
            .fetch_all(&self.pool)
            .await?;
        Ok(taken.into_iter().map(|(name,)| name).collect())
    }

    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()> {
        let Some((_, first)) = rows.first() else {
            return Ok(());
        };
        // The shared statement, fed by arrays zipped row by row (several
        // set-returning functions in one select list advance in lockstep).
        let mut source = Query::select();
        let columns = sync_rows::RowColumns::of(rows);
        let keys = KeyArray::of(columns.resource_ids);
        for array in UPSERT_ARRAYS {
            let array = match array {
                KEY_ARRAY => keys.cast(),
                other => other,
            };
            source.expr(Func::cust("UNNEST").arg(Expr::cust(array)));
        }
        source
            .expr(PostgresDialect.now())
            .expr(PostgresDialect.now());
        debug_assert_eq!(UPSERT_COLUMNS.len(), UPSERT_ARRAYS.len() + 2);
        let mut insert = sync_rows::upsert_statement(&PostgresDialect, first);
        insert
            .select_from(source)
            // Internal invariant: one select expression per upserted column.
            .expect("select list matches the column list");
        // The statement binds no value of its own: `$1…$9` are the arrays.
        let sql = insert.to_string(PostgresQueryBuilder);
        let query = sqlx::query(AssertSqlSafe(sql))
            .bind(columns.crm_names)
            .bind(columns.resource_types);
        let query = match keys {
            KeyArray::Ints(ids) => query.bind(ids),
            KeyArray::Uuids(ids) => query.bind(ids),
            KeyArray::Texts(ids) => query.bind(ids),
        };
        query
            .bind(columns.crm_ids)
            .bind(columns.digests)
            .bind(columns.field_digests)
            .bind(columns.synced_at)
            .bind(columns.errors)
            .bind(columns.error_counts)
            .persistent(false)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn refresh_sync_statistics(&self) -> Result<()> {
        sqlx::query(r#"ANALYZE "crm_synchronisations""#)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
