//! Drops a test's MySQL database when the test ends (the MySQL twin of
//! `drop_schema.rs`: a database there is what a schema is on PostgreSQL).

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{AssertSqlSafe, Connection};

/// Drops a test's MySQL database when the test ends, passed or failed.
pub struct DropDatabase {
    /// How to connect to the server, as the test's administrator.
    pub admin: MySqlConnectOptions,
    /// The database.
    pub name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let statement = format!(
            "SET SESSION lock_wait_timeout = 10; DROP DATABASE IF EXISTS `{}`",
            self.name
        );
        // `drop` cannot await: the statement runs on a thread and a
        // connection of its own (as `DropSchema` does).
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let mut conn = sqlx::MySqlConnection::connect_with(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql(AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.ok();
                Ok::<(), String>(())
            })
        });
        let wait = || match dropping.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("test database {} left behind: {error}", self.name),
            Err(_) => eprintln!("test database {} left behind: the drop panicked", self.name),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }
}
