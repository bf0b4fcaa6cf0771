//! Test support: a fresh database per test (SQLite file, PostgreSQL
//! schema or MySQL database), the application tables the tests sync, and a recording adapter.

#![allow(dead_code)]

pub mod adapter;
pub mod drop_database;
pub mod drop_schema;
pub mod logs;
pub mod mysql_words;
pub mod sandbox;
pub mod standings;
pub mod worker;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use etlify::{MigrateOptions, Store};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, MySqlPool, PgPool, SqlitePool};

use self::drop_database::DropDatabase;
use self::drop_schema::DropSchema;

/// The database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    /// The backend a copy of a module's database tests is compiled for,
    /// from the copy's module path: `…::sqlite`, `…::postgres` or
    /// `…::mysql`. Each
    /// `on_each_backend.rs` is compiled once under each name; any other
    /// name fails the build.
    pub const fn of_module(path: &str) -> Self {
        if ends_with(path, "::sqlite") {
            Backend::Sqlite
        } else if ends_with(path, "::postgres") {
            Backend::Postgres
        } else if ends_with(path, "::mysql") {
            Backend::Mysql
        } else {
            panic!("database tests are compiled as a module named `sqlite`, `postgres` or `mysql`")
        }
    }
}

/// `str::ends_with`, usable in a constant.
const fn ends_with(text: &str, suffix: &str) -> bool {
    let (text, suffix) = (text.as_bytes(), suffix.as_bytes());
    if text.len() < suffix.len() {
        return false;
    }
    let start = text.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if text[start + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[derive(Clone)]
pub enum TestPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    Mysql(MySqlPool),
}

/// A fresh, empty database for one test.
pub struct TestDb {
    pub store: Store,
    pub pool: TestPool,
    /// How to open another pool on the same database.
    reopen: Reopen,
    /// The PostgreSQL schema of this test, dropped with it.
    schema: Option<DropSchema>,
    /// The MySQL database of this test, dropped with it.
    database: Option<DropDatabase>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Clone)]
enum Reopen {
    Sqlite(std::path::PathBuf),
    Postgres(Box<PgConnectOptions>),
    Mysql(Box<MySqlConnectOptions>),
}

