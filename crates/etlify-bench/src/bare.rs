//! The bare pipeline: the least a first full sync must do, written
//! directly with sqlx, as the baseline the engine is compared with in the
//! same run (throughput issue: engine ≥ 0.7× this).
//!
//! One page at a time: find the next 1,000 users without a row (keyset on
//! the primary key, `NOT EXISTS` on its own row table), load their payload
//! with the engine's payload query, digest it with the engine's digest,
//! upsert the rows in one statement. No leases, no per-request writes, no
//! adapter, no pipelining: what is left is the database work and the
//! digest.
//!
//! The bare touched run ([`touched_sync`]) is the least a run after a
//! small change must do, on the same table: find the users of companies
//! changed since its last run, keep those whose company is newer than
//! their row (reading the row's digest with it), load, digest, and upsert
//! the rows whose digest changed, a page at a time.

use std::time::Instant;

use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, QueryBuilder};

use crate::Pool;

const PAGE: i64 = 1_000;

/// Rows written between two refreshes of the bare table's statistics on
/// PostgreSQL (the engine's interval, `sync/pipeline.rs`).
const STATISTICS_EVERY: u64 = 50_000;

const PAYLOAD: &str = "SELECT users.id, users.email, users.full_name, companies.name AS company \
     FROM users LEFT JOIN companies ON companies.id = users.company_id";

/// Runs the bare first full sync into its own table; returns (records, seconds).
pub(crate) async fn first_full_sync(pool: &Pool) -> Result<(u64, f64), sqlx::Error> {
    let ts = match pool {
        Pool::Postgres(_) => "timestamp(6) without time zone",
        Pool::Sqlite(_) | Pool::Mysql(_) => "datetime(6)",
    };
    let varchar = match pool {
        Pool::Mysql(_) => "varchar(255)",
        _ => "varchar",
    };
    let now = now_sql(pool);
    crate::exec(pool, "DROP TABLE IF EXISTS bare_sync_rows").await?;
    crate::exec(
        pool,
        &format!(
            "CREATE TABLE bare_sync_rows (crm_name {varchar} NOT NULL, resource_type {varchar} NOT NULL, \
             resource_id bigint NOT NULL, last_digest {varchar}, last_synced_at {ts}, \
             created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
        ),
    )
    .await?;
    crate::exec(
        pool,
        "CREATE UNIQUE INDEX idx_bare_sync_rows ON bare_sync_rows (crm_name, resource_type, resource_id)",
    )
    .await?;
    let started = Instant::now();
    let mut cursor = 0_i64;
    let mut records = 0_u64;
    loop {
        let ids = find(pool, cursor).await?;
        let Some(last) = ids.last() else {
            break;
        };
        cursor = *last;
        let payloads = load(pool, &ids).await?;
        let rows: Vec<(i64, String)> = payloads
            .into_iter()
            .map(|(id, payload)| (id, etlify::stable_sha256(&Value::Object(payload))))
            .collect();
        upsert(pool, &rows, now).await?;
        records += rows.len() as u64;
        // As the engine does for its sync table: PostgreSQL plans the
        // search for rows not written yet from statistics of a table that
        // grows from empty.
        if matches!(pool, Pool::Postgres(_)) && records % STATISTICS_EVERY == 0 {
            crate::exec(pool, "ANALYZE bare_sync_rows").await?;
        }
    }
    Ok((records, started.elapsed().as_secs_f64()))
}

async fn find(pool: &Pool, cursor: i64) -> Result<Vec<i64>, sqlx::Error> {
    let sql =
        "SELECT id FROM users u WHERE u.id > $1 AND NOT EXISTS (SELECT 1 FROM bare_sync_rows s \
               WHERE s.crm_name = 'hubspot' AND s.resource_type = 'User' AND s.resource_id = u.id) \
               ORDER BY u.id LIMIT $2";
    match pool {
        Pool::Sqlite(p) => {
            sqlx::query_scalar(sql)
                .bind(cursor)
                .bind(PAGE)
                .fetch_all(p)
                .await
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar(sql)
                .bind(cursor)
                .bind(PAGE)
                .fetch_all(p)
                .await
        }
        Pool::Mysql(p) => {
            // The row's id above the cursor too, as the engine's finder
            // writes it (`stale/finder.rs`): MariaDB runs `NOT EXISTS` as
            // an anti-join against the subquery's rows, all of them
            // without the bound (1 s a page at 1M users, the whole run
            // quadratic), none of them with it.
            let sql = sql
                .replace(
                    "s.resource_id = u.id)",
                    "s.resource_id = u.id AND s.resource_id > ?)",
                )
                .replace("$1", "?")
                .replace("$2", "?");
            sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(cursor)
                .bind(cursor)
                .bind(PAGE)
                .fetch_all(p)
                .await
        }
    }
}

