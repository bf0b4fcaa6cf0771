//! The tests of `fresh` that run on each backend. This file is compiled
//! twice, as `fresh::sqlite` and `fresh::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// Without triggers, `ChangeWatch::Poll` sees a row another connection
/// committed (SQLite: its commit counter moved, then the finder found it;
/// PostgreSQL: the finder, every poll) and the worker sends it while its
/// interval is an hour. Once nothing changes, the polls request nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_watch_poll_picks_up_a_change_from_another_connection_without_the_interval() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    db.insert_user("first@x.io", None).await;
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new()
            .interval(Some(AN_HOUR))
            .watch(ChangeWatch::Poll(Duration::from_millis(100))),
    );
    adapter.upserts_reaching(1).await;
    eventually(WITHIN, POLL, "the first run ended", || async {
        queue_idle(&etlify).await
    })
    .await;

    // Another store: other connections than the worker's.
    let other = db.another_store(1).await;
    let now = db.now_sql();
    let email = "later@x.io";
    other_insert(&other, &format!(
        "INSERT INTO users (email, full_name, created_at, updated_at) VALUES ('{email}', 'Later', {now}, {now})"
    ))
    .await;
    eventually(WITHIN, POLL, "the later row is sent", || async {
        adapter
            .upserts()
            .iter()
            .any(|call| call.payload["email"] == email)
    })
    .await;
    eventually(WITHIN, POLL, "the run ended", || async {
        queue_idle(&etlify).await
    })
    .await;
    let settled = worker.health.change_watch();
    assert!(settled.requests >= 1, "{settled:?}");
    // Nothing changes any more: polls go on, and request nothing.
    let polled_from = worker
        .health
        .change_watch()
        .polls
        .max(worker.health.change_watch().probes);
    eventually(WITHIN, POLL, "five more polls", || async {
        worker
            .health
            .change_watch()
            .polls
            .max(worker.health.change_watch().probes)
            >= polled_from + 5
    })
    .await;
    assert_eq!(adapter.upserts().len(), 2, "nothing sent again");
    worker.stop().await;
}

/// Runs `sql` through `store`'s own connections.
async fn other_insert(store: &etlify::Store, sql: &str) {
    if let Some(pool) = store.sqlite_pool() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap();
    } else if let Some(pool) = store.postgres_pool() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap();
    } else if let Some(pool) = store.mysql_pool() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap();
    } else {
        unreachable!("a store on SQLite, PostgreSQL or MySQL");
    }
}

/// The default (`ChangeWatch::Auto`) on a database without change
/// triggers does what a worker did before: no listener, no polling; only
/// the interval requests runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_default_watch_without_triggers_neither_listens_nor_polls() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    db.insert_user("first@x.io", None).await;
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new().interval(Some(AN_HOUR)),
    );
    assert_eq!(WorkerOptions::new().get_watch(), ChangeWatch::Auto);
    adapter.upserts_reaching(1).await;
    eventually(WITHIN, POLL, "the first run ended", || async {
        queue_idle(&etlify).await
    })
    .await;
    let watch = worker.health.change_watch();
    worker.stop().await;
    assert_eq!(watch, ChangeWatchCounts::default(), "{watch:?}");
}
