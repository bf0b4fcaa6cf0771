//! MySQL's incident statements: MariaDB has no `UPDATE … RETURNING`, and
//! its upsert's `RETURNING` answers for a row the condition left alone.
//! Each call is one transaction whose writes are conditional (InnoDB
//! re-reads the row under its lock before changing it) and says by its
//! count of rows changed whether it opened (or resolved) the incident;
//! only then is the opening time read back, under the row's lock. The
//! transaction reads committed rows (no gap locks), and opening updates
//! before it inserts: each process holds at most one lock at a time, so
//! two processes opening the same incident wait on each other rather than
//! deadlock.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Connection};

use super::{MysqlBackend, NOW};
use crate::error::Result;
use crate::store::backend::{IncidentIdentity, IncidentWrites};
use crate::store::Timestamp;

/// The next transaction reads committed rows and locks no gaps.
const READ_COMMITTED: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";

const KEY: &str = r#""kind" = ? AND "crm_name" = ? AND "subject" = ?"#;

/// When the incident was opened, read under the lock this transaction
/// holds on its row.
async fn opened_at(
    transaction: &mut sqlx::MySqlConnection,
    incident: IncidentIdentity<'_>,
) -> Result<Timestamp> {
    let sql = format!(r#"SELECT "opened_at" FROM "etlify_alert_incidents" WHERE {KEY}"#);
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(incident.kind)
        .bind(incident.crm)
        .bind(incident.subject)
        .fetch_one(transaction)
        .await?)
}

#[async_trait]
impl IncidentWrites for MysqlBackend {
    async fn open_incident(
        &self,
        incident: IncidentIdentity<'_>,
        summary: &str,
    ) -> Result<Option<Timestamp>> {
        let mut connection = self.pool.acquire().await?;
        sqlx::query(READ_COMMITTED)
            .execute(&mut *connection)
            .await?;
        let mut transaction = connection.begin().await?;
        // A resolved incident opened again: one process finds it resolved.
        let reopen = format!(
            r#"UPDATE "etlify_alert_incidents" SET "opened_at" = {NOW}, "summary" = ?, "resolved_at" = NULL, "notified_at" = NULL WHERE {KEY} AND "resolved_at" IS NOT NULL"#
        );
        let reopened = sqlx::query(AssertSqlSafe(reopen))
            .bind(summary)
            .bind(incident.kind)
            .bind(incident.crm)
            .bind(incident.subject)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        // A new incident: the unique key lets one process insert it.
        let inserted = if reopened == 0 {
            let insert = format!(
                r#"INSERT IGNORE INTO "etlify_alert_incidents" ("kind", "crm_name", "subject", "opened_at", "summary") VALUES (?, ?, ?, {NOW}, ?)"#
            );
            sqlx::query(AssertSqlSafe(insert))
                .bind(incident.kind)
                .bind(incident.crm)
                .bind(incident.subject)
                .bind(summary)
                .execute(&mut *transaction)
                .await?
                .rows_affected()
        } else {
            0
        };
        if inserted + reopened == 0 {
            transaction.rollback().await?;
            return Ok(None);
        }
        let at = opened_at(&mut transaction, incident).await?;
        transaction.commit().await?;
        Ok(Some(at))
    }

    async fn resolve_incident(&self, incident: IncidentIdentity<'_>) -> Result<Option<Timestamp>> {
        let mut transaction = self.pool.begin().await?;
        let resolve = format!(
            r#"UPDATE "etlify_alert_incidents" SET "resolved_at" = {NOW} WHERE {KEY} AND "resolved_at" IS NULL"#
        );
        let resolved = sqlx::query(AssertSqlSafe(resolve))
            .bind(incident.kind)
            .bind(incident.crm)
            .bind(incident.subject)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        if resolved == 0 {
            transaction.rollback().await?;
            return Ok(None);
        }
        let at = opened_at(&mut transaction, incident).await?;
        transaction.commit().await?;
        Ok(Some(at))
    }
}
