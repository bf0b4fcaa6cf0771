//! PostgreSQL's change triggers: one statement-level trigger
//! `etlify_changes` per watched table (AFTER INSERT OR UPDATE OR DELETE OR
//! TRUNCATE … FOR EACH STATEMENT, so that a 10,000-row UPDATE notifies
//! once), each calling `etlify_notify_change()`, which sends the table's
//! `schema.table` on the channel `etlify_changes`. PostgreSQL folds
//! identical notifications of one transaction into one and delivers them
//! at its commit, never before and never for a rollback.
//!
//! The database's catalog is the record of what was installed: the
//! triggers are those calling the function (`pg_trigger.tgfoid`), so that
//! a removal drops exactly them, whatever the declarations became since.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};

use crate::error::Result;
use crate::store::backend::change_feed::{
    plan_triggers, still_to_run, CHANNEL, FUNCTION_NAME, TRIGGER_NAME,
};
use crate::store::backend::{ChangeListener, ChangeTriggers, CounterReads, TriggerChanges};

/// The function, in the first schema of the search path. `RETURN NULL`:
/// the result of an AFTER statement trigger is ignored.
fn create_function() -> String {
    format!(
        "CREATE OR REPLACE FUNCTION \"{FUNCTION_NAME}\"() RETURNS trigger LANGUAGE plpgsql AS $etlify$ \
         BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME); RETURN NULL; END \
         $etlify$"
    )
}

/// The tables whose trigger calls the function the search path finds.
fn installed_query() -> String {
    format!(
        "SELECT n.nspname, c.relname FROM pg_trigger t \
         JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE t.tgfoid = to_regprocedure('\"{FUNCTION_NAME}\"()') ORDER BY 1, 2"
    )
}

/// A table as the search path resolves it (quoted, as the finder's SQL
/// names it).
const QUALIFIED: &str = "SELECT n.nspname, c.relname FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(quote_ident($1))";

/// How long opening the listener's connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `"schema"."table"` from `schema.table` as the catalog queries give it
/// (a schema name has no dot in what they return: split at the first).
fn quoted(qualified: &str) -> String {
    let (schema, table) = qualified.split_once('.').unwrap_or(("public", qualified));
    format!("{}.{}", ident(schema), ident(table))
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn create_trigger(table: &str) -> String {
    format!(
        "CREATE TRIGGER \"{TRIGGER_NAME}\" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} \
         FOR EACH STATEMENT EXECUTE FUNCTION \"{FUNCTION_NAME}\"()",
        quoted(table)
    )
}

fn drop_trigger(table: &str) -> String {
    format!(
        "DROP TRIGGER IF EXISTS \"{TRIGGER_NAME}\" ON {}",
        quoted(table)
    )
}

fn drop_function() -> String {
    format!("DROP FUNCTION IF EXISTS \"{FUNCTION_NAME}\"()")
}

/// The change triggers of a PostgreSQL database.
#[derive(Debug)]
pub(super) struct PostgresChangeTriggers {
    pool: PgPool,
}

impl PostgresChangeTriggers {
    pub(super) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The statements that make the triggers those of `tables`, given
    /// those `installed`: what was added, kept and removed.
    fn plan(tables: &[String], installed: &[String]) -> (Vec<String>, TriggerChanges) {
        plan_triggers(
            tables,
            installed,
            create_function(),
            |table| vec![create_trigger(table)],
            |table| vec![drop_trigger(table)],
        )
    }
}

#[async_trait]
impl ChangeTriggers for PostgresChangeTriggers {
    async fn installed(&self) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(installed_query()))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(schema, table)| format!("{schema}.{table}"))
            .collect())
    }

    async fn qualified(&self, table: &str) -> Result<Option<String>> {
        let row: Option<(String, String)> = sqlx::query_as(QUALIFIED)
            .bind(table)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(schema, table)| format!("{schema}.{table}")))
    }

    async fn install_statements(&self, tables: &[String]) -> Result<Vec<String>> {
        let installed = self.installed().await?;
        Ok(still_to_run(Self::plan(tables, &installed), &installed))
    }

    async fn install(&self, tables: &[String]) -> Result<TriggerChanges> {
        let mut tx = self.pool.begin().await?;
        // Two installs at once would both create a trigger: one waits.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('etlify_change_triggers'))")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(installed_query()))
            .fetch_all(&mut *tx)
            .await?;
        let installed: Vec<String> = rows
            .into_iter()
            .map(|(schema, table)| format!("{schema}.{table}"))
            .collect();
        let (statements, changes) = Self::plan(tables, &installed);
        for statement in statements {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changes)
    }

    async fn remove(&self) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(installed_query()))
            .fetch_all(&mut *tx)
            .await?;
        let removed: Vec<String> = rows
            .into_iter()
            .map(|(schema, table)| format!("{schema}.{table}"))
            .collect();
        for table in &removed {
            sqlx::raw_sql(AssertSqlSafe(drop_trigger(table)))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql(AssertSqlSafe(drop_function()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn listen(&self, name: &str, _reads: CounterReads) -> Result<Box<dyn ChangeListener>> {
        // Its own connection, not one of the pool's: it is held for as
        // long as the worker runs.
        let options = (*self.pool.connect_options())
            .clone()
            .application_name(name);
        let own = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        let mut listener = PgListener::connect_with(&own).await?;
        // A lost connection is the caller's to handle (it may have missed
        // notifications): no silent reconnection.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(Box::new(PostgresChangeListener { listener }))
    }
}

/// A connection listening on `etlify_changes`.
struct PostgresChangeListener {
    listener: PgListener,
}

#[async_trait]
impl ChangeListener for PostgresChangeListener {
    async fn next(&mut self) -> Result<String> {
        match self.listener.try_recv().await? {
            Some(notification) => Ok(notification.payload().to_owned()),
            None => Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the listener's connection was lost",
            ))
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_adds_missing_triggers_and_removes_undeclared_ones() {
        let tables = vec!["app.users".to_owned(), "app.companies".to_owned()];
        let installed = vec!["app.users".to_owned(), "app.old".to_owned()];
        let (statements, changes) = PostgresChangeTriggers::plan(&tables, &installed);
        assert_eq!(changes.added, vec!["app.companies"]);
        assert_eq!(changes.kept, vec!["app.users"]);
        assert_eq!(changes.removed, vec!["app.old"]);
        assert_eq!(
            statements[1],
            "CREATE TRIGGER \"etlify_changes\" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON \"app\".\"companies\" FOR EACH STATEMENT EXECUTE FUNCTION \"etlify_notify_change\"()"
        );
        assert_eq!(
            statements[2],
            "DROP TRIGGER IF EXISTS \"etlify_changes\" ON \"app\".\"old\""
        );
    }

    #[test]
    fn quoted_names_double_their_quotes() {
        assert_eq!(quoted("s.we\"ird"), "\"s\".\"we\"\"ird\"");
    }
}
