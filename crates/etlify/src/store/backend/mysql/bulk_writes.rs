//! MySQL's writes of many rows: the shared statements as multi-row
//! `VALUES` (MySQL binds no arrays), in chunks that stay well under its
//! 65,535 placeholders.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use sea_query::{Alias, Expr, ReturningClause, Value};
use sqlx::AssertSqlSafe;

use super::{MysqlBackend, MysqlDialect};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::store::backend::{BulkWrites, Clock, Dialect};
use crate::store::leases::batch_run;
use crate::store::sync_rows::{self, RowChange};

/// Sync rows per upsert statement (11 placeholders each).
const UPSERT_CHUNK: usize = 2_000;

/// CRM ids looked up per statement: under MariaDB's
/// `in_predicate_conversion_threshold` (1,000), from which an `IN` list
/// is read as a table of its values joined to the whole sync table.
const CLAIM_CHUNK: usize = 500;

#[async_trait]
impl BulkWrites for MysqlBackend {
    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut insert = batch_run::take_statement(&MysqlDialect);
        for name in names {
            insert
                .values([
                    Expr::val(name.as_str()),
                    Expr::val(owner),
                    MysqlDialect.now_plus(ttl),
                ])
                // Internal invariant: three values for three columns.
                .expect("values match the column list");
        }
        // MariaDB returns every row the upsert met, taken or not: the
        // owner says which are this call's.
        insert.returning(ReturningClause::Columns(vec![
            Alias::new("name").into(),
            Alias::new("owner").into(),
        ]));
        let (sql, values) = MysqlDialect.build((&insert).into());
        let rows: Vec<(String, String)> = sqlx::query_as_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, holder)| holder == owner)
            .map(|(name, _)| name)
            .collect())
    }

    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()> {
        // The server's time once per call, for `created_at`/`updated_at`.
        let written_at = MysqlDialect.timestamp_value(self.now().await?);
        let new_rows_first = matches!(rows.first(), Some((_, RowChange::Synced { .. })));
        for chunk in rows.chunks(UPSERT_CHUNK) {
            if new_rows_first && self.insert_new_rows(chunk, &written_at).await? {
                continue;
            }
            self.upsert_checked(chunk, &written_at).await?;
        }
        Ok(())
    }
}

impl MysqlBackend {
    /// Whether `rows` went in as a plain `INSERT`: synced rows are new
    /// rows in a first sync, so they are inserted as they
    /// are, without the CRM-id lookup of
    /// [`upsert_checked`](Self::upsert_checked) and without an update
    /// clause, so a row of the record that exists or a CRM id another
    /// record holds fails the whole statement (InnoDB undoes the
    /// statement's rows) and the batch goes the checked way, which decides
    /// as before. The lookup and the insert cost about the same as the
    /// upsert once more on a first sync (docs/BENCHMARKS.md, "MariaDB:
    /// the first sync's writes").
    async fn insert_new_rows(
        &self,
        rows: &[&(SyncKey, RowChange)],
        written_at: &Value,
    ) -> Result<bool> {
        let mut insert = sync_rows::insert_statement();
        sync_rows::add_rows(&mut insert, &MysqlDialect, rows, written_at);
        let (sql, values) = MysqlDialect.build((&insert).into());
        match sqlx::query_with(AssertSqlSafe(sql), values)
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Upserts `rows` after refusing the CRM ids other records hold (X-6).
    async fn upsert_checked(
        &self,
        rows: &[&(SyncKey, RowChange)],
        written_at: &Value,
    ) -> Result<()> {
        match crm_id_claims(rows) {
            Claims::None => {}
            Claims::SharedInBatch => {
                // Row by row, so that each is checked against the ones
                // written before it.
                for row in rows {
                    Box::pin(self.upsert_checked(std::slice::from_ref(row), written_at)).await?;
                }
                return Ok(());
            }
            Claims::Some(claims) => self.refuse_crm_ids_held_elsewhere(&claims).await?,
        }
        let Some((_, first)) = rows.first() else {
            return Ok(());
        };
        let mut upsert = sync_rows::upsert_statement(&MysqlDialect, first);
        sync_rows::add_rows(&mut upsert, &MysqlDialect, rows, written_at);
        let (sql, values) = MysqlDialect.build((&upsert).into());
        sqlx::query_with(AssertSqlSafe(sql), values)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The CRM ids rows claim (synced rows that carry one).
enum Claims<'a> {
    /// No row claims a CRM id.
    None,
    /// Two rows of the batch claim one CRM id for different records.
    SharedInBatch,
    /// Each claimed CRM id by one record: (key, CRM id).
    Some(Vec<(&'a SyncKey, &'a str)>),
}

fn crm_id_claims<'a>(rows: &[&'a (SyncKey, RowChange)]) -> Claims<'a> {
    let claims: Vec<(&SyncKey, &str)> = rows
        .iter()
        .filter_map(|(key, change)| match change {
            RowChange::Synced {
                crm_id: Some(crm_id),
                ..
            }
            | RowChange::Resynced {
                crm_id: Some(crm_id),
                ..
            } => Some((key, crm_id.as_str())),
            _ => None,
        })
        .collect();
    if claims.is_empty() {
        return Claims::None;
    }
    let mut claimed: HashMap<(&str, &str, &str), ResourceId> = HashMap::new();
    for (key, crm_id) in &claims {
        let claim = (key.crm_name.as_str(), key.resource_type.as_str(), *crm_id);
        if let Some(other) = claimed.insert(claim, key.resource_id.clone()) {
            if other != key.resource_id {
                return Claims::SharedInBatch;
            }
        }
    }
    Claims::Some(claims)
}

