//! The tests of `checkpoint` that run on each backend. This file is compiled
//! three times, as `checkpoint::sqlite`, `checkpoint::postgres` and
//! `checkpoint::mysql` (`mod.rs`); `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_a_run_after_a_complete_one_looks_only_at_what_changed() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = seed(&db, 3).await;
    let adapter = Arc::new(NullAdapter::new());
    let etlify = engine_with(&db, adapter.clone(), Config::default()).await;
    assert_eq!(users_synced(&etlify).await, 3, "the first run is complete");
    settle(&etlify).await;

    // A sync row deleted by hand shows in no timestamp: a run from the
    // checkpoint does not see it; a touched record it does.
    delete_sync_row(&db, ids[1]).await;
    db.touch("users", ids[2]).await;
    assert_eq!(users_synced(&etlify).await, 1, "only the touched user");

    // With no interval, every run reads the whole table and finds it.
    let complete = engine_with(
        &db,
        adapter,
        Config::default().complete_check_interval(Duration::ZERO),
    )
    .await;
    // The user without a row, and the touched one again if the run before
    // was in sync only as of an older transaction (see `settle`).
    let expected = stale_by_definition(&complete).await;
    assert!(expected >= 1, "the user without a row is stale");
    assert_eq!(users_synced(&complete).await, expected, "as the definition");
    assert!(etlify
        .sync_row("hubspot", "User", ids[1])
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_a_complete_run_is_there_when_asked_for() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = seed(&db, 3).await;
    let etlify = engine_with(&db, Arc::new(NullAdapter::new()), Config::default()).await;
    assert_eq!(users_synced(&etlify).await, 3);
    settle(&etlify).await;
    delete_sync_row(&db, ids[1]).await;
    assert_eq!(users_synced(&etlify).await, 0, "from the checkpoint");
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new().models(["User"]).complete(true))
        .await
        .unwrap();
    assert_eq!(stats.total, 1);
}

/// Deleting a CRM's sync rows to sync everything again, or restoring an
/// older copy of the table, needs no complete check to be noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_sync_rows_deleted_wholesale_read_the_whole_table_again() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 3).await;
    let etlify = engine_with(&db, Arc::new(NullAdapter::new()), Config::default()).await;
    assert_eq!(users_synced(&etlify).await, 3);
    db.exec("DELETE FROM crm_synchronisations WHERE crm_name = 'hubspot'")
        .await;
    assert_eq!(users_synced(&etlify).await, 3);
    assert_run_finds_only_the_stale(&etlify).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_records_inserted_after_it_are_found_whatever_their_timestamps() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 2).await;
    let etlify = engine_with(&db, Arc::new(NullAdapter::new()), Config::default()).await;
    assert_eq!(users_synced(&etlify).await, 2);

    // Imported with a timestamp long before the checkpoint: its id is above
    // the highest the checkpoint saw.
    let imported = db
        .scalar_i64(
            "INSERT INTO users (email, created_at, updated_at) \
             VALUES ('old@x.io', '2001-01-01 00:00:00', '2001-01-01 00:00:00') RETURNING id",
        )
        .await;
    assert_eq!(users_synced(&etlify).await, 1);
    assert!(etlify
        .sync_row("hubspot", "User", imported)
        .await
        .unwrap()
        .is_some());
    assert_run_finds_only_the_stale(&etlify).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_failing_records_are_retried_with_no_change() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = seed(&db, 2).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with(&db, adapter.clone(), Config::default()).await;
    assert_eq!(users_synced(&etlify).await, 2);

    change_user(&db, ids[0], "Changed").await;
    refuse_next(
        &adapter,
        etlify::adapters::AdapterErrorKind::ValidationFailed,
    );
    let failed = users_run(&etlify).await;
    assert_eq!(failed.errors, 1);

    // Nothing is stamped since, but the failing row is looked at again.
    assert_eq!(users_synced(&etlify).await, 1);
    assert_eq!(
        adapter.upserts().last().unwrap().payload["full_name"],
        "Changed"
    );
    assert_run_finds_only_the_stale(&etlify).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_resetting_an_error_budget_makes_the_next_run_complete() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = seed(&db, 1).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).max_sync_errors(1)],
        vec![user_model(&["hubspot"]), company_model(&["hubspot"])],
    )
    .await;
    assert_eq!(users_synced(&etlify).await, 1);
    change_user(&db, ids[0], "Changed").await;
    refuse_next(
        &adapter,
        etlify::adapters::AdapterErrorKind::ValidationFailed,
    );
    assert_eq!(users_synced(&etlify).await, 1, "fails, over its budget");
    assert_eq!(users_synced(&etlify).await, 0, "left alone");

    // Its change is older than the checkpoint and its row no longer fails.
    assert!(etlify
        .reset_error_count("hubspot", "User", ids[0])
        .await
        .unwrap());
    assert_eq!(users_synced(&etlify).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_a_changed_finder_definition_reads_the_whole_table() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = seed(&db, 3).await;
    let scoped = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new(USER_PAYLOAD_SQL))
            .stale_scope(format!("id <> {}", ids[0])),
    );
    let adapter = Arc::new(NullAdapter::new());
    let etlify = engine_of(&db, adapter.clone(), Config::default(), scoped).await;
    assert_eq!(users_synced(&etlify).await, 2);
    settle(&etlify).await;
    assert_run_finds_only_the_stale(&etlify).await;

    // The scope is widened: the first user entered it without a change.
    let widened = engine_with(&db, adapter, Config::default()).await;
    assert_eq!(users_synced(&widened).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_a_run_cut_short_leaves_the_checkpoint_where_it_was() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = seed(&db, 2).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with(&db, adapter.clone(), Config::default()).await;
    assert_eq!(users_synced(&etlify).await, 2);
    let checkpoint = "SELECT CAST(changes_through AS text) FROM etlify_sync_checkpoints \
                      WHERE crm_name = 'hubspot' AND resource_type = 'User'";
    let before = db.scalar_text(checkpoint).await;
    assert!(before.is_some());

    change_user(&db, ids[0], "Changed").await;
    refuse_next(&adapter, etlify::adapters::AdapterErrorKind::Unauthorized);
    let stats = users_run(&etlify).await;
    assert!(!stats.is_complete(), "the CRM refused the credentials");
    assert_eq!(db.scalar_text(checkpoint).await, before);
    assert_eq!(users_synced(&etlify).await, 1, "the next run resumes");
    assert_ne!(db.scalar_text(checkpoint).await, before);
}

