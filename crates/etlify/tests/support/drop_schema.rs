//! Drops a test's PostgreSQL schema when the test ends. Shared by this
//! crate's tests and etlify-testkit's multi-process tests (which include
//! this file by path).

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection};

/// Drops a test's PostgreSQL schema when the test ends, passed or failed
/// (also while a failed assertion unwinds), so that a run leaves no schema
/// behind on the server.
pub struct DropSchema {
    /// How to connect to the server, as the test's administrator.
    pub admin: PgConnectOptions,
    /// The schema.
    pub name: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        // A lock a task of the failed test still holds must not hang the
        // run: the schema is then left behind, and said so.
        let statement = format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.name
        );
        drop_on_a_thread_of_its_own(format!("test schema {}", self.name), move || {
            Box::pin(async move {
                let mut conn = sqlx::PgConnection::connect_with(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql(AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.ok();
                Ok(())
            })
        });
    }
}

/// What a drop runs: connect, drop, say why not.
pub type DropJob = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// Runs `job` to its end from a `Drop`, which cannot await, while the
/// test's runtime may be the one shutting down: on a thread and a runtime
/// of its own, the test's runtime going on while it is waited for. What
/// it failed to drop, `what` names on stderr.
pub fn drop_on_a_thread_of_its_own(what: String, job: impl FnOnce() -> DropJob + Send + 'static) {
    let dropping = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(job())
    });
    let wait = || match dropping.join() {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("{what} left behind: {error}"),
        Err(_) => eprintln!("{what} left behind: the drop panicked"),
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}