static SCHEMA_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    /// A fresh database on `backend`.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
            Backend::Mysql => Self::mysql().await,
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.sqlite3");
        Self::sqlite_at(&path, Some(dir)).await
    }

    /// Opens an existing SQLite file (e.g. a copy of a fixture).
    pub async fn sqlite_at(path: &std::path::Path, dir: Option<tempfile::TempDir>) -> Self {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .expect("sqlite url")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("open sqlite");
        Self {
            store: Store::from_sqlite_pool(pool.clone()),
            pool: TestPool::Sqlite(pool),
            reopen: Reopen::Sqlite(path.to_owned()),
            schema: None,
            database: None,
            _dir: dir,
        }
    }

    /// A new schema on the server named by `ETLIFY_TEST_POSTGRES_URL`
    /// (`scripts/test.sh` starts one). Fails, never skips, without it.
    pub async fn postgres() -> Self {
        let url = std::env::var("ETLIFY_TEST_POSTGRES_URL").expect(
            "ETLIFY_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, \
             which starts a throwaway PostgreSQL",
        );
        let schema = format!(
            "etlify_test_{}_{}",
            std::process::id(),
            SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = PgConnectOptions::from_str(&url).expect("postgres url");
        let mut conn = sqlx::PgConnection::connect_with(&admin)
            .await
            .expect("connect to ETLIFY_TEST_POSTGRES_URL");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        conn.close().await.ok();
        let options = admin
            .clone()
            .options([("search_path", schema.as_str()), ("TimeZone", "UTC")]);
        let pool = PgPoolOptions::new()
            .max_connections(6)
            .connect_with(options.clone())
            .await
            .expect("connect pool");
        Self {
            store: Store::from_postgres_pool(pool.clone()),
            pool: TestPool::Postgres(pool),
            reopen: Reopen::Postgres(Box::new(options)),
            schema: Some(DropSchema {
                admin,
                name: schema,
            }),
            database: None,
            _dir: None,
        }
    }

    /// A new database on the server named by `ETLIFY_TEST_MYSQL_URL`
    /// (`scripts/test.sh` starts a MariaDB). Fails, never skips, without it.
    pub async fn mysql() -> Self {
        let url = std::env::var("ETLIFY_TEST_MYSQL_URL").expect(
            "ETLIFY_TEST_MYSQL_URL is not set: run the tests with scripts/test.sh, \
             which starts a throwaway MariaDB",
        );
        let name = format!(
            "etlify_test_{}_{}",
            std::process::id(),
            SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = MySqlConnectOptions::from_str(&url).expect("mysql url");
        let mut conn = sqlx::MySqlConnection::connect_with(&admin)
            .await
            .expect("connect to ETLIFY_TEST_MYSQL_URL");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )))
        .execute(&mut conn)
        .await
        .expect("create database");
        conn.close().await.ok();
        let options = admin
            .clone()
            .database(&name)
            .timezone(Some("+00:00".to_owned()));
        let pool = mysql_pool(&options, 6).await;
        Self {
            store: Store::from_mysql_pool(pool.clone()),
            pool: TestPool::Mysql(pool),
            reopen: Reopen::Mysql(Box::new(options)),
            schema: None,
            database: Some(DropDatabase { admin, name }),
            _dir: None,
        }
    }

    /// Another store on the same database, with its own pool of
    /// `connections` (as a second engine or process would have).
    pub async fn another_store(&self, connections: u32) -> Store {
        match &self.reopen {
            Reopen::Sqlite(path) => {
                let options =
                    SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                        .expect("sqlite url")
                        .journal_mode(SqliteJournalMode::Wal)
                        .busy_timeout(std::time::Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(connections)
                    .connect_with(options)
                    .await
                    .expect("open sqlite");
                Store::from_sqlite_pool(pool)
            }
            Reopen::Postgres(options) => {
                let pool = PgPoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(std::time::Duration::from_secs(10))
                    .connect_with((**options).clone())
                    .await
                    .expect("connect pool");
                Store::from_postgres_pool(pool)
            }
            Reopen::Mysql(options) => {
                Store::from_mysql_pool(mysql_pool(options, connections).await)
            }
        }
    }

    /// The built-in job queue on this database, under a queue name of its
    /// own (on PostgreSQL every test shares apalis's schema, so each test
    /// has its own queue).
    ///
    /// On PostgreSQL apalis's tables use the `hstore` type, found through
    /// the search path: the queue's connections see `public`, where the
    /// extensions are created once for every test.
    pub async fn job_queue(&self, options: etlify::jobs::QueueOptions) -> etlify::jobs::JobQueue {
        static QUEUES: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "test-{}-{}",
            std::process::id(),
            QUEUES.fetch_add(1, Ordering::Relaxed)
        );
        self.open_job_queue(options.name(name)).await
    }

    /// A second handle of `queue`, with a pool of its own, as another
    /// process of the application opens it.
    pub async fn another_handle_of(
        &self,
        queue: &etlify::jobs::JobQueue,
    ) -> etlify::jobs::JobQueue {
        self.open_job_queue(queue.options().clone()).await
    }

    async fn open_job_queue(&self, options: etlify::jobs::QueueOptions) -> etlify::jobs::JobQueue {
        let store = match (&self.reopen, &self.schema) {
            (Reopen::Postgres(_), Some(schema)) => {
                static EXTENSIONS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
                let url = std::env::var("ETLIFY_TEST_POSTGRES_URL").expect("postgres url");
                let admin = PgConnectOptions::from_str(&url).expect("postgres url");
                EXTENSIONS
                    .get_or_init(|| async {
                        let mut conn = sqlx::PgConnection::connect_with(&admin)
                            .await
                            .expect("connect");
                        sqlx::raw_sql(
                            "SELECT pg_advisory_lock(4242); \
                             CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public; \
                             CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public; \
                             SELECT pg_advisory_unlock(4242);",
                        )
                        .execute(&mut conn)
                        .await
                        .expect("create the extensions apalis needs");
                        conn.close().await.ok();
                    })
                    .await;
                let search_path = format!("{}, public", schema.name);
                let options =
                    admin.options([("search_path", search_path.as_str()), ("TimeZone", "UTC")]);
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .connect_with(options)
                    .await
                    .expect("connect pool");
                Store::from_postgres_pool(pool)
            }
            _ => self.store.clone(),
        };
        etlify::jobs::JobQueue::open(&store, options)
            .await
            .expect("open the job queue")
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, TestPool::Postgres(_))
    }

    pub fn is_mysql(&self) -> bool {
        matches!(self.pool, TestPool::Mysql(_))
    }

    /// Runs raw SQL (test setup only).
    pub async fn exec(&self, sql: &str) {
        let result = match &self.pool {
            TestPool::Sqlite(pool) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(|_| ()),
            TestPool::Postgres(pool) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(|_| ()),
            TestPool::Mysql(pool) => sqlx::raw_sql(AssertSqlSafe(mysql_words::in_mysql_words(sql)))
                .execute(pool)
                .await
                .map(|_| ()),
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs raw SQL and returns the error, if any.
    pub async fn try_exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        match &self.pool {
            TestPool::Sqlite(pool) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(|_| ()),
            TestPool::Postgres(pool) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(|_| ()),
            TestPool::Mysql(pool) => sqlx::raw_sql(AssertSqlSafe(mysql_words::in_mysql_words(sql)))
                .execute(pool)
                .await
                .map(|_| ()),
        }
    }

    /// First column of the first row, as i64 (int4 or int8).
    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        use sqlx::Row;
        fn fail<T>(sql: &str) -> impl FnOnce(sqlx::Error) -> T + '_ {
            move |e| panic!("{sql}: {e}")
        }
        match &self.pool {
            TestPool::Sqlite(pool) => {
                let row = sqlx::query(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
                    .unwrap_or_else(fail(sql));
                row.try_get::<i64, _>(0).unwrap_or_else(fail(sql))
            }
            TestPool::Postgres(pool) => {
                let row = sqlx::query(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
                    .unwrap_or_else(fail(sql));
                row.try_get::<i64, _>(0)
                    .or_else(|_| row.try_get::<i32, _>(0).map(i64::from))
                    .unwrap_or_else(fail(sql))
            }
            TestPool::Mysql(pool) => {
                let row = sqlx::query(AssertSqlSafe(mysql_words::in_mysql_words(sql)))
                    .fetch_one(pool)
                    .await
                    .unwrap_or_else(fail(sql));
                row.try_get::<i64, _>(0)
                    .or_else(|_| row.try_get::<i32, _>(0).map(i64::from))
                    .or_else(|_| row.try_get::<u64, _>(0).map(|n| n as i64))
                    .or_else(|_| row.try_get::<bool, _>(0).map(i64::from))
                    .unwrap_or_else(fail(sql))
            }
        }
    }

    /// First column of the first row, as optional text.
    pub async fn scalar_text(&self, sql: &str) -> Option<String> {
        match &self.pool {
            TestPool::Sqlite(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
            }
            TestPool::Postgres(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
            }
            TestPool::Mysql(pool) => {
                sqlx::query_scalar(AssertSqlSafe(mysql_words::in_mysql_words(sql)))
                    .fetch_one(pool)
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The application's short text type: MySQL needs a length (Rails'
    /// 255).
    pub fn varchar(&self) -> &'static str {
        if self.is_mysql() {
            "varchar(255)"
        } else {
            "varchar"
        }
    }

    /// SQL for "now" in the application's timestamp format.
    pub fn now_sql(&self) -> &'static str {
        if self.is_postgres() {
            "(clock_timestamp() AT TIME ZONE 'UTC')"
        } else if self.is_mysql() {
            "UTC_TIMESTAMP(6)"
        } else {
            "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
        }
    }

    /// Creates the sync-state tables.
    pub async fn migrate(&self) {
        etlify::migrate(&self.store, &MigrateOptions::default())
            .await
            .expect("migrate");
    }

    /// Creates `companies` and `users` (with an STI `type` column and an
    /// `active` flag) in the Rails shape, plus the sync-state tables.
    pub async fn with_app_schema(self) -> Self {
        let (pk, ts) = if self.is_postgres() {
            ("bigserial PRIMARY KEY", "timestamp(6) without time zone")
        } else if self.is_mysql() {
            ("bigint NOT NULL AUTO_INCREMENT PRIMARY KEY", "datetime(6)")
        } else {
            ("integer PRIMARY KEY AUTOINCREMENT NOT NULL", "datetime(6)")
        };
        let varchar = self.varchar();
        self.exec(&format!(
            "CREATE TABLE companies (id {pk}, name {varchar}, domain {varchar}, hubspot_id {varchar}, \
             created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
        ))
        .await;
        self.exec(&format!(
            "CREATE TABLE users (id {pk}, email {varchar}, full_name {varchar}, company_id bigint, \
             type {varchar}, active boolean NOT NULL DEFAULT true, \
             created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
        ))
        .await;
        self.migrate().await;
        self
    }

    /// SQL for the time a change the tests make is stamped with: the
    /// database's clock less the commit margin an engine keeps on it by
    /// default ([`Store::default_commit_margin`]: 1 ms, 200 ms on MySQL).
    /// A change made after a sync is then newer than the time that sync
    /// is recorded in sync as of (its read less the margin), and older
    /// than the next sync's. A change within the margin, checked again by
    /// the next run, is what the X-1 tests write themselves.
    pub fn stamp_sql(&self) -> String {
        self.stamp_sql_before(self.store.default_commit_margin())
    }

    /// SQL for the time the rows a test sets up before its first sync are
    /// stamped with: [`SETUP_AGE`] ago, as an application's rows written
    /// a while before are, so that the first sync leaves them in sync
    /// whatever the margin and whatever MySQL's list of transactions still
    /// shows of their writes.
    pub fn setup_stamp_sql(&self) -> String {
        self.stamp_sql_before(SETUP_AGE)
    }

    /// SQL for the database's clock less `age`, to the microsecond (as
    /// Rails writes it).
    fn stamp_sql_before(&self, age: std::time::Duration) -> String {
        let micros = age.as_micros();
        match self.pool {
            TestPool::Postgres(_) => format!(
                "((clock_timestamp() AT TIME ZONE 'UTC') - interval '{micros} microseconds')"
            ),
            TestPool::Mysql(_) => format!("(UTC_TIMESTAMP(6) - INTERVAL {micros} MICROSECOND)"),
            // The process's clock is SQLite's.
            TestPool::Sqlite(_) => {
                let age = chrono::Duration::from_std(age).expect("an age of seconds");
                format!(
                    "'{}'",
                    (chrono::Utc::now() - age).format(etlify::SQLITE_TIMESTAMP_FORMAT)
                )
            }
        }
    }

    /// Waits until the database's clock is past `stamp` by more than `by`,
    /// polling it: a change stamped `stamp` is then older than a read that
    /// starts now by that much.
    pub async fn clock_past(&self, stamp: chrono::NaiveDateTime, by: chrono::TimeDelta) {
        worker::eventually(
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis(2),
            "the database's clock passed the change",
            || async { self.store.now().await.expect("the database's clock") > stamp + by },
        )
        .await;
    }

    /// Inserts a company, stamped as set up before the first sync
    /// ([`TestDb::setup_stamp_sql`]), and returns its id.
    pub async fn insert_company(&self, name: &str) -> i64 {
        let now = self.setup_stamp_sql();
        self.scalar_i64(&format!(
            "INSERT INTO companies (name, domain, created_at, updated_at) \
             VALUES ('{name}', '{name}.example', {now}, {now}) RETURNING id"
        ))
        .await
    }

    /// Inserts a user, stamped as set up before the first sync
    /// ([`TestDb::setup_stamp_sql`]), and returns its id.
    pub async fn insert_user(&self, email: &str, company_id: Option<i64>) -> i64 {
        let now = self.setup_stamp_sql();
        let company = company_id.map_or("NULL".to_owned(), |id| id.to_string());
        self.scalar_i64(&format!(
            "INSERT INTO users (email, full_name, company_id, created_at, updated_at) \
             VALUES ('{email}', 'Name of {email}', {company}, {now}, {now}) RETURNING id"
        ))
        .await
    }

    /// Whether `users.id` is newer than its sync row for `crm` (the stale
    /// definition restricted to the owner's own timestamp).
    pub async fn user_is_stale(&self, crm: &str, id: i64) -> bool {
        self.scalar_i64(&format!(
            "SELECT CASE WHEN s.id IS NULL OR s.last_synced_at IS NULL \
                     OR s.last_synced_at < u.updated_at THEN 1 ELSE 0 END \
             FROM users u LEFT JOIN crm_synchronisations s ON s.resource_id = u.id \
               AND s.resource_type = 'User' AND s.crm_name = '{crm}' \
             WHERE u.id = {id}"
        ))
        .await
            == 1
    }

    /// Whether user `id`'s sync with `crm` is recorded as done: its sync
    /// row has a CRM id, a sync time and no error. (Whether the row then
    /// counts as in sync depends, on MySQL, on InnoDB's cached list of open
    /// transactions, which X-1 dates a sync before: see `user_is_stale`.)
    pub async fn user_recorded_synced(&self, crm: &str, id: i64) -> bool {
        self.scalar_i64(&format!(
            "SELECT COUNT(*) FROM crm_synchronisations WHERE crm_name = '{crm}' \
             AND resource_type = 'User' AND resource_id = {id} \
             AND crm_id IS NOT NULL AND last_synced_at IS NOT NULL AND last_error IS NULL"
        ))
        .await
            == 1
    }

    /// The count `count_sql` returns, once it reaches `at_least` or after
    /// 5 s (then less): rows written while a run goes on.
    pub async fn count_reaching(&self, count_sql: &str, at_least: i64) -> i64 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut count = self.scalar_i64(count_sql).await;
        while count < at_least && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            count = self.scalar_i64(count_sql).await;
        }
        count
    }

    /// The sync rows written, once there are `at_least` of them or after
    /// 5 s (then fewer).
    pub async fn sync_rows_reaching(&self, at_least: i64) -> i64 {
        self.count_reaching(SYNC_ROW_COUNT, at_least).await
    }

    /// Number of sync rows.
    pub async fn sync_row_count(&self) -> i64 {
        self.scalar_i64(SYNC_ROW_COUNT).await
    }
}