/// X-1 for checkpoints: a change written by a transaction still open when
/// a run starts is not visible to it; the next run finds it, although its
/// timestamp is older than that run's start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_a_change_committed_during_a_run_is_found_by_the_next() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = seed(&db, 1).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with(&db, adapter.clone(), Config::default()).await;
    assert_eq!(users_synced(&etlify).await, 1);

    let writer = db.another_store(1).await;
    let (sqlite, postgres, mysql) = (
        writer.sqlite_pool().cloned(),
        writer.postgres_pool().cloned(),
        writer.mysql_pool().cloned(),
    );
    let update = format!(
        "UPDATE users SET full_name = 'Late', updated_at = {} WHERE id = {}",
        db.now_sql(),
        ids[0]
    );
    let stamp = format!("SELECT updated_at FROM users WHERE id = {}", ids[0]);
    let run = |etlify: Etlify| async move { users_synced(&etlify).await };
    // PostgreSQL and MySQL: the run reads around the open transaction.
    macro_rules! run_while_the_change_is_uncommitted {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(update))
                .execute(&mut *tx)
                .await
                .unwrap();
            // The case under test is a change older than the run: the
            // database's clock passes the change's stamp by more than the
            // 1 ms commit margin before the run starts.
            let stamped: chrono::NaiveDateTime =
                sqlx::query_scalar(sqlx::AssertSqlSafe(stamp.clone()))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            db.clock_past(stamped, chrono::TimeDelta::milliseconds(2))
                .await;
            assert_eq!(run(etlify.clone()).await, 0, "not visible yet");
            tx.commit().await.unwrap();
        }};
    }
    if let Some(pool) = postgres {
        run_while_the_change_is_uncommitted!(pool);
    } else if let Some(pool) = mysql {
        run_while_the_change_is_uncommitted!(pool);
    } else if let Some(pool) = sqlite {
        // The writer holds SQLite's write lock; the run waits for it.
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(update))
            .execute(&mut *tx)
            .await
            .unwrap();
        let running = tokio::spawn(run(etlify.clone()));
        // Time for the run to reach the write lock: nothing outside the
        // engine sees it waiting there. A run slower than this starts
        // after the commit, which the test then checks too.
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.commit().await.unwrap();
        running.await.unwrap();
    }
    users_synced(&etlify).await;
    assert_eq!(
        adapter.upserts().last().unwrap().payload["full_name"],
        "Late"
    );
    assert_run_finds_only_the_stale(&etlify).await;
}
