//! Ten users, three of them at one company, then records put in every
//! standing `status` and the records gauges count: the scenario the
//! `status` and `metrics` tests compare their counts on.

use super::TestDb;

/// Ten users, the first three at `acme`.
pub struct TenUsers {
    pub acme: i64,
    pub users: Vec<i64>,
}

impl TenUsers {
    /// The company `acme` and ten users emailed `{prefix}{i}@x.io`.
    pub async fn insert(db: &TestDb, prefix: &str) -> Self {
        let acme = db.insert_company("acme").await;
        let mut users = Vec::new();
        for i in 0..10 {
            let company = (i < 3).then_some(acme);
            users.push(db.insert_user(&format!("{prefix}{i}@x.io"), company).await);
        }
        Self { acme, users }
    }

    /// Once all ten are synced to `hubspot`, puts them in every standing,
    /// changes stamped `changed_at`: the company changes (its 3 users are
    /// stale by their dependency) and one more user is touched itself;
    /// one user's last sync failed (under a budget of 3), another's
    /// errors reached it, another waits for a sync dependency; two new
    /// users, never synced; one user deleted (its sync row is not
    /// counted). In sync, stale, never synced, failing, over budget,
    /// waiting: 2, 4, 2, 1, 1, 1 of 11 records.
    pub async fn spread_over_every_standing(&self, db: &TestDb, changed_at: &str) {
        let Self { acme, users } = self;
        db.exec(&format!(
            "UPDATE companies SET updated_at = '{changed_at}' WHERE id = {acme}"
        ))
        .await;
        db.exec(&format!(
            "UPDATE users SET updated_at = '{changed_at}' WHERE id = {}",
            users[5]
        ))
        .await;
        for (user, errors) in [(users[6], 1), (users[7], 3)] {
            db.exec(&format!(
                "UPDATE crm_synchronisations SET error_count = {errors}, last_error = 'boom' \
                 WHERE resource_id = {user}"
            ))
            .await;
        }
        let now = db.now_sql();
        db.exec(&format!(
            "INSERT INTO etlify_pending_syncs (dependent_type, dependent_id, dependency_type, \
             dependency_id, crm_name, created_at, updated_at) \
             VALUES ('User', {}, 'Company', {acme}, 'hubspot', {now}, {now})",
            users[8]
        ))
        .await;
        for email in ["new1@x.io", "new2@x.io"] {
            let id = db.insert_user(email, None).await;
            db.exec(&format!(
                "UPDATE users SET updated_at = '{changed_at}' WHERE id = {id}"
            ))
            .await;
        }
        db.exec(&format!("DELETE FROM users WHERE id = {}", users[9]))
            .await;
    }
}