const SYNC_ROW_COUNT: &str = "SELECT COUNT(*) FROM crm_synchronisations";

/// How long before its first sync a test's setup wrote its rows: more than
/// any database's default commit margin (MySQL's 200 ms), plus what
/// MySQL's list of running transactions may still show of those writes
/// (`trx_started` in whole seconds, refreshed every 100 ms), by which a
/// sync is recorded as of before them.
const SETUP_AGE: std::time::Duration = std::time::Duration::from_secs(2);

/// The users payload of the tests: email, full name and company name.
pub const USER_PAYLOAD_SQL: &str =
    "SELECT users.id, users.email, users.full_name, companies.name AS company \
     FROM users LEFT JOIN companies ON companies.id = users.company_id";

/// `User` bound to each of `crms` as HubSpot-style contacts keyed by email.
pub fn user_model(crms: &[&str]) -> etlify::Model {
    let mut model = etlify::Model::new("User", "users");
    for crm in crms {
        model = model.bind(
            *crm,
            etlify::Binding::new("contacts", "email")
                .payload(etlify::SqlPayload::new(USER_PAYLOAD_SQL))
                .dependency(etlify::Dependency::belongs_to("companies", "company_id")),
        );
    }
    model
}

/// `User` on `hubspot` with a sync dependency on its company (G-18).
pub fn user_with_company_dependency() -> etlify::Model {
    etlify::Model::new("User", "users").bind(
        "hubspot",
        etlify::Binding::new("contacts", "email")
            .payload(etlify::SqlPayload::new("SELECT id, email FROM users"))
            .sync_dependency(etlify::SyncDependency::new("Company", "company_id")),
    )
}

