//! Migrations, the schema check and the corrected indexes (X-6, G-26).

use etlify::SchemaProblem;
use etlify::{ErrorKind, MigrateOptions};

use crate::support::TestDb;

async fn insert(
    db: &TestDb,
    crm: &str,
    resource_type: &str,
    id: i64,
    crm_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    let now = db.now_sql();
    let crm_id = crm_id.map_or("NULL".to_owned(), |c| format!("'{c}'"));
    db.try_exec(&format!(
        "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, crm_id, created_at, updated_at) \
         VALUES ('{crm}', '{resource_type}', {id}, {crm_id}, {now}, {now})"
    ))
    .await
}

/// The gem's pre-0.9 table: no `crm_name`, no `error_count`, and the two
/// unique indexes that forbid multi-CRM.
async fn create_gem_08_table(db: &TestDb) {
    let (pk, ts) = if db.is_postgres() {
        ("bigserial PRIMARY KEY", "timestamp(6) without time zone")
    } else {
        ("integer PRIMARY KEY AUTOINCREMENT NOT NULL", "datetime(6)")
    };
    db.exec(&format!(
        "CREATE TABLE crm_synchronisations (id {pk}, crm_id varchar, resource_type varchar NOT NULL, \
         resource_id bigint NOT NULL, last_digest varchar, last_synced_at {ts}, last_error varchar, \
         created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
    ))
    .await;
    db.exec(
        "CREATE UNIQUE INDEX index_crm_synchronisations_on_crm_id ON crm_synchronisations (crm_id)",
    )
    .await;
    db.exec("CREATE UNIQUE INDEX idx_crm_sync_on_resource ON crm_synchronisations (resource_type, resource_id)").await;
    let now = db.now_sql();
    db.exec(&format!(
        "INSERT INTO crm_synchronisations (crm_id, resource_type, resource_id, last_digest, created_at, updated_at) \
         VALUES ('c-1', 'User', 1, 'abc', {now}, {now})"
    ))
    .await;
}