/// `sql` followed by `(?, ?, …)`, one placeholder per id, for MySQL (no
/// array parameter).
fn mysql_in_list(sql: &str, ids: &[i64]) -> String {
    let marks = vec!["?"; ids.len().max(1)].join(", ");
    format!("{sql} ({marks})")
}

fn payload(
    id: i64,
    email: String,
    full_name: String,
    company: Option<String>,
) -> Map<String, Value> {
    let mut payload = Map::new();
    payload.insert("id".into(), Value::from(id));
    payload.insert("email".into(), Value::from(email));
    payload.insert("full_name".into(), Value::from(full_name));
    payload.insert("company".into(), company.map_or(Value::Null, Value::from));
    payload
}

async fn load(pool: &Pool, ids: &[i64]) -> Result<Vec<(i64, Map<String, Value>)>, sqlx::Error> {
    type Row = (i64, String, String, Option<String>);
    let rows: Vec<Row> = match pool {
        Pool::Sqlite(p) => {
            let sql = format!("{PAYLOAD} WHERE users.id IN (SELECT value FROM json_each($1))");
            let list = Value::from(ids.to_vec()).to_string();
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(list)
                .fetch_all(p)
                .await?
        }
        Pool::Postgres(p) => {
            let sql = format!("{PAYLOAD} WHERE users.id = ANY($1)");
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(ids)
                .fetch_all(p)
                .await?
        }
        Pool::Mysql(p) => {
            let sql = mysql_in_list(&format!("{PAYLOAD} WHERE users.id IN"), ids);
            let mut query = sqlx::query_as(AssertSqlSafe(sql));
            for id in ids {
                query = query.bind(*id);
            }
            query.fetch_all(p).await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(id, email, full_name, company)| (id, payload(id, email, full_name, company)))
        .collect())
}

async fn upsert(pool: &Pool, rows: &[(i64, String)], now: &str) -> Result<(), sqlx::Error> {
    let conflict = " ON CONFLICT (crm_name, resource_type, resource_id) DO UPDATE SET \
                    last_digest = excluded.last_digest, last_synced_at = excluded.last_synced_at, \
                    updated_at = excluded.updated_at";
    match pool {
        Pool::Sqlite(p) => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO bare_sync_rows (crm_name, resource_type, resource_id, last_digest, \
                 last_synced_at, created_at, updated_at) ",
            );
            insert.push_values(rows, |mut row, (id, digest)| {
                row.push_bind("hubspot")
                    .push_bind("User")
                    .push_bind(*id)
                    .push_bind(digest.as_str())
                    .push(now)
                    .push(now)
                    .push(now);
            });
            insert.push(conflict);
            insert.build().execute(p).await?;
        }
        Pool::Postgres(p) => {
            let (ids, digests): (Vec<i64>, Vec<String>) = rows.iter().cloned().unzip();
            let sql = format!(
                "INSERT INTO bare_sync_rows (crm_name, resource_type, resource_id, last_digest, \
                 last_synced_at, created_at, updated_at) \
                 SELECT 'hubspot', 'User', r.id, r.digest, {now}, {now}, {now} \
                 FROM UNNEST($1::int8[], $2::varchar[]) AS r(id, digest){conflict}"
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(ids)
                .bind(digests)
                .execute(p)
                .await?;
        }
        Pool::Mysql(p) => {
            let mut insert = QueryBuilder::new(
                "INSERT INTO bare_sync_rows (crm_name, resource_type, resource_id, last_digest, \
                 last_synced_at, created_at, updated_at) ",
            );
            insert.push_values(rows, |mut row, (id, digest)| {
                row.push_bind("hubspot")
                    .push_bind("User")
                    .push_bind(*id)
                    .push_bind(digest.as_str())
                    .push(now)
                    .push(now)
                    .push(now);
            });
            insert.push(
                " ON DUPLICATE KEY UPDATE last_digest = VALUES(last_digest), \
                 last_synced_at = VALUES(last_synced_at), updated_at = VALUES(updated_at)",
            );
            insert.build().execute(p).await?;
        }
    }
    Ok(())
}