/// `Company` bound to each of `crms`.
pub fn company_model(crms: &[&str]) -> etlify::Model {
    let mut model = etlify::Model::new("Company", "companies");
    for crm in crms {
        model = model.bind(
            *crm,
            etlify::Binding::new("companies", "domain").payload(etlify::SqlPayload::new(
                "SELECT id, name, domain FROM companies",
            )),
        );
    }
    model
}

/// The builder of a test engine on `store`, with `crms` and `models`: a
/// test adds what else it needs (a config, a queue, job handlers), then
/// builds.
pub fn builder(
    store: etlify::Store,
    crms: Vec<etlify::Crm>,
    models: Vec<etlify::Model>,
) -> etlify::EtlifyBuilder {
    let mut builder = etlify::Etlify::builder(store);
    for crm in crms {
        builder = builder.crm(crm);
    }
    for model in models {
        builder = builder.model(model);
    }
    builder
}

/// An engine on `store` (another pool on a test's database, as a second
/// engine or process has), with `crms` and `models`.
pub async fn engine_on(
    store: etlify::Store,
    crms: Vec<etlify::Crm>,
    models: Vec<etlify::Model>,
) -> etlify::Etlify {
    builder(store, crms, models)
        .build()
        .await
        .expect("engine builds")
}

/// An engine on `db`, with `crms` and `models`.
pub async fn engine(
    db: &TestDb,
    crms: Vec<etlify::Crm>,
    models: Vec<etlify::Model>,
) -> etlify::Etlify {
    engine_on(db.store.clone(), crms, models).await
}

