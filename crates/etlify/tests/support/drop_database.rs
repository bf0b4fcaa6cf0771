//! Drops a test's MySQL database when the test ends (the MySQL twin of
//! `drop_schema.rs`: a database there is what a schema is on PostgreSQL).

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{AssertSqlSafe, Connection};

use super::drop_schema::drop_on_a_thread_of_its_own;

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
        drop_on_a_thread_of_its_own(format!("test database {}", self.name), move || {
            Box::pin(async move {
                let mut conn = sqlx::MySqlConnection::connect_with(&admin)
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