/// The database's clock, as SQL, for the rows the bare runs write.
fn now_sql(pool: &Pool) -> &'static str {
    match pool {
        Pool::Postgres(_) => "(now() AT TIME ZONE 'UTC')",
        Pool::Sqlite(_) => "strftime('%Y-%m-%d %H:%M:%f000', 'now')",
        Pool::Mysql(_) => "UTC_TIMESTAMP(6)",
    }
}

/// The database's clock as text, comparable with the timestamps the
/// generator and the touches write.
pub(crate) async fn now_text(pool: &Pool) -> Result<String, sqlx::Error> {
    match pool {
        Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT strftime('%Y-%m-%d %H:%M:%f000', 'now')")
                .fetch_one(p)
                .await
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::text")
                .fetch_one(p)
                .await
        }
        Pool::Mysql(p) => {
            sqlx::query_scalar("SELECT CAST(UTC_TIMESTAMP(6) AS CHAR)")
                .fetch_one(p)
                .await
        }
    }
}

/// Runs the bare touched run over what changed after `since` (a
/// [`now_text`]); returns (records sent, seconds, the `since` of the
/// next run).
pub(crate) async fn touched_sync(
    pool: &Pool,
    since: &str,
) -> Result<(u64, f64, String), sqlx::Error> {
    let cast = match pool {
        Pool::Postgres(_) => "::timestamp",
        Pool::Sqlite(_) | Pool::Mysql(_) => "",
    };
    let now = now_sql(pool);
    let next = now_text(pool).await?;
    let started = Instant::now();
    let candidates_sql = format!(
        "SELECT u.id FROM users u WHERE u.company_id IN \
         (SELECT id FROM companies WHERE updated_at > $1{cast}) ORDER BY u.id"
    );
    let candidates: Vec<i64> = match pool {
        Pool::Sqlite(p) => {
            sqlx::query_scalar(AssertSqlSafe(candidates_sql))
                .bind(since)
                .fetch_all(p)
                .await?
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar(AssertSqlSafe(candidates_sql))
                .bind(since)
                .fetch_all(p)
                .await?
        }
        Pool::Mysql(p) => {
            sqlx::query_scalar(AssertSqlSafe(candidates_sql.replace("$1", "?")))
                .bind(since)
                .fetch_all(p)
                .await?
        }
    };
    let mut records = 0_u64;
    for page in candidates.chunks(PAGE as usize) {
        let stale = stale_of(pool, page).await?;
        let last_digests: std::collections::HashMap<i64, Option<String>> =
            stale.into_iter().collect();
        let ids: Vec<i64> = last_digests.keys().copied().collect();
        let payloads = load(pool, &ids).await?;
        let rows: Vec<(i64, String)> = payloads
            .into_iter()
            .map(|(id, payload)| (id, etlify::stable_sha256(&Value::Object(payload))))
            .filter(|(id, digest)| last_digests.get(id).and_then(Option::as_deref) != Some(digest))
            .collect();
        for chunk in rows.chunks(100) {
            upsert(pool, chunk, now).await?;
        }
        records += rows.len() as u64;
    }
    Ok((records, started.elapsed().as_secs_f64(), next))
}

/// The ids of `page` whose company is newer than their row, with the
/// row's digest.
async fn stale_of(pool: &Pool, page: &[i64]) -> Result<Vec<(i64, Option<String>)>, sqlx::Error> {
    let from = "FROM users u JOIN companies c ON c.id = u.company_id \
                JOIN bare_sync_rows s ON s.crm_name = 'hubspot' AND s.resource_type = 'User' \
                AND s.resource_id = u.id";
    match pool {
        Pool::Sqlite(p) => {
            let sql = format!(
                "SELECT u.id, s.last_digest {from} WHERE u.id IN (SELECT value FROM json_each($1)) \
                 AND c.updated_at > s.last_synced_at"
            );
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(Value::from(page.to_vec()).to_string())
                .fetch_all(p)
                .await
        }
        Pool::Postgres(p) => {
            let sql = format!(
                "SELECT u.id, s.last_digest {from} WHERE u.id = ANY($1) \
                 AND c.updated_at > s.last_synced_at"
            );
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(page)
                .fetch_all(p)
                .await
        }
        Pool::Mysql(p) => {
            let sql = format!(
                "{} AND c.updated_at > s.last_synced_at",
                mysql_in_list(
                    &format!("SELECT u.id, s.last_digest {from} WHERE u.id IN"),
                    page
                )
            );
            let mut query = sqlx::query_as(AssertSqlSafe(sql));
            for id in page {
                query = query.bind(*id);
            }
            query.fetch_all(p).await
        }
    }
}