impl MysqlBackend {
    /// MySQL's `ON DUPLICATE KEY UPDATE` fires on any unique key: a row
    /// claiming a CRM id another record's row holds (unique per CRM and
    /// type, X-6) would update that record's row instead of failing, as
    /// the upsert does on the other databases. So the holders are looked
    /// up first, and a claim one holds is refused by the database itself:
    /// the claiming row inserted plainly fails on a unique index (its own
    /// row's, or the CRM id's), the error the engine handles everywhere
    /// (`sync/mod.rs`: the rows are then written one by one, the
    /// conflicting one recorded as an error). A holder gone meanwhile lets
    /// the insert through, and the upsert goes on.
    async fn refuse_crm_ids_held_elsewhere(&self, claims: &[(&SyncKey, &str)]) -> Result<()> {
        // One list of CRM ids per CRM and model (a batch's claims are all
        // of one): MariaDB plans `crm_id IN (…)` under one prefix of the
        // index in a millisecond, where the same claims as a list of
        // `(crm_name, resource_type, crm_id)` rows took it 30-50 ms a page.
        let mut by_model: BTreeMap<(&str, &str), Vec<(&SyncKey, &str)>> = BTreeMap::new();
        for &(key, crm_id) in claims {
            by_model
                .entry((key.crm_name.as_str(), key.resource_type.as_str()))
                .or_default()
                .push((key, crm_id));
        }
        for ((crm, model), claims) in by_model {
            for chunk in claims.chunks(CLAIM_CHUNK) {
                self.refuse_held(crm, model, chunk).await?;
            }
        }
        Ok(())
    }

    /// [`refuse_crm_ids_held_elsewhere`](Self::refuse_crm_ids_held_elsewhere)
    /// for claims of one CRM and model.
    async fn refuse_held(&self, crm: &str, model: &str, claims: &[(&SyncKey, &str)]) -> Result<()> {
        let marks = vec!["?"; claims.len()].join(", ");
        let sql = format!(
            r#"SELECT "crm_id", "resource_id" FROM "crm_synchronisations" WHERE "crm_name" = ? AND "resource_type" = ? AND "crm_id" IN ({marks})"#
        );
        let mut holders = sqlx::query_as::<_, (String, ResourceId)>(AssertSqlSafe(sql))
            .bind(crm)
            .bind(model);
        for (_, crm_id) in claims {
            holders = holders.bind(*crm_id);
        }
        let holders = holders.fetch_all(&self.pool).await?;
        let refused = claims.iter().find(|(key, crm_id)| {
            holders
                .iter()
                .any(|(held, holder)| held == crm_id && *holder != key.resource_id)
        });
        if let Some((key, crm_id)) = refused {
            let insert = sqlx::query(
                r#"INSERT INTO "crm_synchronisations" ("crm_name", "resource_type", "resource_id", "crm_id", "created_at", "updated_at") VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"#,
            )
            .bind(crm)
            .bind(model);
            bind_key(insert, &key.resource_id)
                .bind(*crm_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

/// `query` with `id` bound in the form its column holds.
fn bind_key<'q>(
    query: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    id: &ResourceId,
) -> sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    if let Some(id) = id.as_int() {
        query.bind(id)
    } else if let Some(id) = id.as_uuid() {
        query.bind(id)
    } else {
        query.bind(id.to_string())
    }
}