impl TestDb {
    /// Sets `table.updated_at` of row `id` to the current time
    /// ([`TestDb::stamp_sql`]), at microsecond precision (as Rails does).
    pub async fn touch(&self, table: &str, id: i64) {
        let now = self.stamp_sql();
        self.exec(&format!(
            "UPDATE {table} SET updated_at = {now} WHERE id = {id}"
        ))
        .await;
    }

    /// Inserts a sync row directly (to set up error states).
    pub async fn insert_sync_row(
        &self,
        crm: &str,
        resource_type: &str,
        id: i64,
        error_count: i64,
        last_error: Option<&str>,
    ) {
        let now = self.now_sql();
        let error = last_error.map_or("NULL".to_owned(), |e| format!("'{e}'"));
        self.exec(&format!(
            "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, error_count, last_error, created_at, updated_at) \
             VALUES ('{crm}', '{resource_type}', {id}, {error_count}, {error}, {now}, {now})"
        ))
        .await;
    }
}

/// An engine with one CRM, `hubspot`, on `adapter`, and [`user_model`] bound to it.
pub async fn hubspot_users(
    db: &TestDb,
    adapter: std::sync::Arc<dyn etlify::adapters::Adapter>,
) -> etlify::Etlify {
    hubspot_users_on(db.store.clone(), adapter).await
}

