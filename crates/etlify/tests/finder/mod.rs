//! The stale finder, one scenario per case of the gem's finder (`fN`; and G-17, G-19,
//! G-20, G-22, X-7, X-9). Every scenario checks that both finder plans
//! return exactly the same ids.

use std::sync::Arc;

use etlify::adapters::NullAdapter;
use etlify::{
    Binding, Crm, Dependency, Etlify, FinderPlan, Hop, Model, SqlPayload, TimestampColumn,
};

use crate::support::{engine, engine_on, TestDb};

const T0: &str = "2024-01-01 10:00:00";
const T1: &str = "2024-01-01 11:00:00";
const T2: &str = "2024-01-01 12:00:00";

/// Tables of the original finder spec: profiles (has_one), notes
/// (has_many), projects through memberships, polymorphic uploads and
/// activities, follows (self-join), tags through a join table, and
/// subscriptions through profiles.
pub async fn create_world(db: &TestDb) {
    let (pk, ts) = if db.is_postgres() {
        ("bigserial PRIMARY KEY", "timestamp(6) without time zone")
    } else {
        ("integer PRIMARY KEY AUTOINCREMENT NOT NULL", "datetime(6)")
    };
    for ddl in [
        format!("CREATE TABLE companies (id {pk}, name varchar, domain varchar, hubspot_id varchar, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE users (id {pk}, email varchar, full_name varchar, company_id bigint, type varchar, active boolean DEFAULT true, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE profiles (id {pk}, user_id bigint, bio varchar, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE notes (id {pk}, user_id bigint, body varchar, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE projects (id {pk}, name varchar, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE memberships (id {pk}, user_id bigint, project_id bigint, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE uploads (id {pk}, uploadable_type varchar, uploadable_id bigint, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE activities (id {pk}, subject_type varchar, subject_id bigint, created_at {ts}, updated_at {ts})"),
        format!("CREATE TABLE follows (id {pk}, follower_id bigint, followed_id bigint, created_at {ts})"),
        format!("CREATE TABLE tags (id {pk}, name varchar, created_at {ts}, updated_at {ts})"),
        "CREATE TABLE tags_users (user_id bigint, tag_id bigint)".to_owned(),
        format!("CREATE TABLE subscriptions (id {pk}, profile_id bigint, plan varchar, created_at {ts}, updated_at {ts})"),
    ] {
        db.exec(&ddl).await;
    }
    db.migrate().await;
}

/// Inserts a row with explicit id and timestamps (`None` = NULL).
pub async fn row(
    db: &TestDb,
    table: &str,
    id: i64,
    columns: &[(&str, &str)],
    updated_at: Option<&str>,
) {
    let mut names = vec!["id".to_owned()];
    let mut values = vec![id.to_string()];
    for (name, value) in columns {
        names.push((*name).to_owned());
        values.push(format!("'{value}'"));
    }
    if table != "tags_users" {
        names.push("created_at".into());
        values.push(format!("'{T0}'"));
        if table != "follows" {
            names.push("updated_at".into());
            values.push(updated_at.map_or("NULL".to_owned(), |t| format!("'{t}'")));
        }
    }
    if table == "tags_users" {
        names.remove(0);
        values.remove(0);
    }
    db.exec(&format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    ))
    .await;
}

/// A sync row synced at `at`.
pub async fn synced(
    db: &TestDb,
    crm: &str,
    resource_type: &str,
    id: i64,
    at: &str,
    error_count: i64,
) {
    db.exec(&format!(
        "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, last_synced_at, error_count, created_at, updated_at) \
         VALUES ('{crm}', '{resource_type}', {id}, '{at}', {error_count}, '{T0}', '{T0}')"
    ))
    .await;
}

fn binding(dependencies: Vec<Dependency>) -> Binding {
    let mut binding =
        Binding::new("contacts", "email").payload(SqlPayload::new("SELECT id, email FROM users"));
    for dependency in dependencies {
        binding = binding.dependency(dependency);
    }
    binding
}

async fn engine_with(db: &TestDb, models: Vec<Model>) -> Etlify {
    engine(
        db,
        vec![
            Crm::new("hubspot", Arc::new(NullAdapter::new())),
            Crm::new("airtable", Arc::new(NullAdapter::new())).max_sync_errors(5),
        ],
        models,
    )
    .await
}

async fn users_with(db: &TestDb, dependencies: Vec<Dependency>) -> Etlify {
    engine_with(
        db,
        vec![Model::new("User", "users").bind("hubspot", binding(dependencies))],
    )
    .await
}

/// Stale ids by both plans; asserts they agree; returns them ascending.
pub async fn stale(etlify: &Etlify, crm: &str, resource_type: &str) -> Vec<i64> {
    let reference: Vec<i64> = etlify
        .stale_ids(crm, resource_type)
        .unwrap()
        .plan(FinderPlan::Reference)
        .page_size(2)
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.as_int().unwrap())
        .collect();
    let fast: Vec<i64> = etlify
        .stale_ids(crm, resource_type)
        .unwrap()
        .plan(FinderPlan::ChangedSince)
        .page_size(2)
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.as_int().unwrap())
        .collect();
    assert!(
        reference.windows(2).all(|w| w[0] < w[1]),
        "reference ids ascending: {reference:?}"
    );
    // Same ids in the same order: pages are ascending whatever the plan.
    assert_eq!(
        fast, reference,
        "ChangedSince plan disagrees with the reference"
    );
    reference
}

