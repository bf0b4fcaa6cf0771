//! SQLite: the write-ahead log is copied back into the database file off
//! the writers' path (`store/backend/sqlite/wal_checkpoint.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use etlify::adapters::NullAdapter;
use etlify::{BatchSyncOptions, Store};

use crate::support::{hubspot_users_on, TestDb};

/// Sync rows in the database file alone, as a copy of it without its log
/// shows them; `None` while the copy is torn by a checkpoint under way.
async fn rows_in_the_file_alone(path: &std::path::Path) -> Option<i64> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.sqlite3");
    std::fs::copy(path, &copy).ok()?;
    let url = format!("sqlite://{}", copy.display());
    let pool = sqlx::SqlitePool::connect(&url).await.ok()?;
    let rows = sqlx::query_scalar("SELECT COUNT(*) FROM crm_synchronisations")
        .fetch_one(&pool)
        .await
        .ok();
    pool.close().await;
    rows
}

/// The engine's connections leave the copy to a task of their own: a run's
/// sync rows reach the database file while every connection stays open,
/// far below the log size at which a commit would copy it itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sync_rows_are_copied_into_the_database_file_by_a_background_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite3");
    let db = TestDb::sqlite_at(&path, Some(dir))
        .await
        .with_app_schema()
        .await;
    for i in 0..50 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    etlify::migrate(&store, &etlify::MigrateOptions::default())
        .await
        .unwrap();
    let etlify = hubspot_users_on(store, Arc::new(NullAdapter::new())).await;
    // Checkpointed once: what follows is in the log only.
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert_eq!(rows_in_the_file_alone(&path).await, Some(0));

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 50);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = rows_in_the_file_alone(&path).await;
        if rows == Some(50) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the database file holds {rows:?} of the 50 sync rows after 10 s"
        );
        // Polled: the checkpoint runs in the background, and nothing
        // tells when it has.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