/// [`hubspot_users`] on `store`.
pub async fn hubspot_users_on(
    store: etlify::Store,
    adapter: std::sync::Arc<dyn etlify::adapters::Adapter>,
) -> etlify::Etlify {
    engine_on(
        store,
        vec![etlify::Crm::new("hubspot", adapter)],
        vec![user_model(&["hubspot"])],
    )
    .await
}

/// The reason of a record error, or a panic naming the outcome instead.
pub fn record_error(outcome: &etlify::SyncOutcome) -> &etlify::RecordError {
    match outcome {
        etlify::SyncOutcome::Error(error) => error,
        other => panic!("expected a record error, got {other:?}"),
    }
}

/// The reason of a per-record sync that ended in a record error.
pub fn dispatch_error(dispatch: &etlify::SyncDispatch) -> &etlify::RecordError {
    match dispatch {
        etlify::SyncDispatch::Completed(outcome) => record_error(outcome),
        other => panic!("expected a completed sync, got {other:?}"),
    }
}

/// A database the Rails gem synced (`tests/fixtures/<name>.sqlite3`, on a
/// copy), migrated, and its `.expect.json`.
pub mod gem {
    use std::path::PathBuf;
    use std::sync::Arc;

    use etlify::adapters::NullAdapter;
    use etlify::{Binding, Crm, Dependency, Etlify, MigrateOptions, Model, SqlPayload};
    use serde_json::Value;