// The database tests, compiled once per backend: `finder::sqlite::…` and
// `finder::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;

/// A SQLite world of 2,000 users in 100 companies, every user synced at
/// `T1`, with an index on `users.company_id` and `companies.updated_at`;
/// the first `changed` companies then change at `T2` and their users are
/// synced again at `T3`: candidates of a complete run, none stale.
async fn companies_changed_since_the_oldest_sync(changed: u32) -> TestDb {
    const T3: &str = "2024-01-01 13:00:00";
    let db = TestDb::sqlite().await;
    create_world(&db).await;
    db.exec("CREATE INDEX idx_users_company ON users (company_id)")
        .await;
    db.exec("CREATE INDEX idx_companies_updated ON companies (updated_at)")
        .await;
    db.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
         INSERT INTO companies (id, name, created_at, updated_at) SELECT i, 'c' || i, '{T0}', '{T0}' FROM n"
    ))
    .await;
    db.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         INSERT INTO users (id, email, company_id, created_at, updated_at) \
         SELECT i, 'u' || i || '@example.com', i % 100 + 1, '{T0}', '{T0}' FROM n"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, last_synced_at, error_count, created_at, updated_at) \
         SELECT 'hubspot', 'User', id, '{T1}', 0, '{T0}', '{T0}' FROM users"
    ))
    .await;
    db.exec(&format!(
        "UPDATE companies SET updated_at = '{T2}' WHERE id <= {changed}"
    ))
    .await;
    db.exec(&format!(
        "UPDATE crm_synchronisations SET last_synced_at = '{T3}' \
         WHERE resource_id IN (SELECT id FROM users WHERE company_id <= {changed})"
    ))
    .await;
    db
}

/// An engine on a store of one connection of `db`, and the counter of
/// the virtual-machine steps that connection runs, in hundreds (a
/// progress handler): the work of what the engine does, the same on a
/// busy machine.
async fn engine_counting_steps(db: &TestDb) -> (Etlify, Arc<std::sync::atomic::AtomicU64>) {
    let store = db.another_store(1).await;
    let steps = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let pool = store.sqlite_pool().expect("a SQLite store");
        let mut connection = pool.acquire().await.expect("the store's connection");
        let mut handle = connection.lock_handle().await.expect("its handle");
        let counted = Arc::clone(&steps);
        handle.set_progress_handler(100, move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            true
        });
    }
    let etlify = engine_on(
        store,
        vec![Crm::new("hubspot", Arc::new(NullAdapter::new()))],
        vec![user_with_company()],
    )
    .await;
    (etlify, steps)
}

/// The steps a complete run of `plan` takes in pages of `page_size`; it
/// finds no stale user.
async fn complete_run_steps(
    etlify: &Etlify,
    steps: &std::sync::atomic::AtomicU64,
    plan: FinderPlan,
    page_size: usize,
) -> u64 {
    steps.store(0, std::sync::atomic::Ordering::Relaxed);
    let stale = etlify
        .stale_ids("hubspot", "User")
        .expect("a bound model")
        .plan(plan)
        .page_size(page_size)
        .collect_all()
        .await
        .expect("the finder runs");
    assert!(stale.is_empty(), "no candidate is stale: {stale:?}");
    steps.load(std::sync::atomic::Ordering::Relaxed)
}

/// A complete run's work does not depend on how many pages it hands its
/// candidates out in: it reads them once. Read a page per call, every
/// call worked out the whole candidate union again, and a run cost the
/// square of what changed (docs/BENCHMARKS.md, "The complete check reads
/// its candidates once").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_a_complete_run_reads_its_candidates_once_whatever_the_page_size() {
    // A quarter of the companies changed: 500 candidates.
    let db = companies_changed_since_the_oldest_sync(25).await;
    let (etlify, steps) = engine_counting_steps(&db).await;
    let plan = FinderPlan::ChangedSince;
    let small_pages = complete_run_steps(&etlify, &steps, plan, 5).await;
    let large_pages = complete_run_steps(&etlify, &steps, plan, 50).await;
    assert!(large_pages > 0, "the progress handler counted nothing");
    assert!(
        (small_pages as f64) < 1.5 * large_pages as f64,
        "pages of 5 cost {small_pages} hundred steps, pages of 50 {large_pages}"
    );
}

/// When most of the table changed since the oldest sync, a complete run
/// reads the table by the definition (the reference plan) instead of
/// looking at each candidate in turn, which cost 2.3 times the reference
/// plan here (2.4 times at 1M users, docs/BENCHMARKS.md). What it costs
/// beyond the reference plan is what decides it: the watermark, which
/// reads every sync row, and up to half as many candidates (1.43 times
/// the reference plan here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_a_complete_run_with_most_records_changed_costs_no_more_than_the_reference_plan() {
    // Nine companies in ten changed: 1,800 candidates of 2,000 users.
    let db = companies_changed_since_the_oldest_sync(90).await;
    let (etlify, steps) = engine_counting_steps(&db).await;
    let default_plan = complete_run_steps(&etlify, &steps, FinderPlan::ChangedSince, 100).await;
    let reference = complete_run_steps(&etlify, &steps, FinderPlan::Reference, 100).await;
    assert!(reference > 0, "the progress handler counted nothing");
    assert!(
        (default_plan as f64) < 1.5 * reference as f64,
        "the default plan cost {default_plan} hundred steps, the reference plan {reference}"
    );
}

fn user_with_company() -> Model {
    Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .dependency(Dependency::belongs_to("companies", "company_id")),
    )
}