async fn columns_and_indexes(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let (columns_sql, indexes_sql) = if db.is_postgres() {
        (
            "SELECT string_agg(column_name::text, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'crm_synchronisations'",
            "SELECT string_agg(indexname::text, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'crm_synchronisations' AND indexname NOT LIKE '%pkey'",
        )
    } else if db.is_mysql() {
        (
            "SELECT GROUP_CONCAT(column_name ORDER BY column_name SEPARATOR ',') FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'crm_synchronisations'",
            "SELECT GROUP_CONCAT(DISTINCT index_name ORDER BY index_name SEPARATOR ',') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'crm_synchronisations' AND index_name <> 'PRIMARY'",
        )
    } else {
        (
            "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('crm_synchronisations') ORDER BY name)",
            "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_list('crm_synchronisations') WHERE origin = 'c' ORDER BY name)",
        )
    };
    let split = |s: Option<String>| {
        s.unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    (
        split(db.scalar_text(columns_sql).await),
        split(db.scalar_text(indexes_sql).await),
    )
}

/// The index columns of `idx_crm_sync_on_resource`, in order.
async fn gem_resource_index_columns(db: &TestDb) -> Option<String> {
    let sql = if db.is_postgres() {
        "SELECT string_agg(a.attname::text, ',' ORDER BY k.n) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace s ON s.oid = c.relnamespace AND s.nspname = current_schema() \
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE c.relname = 'idx_crm_sync_on_resource'"
    } else if db.is_mysql() {
        "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ',') FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND table_name = 'crm_synchronisations' AND index_name = 'idx_crm_sync_on_resource'"
    } else {
        "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info('idx_crm_sync_on_resource') ORDER BY seqno)"
    };
    db.scalar_text(sql).await
}

/// The storage parameters of the sync table (PostgreSQL's `reloptions`;
/// SQLite has none).
async fn sync_table_options(db: &TestDb) -> Option<String> {
    if !db.is_postgres() {
        return None;
    }
    db.scalar_text(
        "SELECT array_to_string(reloptions, ',') FROM pg_class \
         WHERE relname = 'crm_synchronisations' AND relnamespace = current_schema()::regnamespace",
    )
    .await
}

// The database tests, compiled once per backend: `schema::sqlite::…`,
// `schema::postgres::…` and `schema::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;

/// One of the sync table's counters in PostgreSQL's statistics, once it
/// reaches `at_least` (they show a commit within about a second).
async fn sync_table_counter_reaching(db: &TestDb, counter: &str, at_least: i64) -> i64 {
    let sql = format!(
        "SELECT {counter} FROM pg_stat_user_tables \
         WHERE schemaname = current_schema() AND relname = 'crm_synchronisations'"
    );
    db.count_reaching(&sql, at_least).await
}

/// A sync of records changed since the last one updates their sync rows in
/// place on PostgreSQL (heap-only updates, which write no index entry):
/// no index reads `last_synced_at`, which every sync rewrites, and the
/// table's pages keep room for the new row versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_sync_updates_sync_rows_without_index_writes() {
    let db = TestDb::postgres().await.with_app_schema().await;
    db.exec(
        "INSERT INTO users (email, full_name, created_at, updated_at) \
         SELECT 'u' || i || '@x.io', 'User ' || i, now(), now() FROM generate_series(1, 1000) AS i",
    )
    .await;
    let etlify = crate::support::engine(
        &db,
        vec![etlify::Crm::new(
            "hubspot",
            std::sync::Arc::new(etlify::adapters::NullAdapter::new()),
        )],
        vec![crate::support::user_model(&["hubspot"])],
    )
    .await;
    let options = etlify::BatchSyncOptions::new();
    assert_eq!(etlify.batch_sync(&options).await.unwrap().total, 1000);
    // The first sync's counts, once they show.
    assert_eq!(
        sync_table_counter_reaching(&db, "n_tup_ins", 1000).await,
        1000
    );
    let updates_before = sync_table_counter_reaching(&db, "n_tup_upd", 0).await;
    let hot_before = sync_table_counter_reaching(&db, "n_tup_hot_upd", 0).await;

    // One user in a hundred, so each sync row changed is on a page of its own.
    db.exec(
        "UPDATE users SET full_name = 'Renamed', updated_at = clock_timestamp() AT TIME ZONE 'UTC' \
         WHERE id % 100 = 0",
    )
    .await;
    let stats = etlify.batch_sync(&options).await.unwrap();
    assert_eq!((stats.total, stats.outcomes.synced), (10, 10), "{stats:?}");
    let updates = sync_table_counter_reaching(&db, "n_tup_upd", updates_before + 10).await;
    assert_eq!(updates - updates_before, 10);
    // Counted in the same flush as the updates.
    let hot = sync_table_counter_reaching(&db, "n_tup_hot_upd", 0).await;
    assert_eq!(hot - hot_before, 10, "every update heap-only");
}

/// A run since a checkpoint reads the model's failing rows again
/// (`error_count > 0`). MySQL has no partial index of them: with only the
/// resource index, whose leading `(crm_name, resource_type)` hold every
/// row of the model, MariaDB read the whole sync table in every run where
/// nothing changed (docs/BENCHMARKS.md, MariaDB at 100k and 1M). Its own
/// index leads with the error count after the model, so the failing rows
/// are one range of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_failing_rows_are_read_through_an_index_not_the_whole_table() {
    let db = TestDb::mysql().await;
    db.migrate().await;
    db.exec(
        "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, error_count, created_at, updated_at) \
         SELECT 'hubspot', 'User', seq, IF(seq % 1000 = 0, 1, 0), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) \
         FROM seq_1_to_5000",
    )
    .await;
    db.exec("ANALYZE TABLE crm_synchronisations").await;
    let plan = db
        .scalar_text(
            "EXPLAIN FORMAT=JSON SELECT resource_id FROM crm_synchronisations \
             WHERE crm_name = 'hubspot' AND resource_type = 'User' AND error_count > (0)",
        )
        .await
        .expect("a plan");
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("a JSON plan");
    let table = plan
        .pointer("/query_block/nested_loop/0/table")
        .or_else(|| plan.pointer("/query_block/table"))
        .expect("the sync table's access");
    assert_eq!(table["access_type"], "range", "{plan:#}");
    assert_eq!(table["key"], "idx_etlify_sync_error_count", "{plan:#}");
}