    use super::TestDb;

    fn fixture(file: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file)
    }

    /// The fixture's `<name>.expect.json`.
    pub fn expected(name: &str) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("{name}.expect.json"))).unwrap(),
        )
        .unwrap()
    }

    /// `<name>.sqlite3` made a gem-synced MySQL database by
    /// `scripts/gem-fixture-to-mysql.py` (the gem's MySQL column types and
    /// stored digests), on a fresh database, migrated, with the model the
    /// gem declared and `payload`, syncing to a Null adapter.
    pub async fn take_over_mysql(
        name: &str,
        payload: SqlPayload,
    ) -> (TestDb, Etlify, Arc<NullAdapter>) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let made = std::process::Command::new("python3")
            .arg(root.join("scripts/gem-fixture-to-mysql.py"))
            .arg(fixture(&format!("{name}.sqlite3")))
            .output()
            .expect("run scripts/gem-fixture-to-mysql.py");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let db = TestDb::mysql().await;
        let super::TestPool::Mysql(pool) = &db.pool else {
            unreachable!("a MySQL database")
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            String::from_utf8(made.stdout).expect("UTF-8 SQL"),
        ))
        .execute(pool)
        .await
        .expect("load the gem's MySQL database");
        etlify::migrate(&db.store, &MigrateOptions::default())
            .await
            .unwrap();
        let adapter = Arc::new(NullAdapter::new());
        let etlify = super::engine(
            &db,
            vec![Crm::new("hubspot", adapter.clone())],
            vec![gem_model(payload)],
        )
        .await;
        (db, etlify, adapter)
    }

    /// `User` as the gem declared it: HubSpot contacts by email, stale when
    /// its company changes.
    fn gem_model(payload: SqlPayload) -> Model {
        Model::new("User", "users").bind(
            "hubspot",
            Binding::new("contacts", "email")
                .payload(payload)
                .dependency(Dependency::belongs_to("companies", "company_id")),
        )
    }

    /// A copy of `<name>.sqlite3`, migrated, with the model the gem declared
    /// (`User` as HubSpot contacts by email, stale when its company changes)
    /// and `payload`, syncing to a Null adapter.
    pub async fn take_over(name: &str, payload: SqlPayload) -> (TestDb, Etlify, Arc<NullAdapter>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rails.sqlite3");
        let source = fixture(&format!("{name}.sqlite3"));
        std::fs::copy(&source, &path).unwrap_or_else(|error| {
            panic!(
                "copying {} to {}: {error}",
                source.display(),
                path.display()
            )
        });
        let db = TestDb::sqlite_at(&path, Some(dir)).await;
        etlify::migrate(&db.store, &MigrateOptions::default())
            .await
            .unwrap();
        let adapter = Arc::new(NullAdapter::new());
        let model = Model::new("User", "users").bind(
            "hubspot",
            Binding::new("contacts", "email")
                .payload(payload)
                .dependency(Dependency::belongs_to("companies", "company_id")),
        );
        let etlify =
            super::engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;
        (db, etlify, adapter)
    }
}

/// A pool on a test's MySQL database, its sessions set up as the engine's
/// own (`ANSI_QUOTES`, UTC), so that the tests' SQL reads the same on the
/// three databases.
pub async fn mysql_pool(options: &MySqlConnectOptions, connections: u32) -> MySqlPool {
    use sqlx::Executor;
    MySqlPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
                    .await?;
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
        .expect("connect pool")
}
