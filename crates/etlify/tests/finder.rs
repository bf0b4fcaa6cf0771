//! The stale finder, one scenario per case of the gem's finder (`fN`; and G-17, G-19,
//! G-20, G-22, X-7, X-9). Every scenario checks that both finder plans
//! return exactly the same ids.

use std::sync::Arc;

use etlify::adapters::NullAdapter;
use etlify::{
    Binding, Crm, Dependency, Etlify, FinderPlan, Hop, Model, SqlPayload, TimestampColumn,
};

use crate::support::TestDb;

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
    let mut builder = Etlify::builder(db.store.clone())
        .crm(Crm::new("hubspot", Arc::new(NullAdapter::new())))
        .crm(Crm::new("airtable", Arc::new(NullAdapter::new())).max_sync_errors(5));
    for model in models {
        builder = builder.model(model);
    }
    builder.build().await.expect("engine builds")
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
        .map(|id| id.get())
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
        .map(|id| id.get())
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

async fn finder_f9_records_without_a_row_or_synced_before_their_change_are_stale(db: TestDb) {
    create_world(&db).await;
    for (id, ts) in [(1, T1), (2, T1), (3, T1), (4, T1), (5, T1)] {
        row(
            &db,
            "users",
            id,
            &[("email", &format!("u{id}@x.io"))],
            Some(ts),
        )
        .await;
    }
    synced(&db, "hubspot", "User", 2, T0, 0).await; // synced before the change: stale
    synced(&db, "hubspot", "User", 3, T1, 0).await; // equal timestamps: fresh (strict <)
    synced(&db, "hubspot", "User", 4, T2, 0).await; // synced after: fresh
    db.exec(&format!(
        "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, created_at, updated_at) VALUES ('hubspot', 'User', 5, '{T0}', '{T0}')"
    ))
    .await; // NULL last_synced_at counts as the epoch: stale
    let etlify = users_with(&db, vec![]).await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1, 2, 5]);
}

async fn finder_f10_g16_error_budget_excludes_rows_at_the_limit(db: TestDb) {
    create_world(&db).await;
    for id in 1..=4 {
        row(&db, "users", id, &[("email", "x")], Some(T1)).await;
    }
    synced(&db, "hubspot", "User", 1, T0, 2).await;
    synced(&db, "hubspot", "User", 2, T0, 3).await;
    synced(&db, "airtable", "User", 3, T0, 4).await;
    synced(&db, "airtable", "User", 4, T0, 5).await;
    let model = Model::new("User", "users")
        .bind("hubspot", binding(vec![]))
        .bind("airtable", binding(vec![]));
    let etlify = engine_with(&db, vec![model]).await;
    // hubspot: global budget 3; airtable: its own budget 5.
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1, 3, 4]);
    assert_eq!(stale(&etlify, "airtable", "User").await, [1, 2, 3]);
    etlify
        .reset_error_count("hubspot", "User", 2)
        .await
        .unwrap();
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1, 2, 3, 4]);
}

async fn finder_f11_without_timestamps_only_missing_rows_are_stale(db: TestDb) {
    create_world(&db).await;
    db.exec("CREATE TABLE plain (id integer PRIMARY KEY, name varchar)")
        .await;
    db.exec("INSERT INTO plain (id, name) VALUES (1, 'a'), (2, 'b')")
        .await;
    synced(&db, "hubspot", "Plain", 1, T0, 0).await;
    let model = Model::new("Plain", "plain").bind(
        "hubspot",
        Binding::new("things", "name").payload(SqlPayload::new("SELECT id, name FROM plain")),
    );
    let etlify = engine_with(&db, vec![model]).await;
    assert_eq!(stale(&etlify, "hubspot", "Plain").await, [2]);
}

async fn finder_f15_null_timestamps_count_as_the_epoch(db: TestDb) {
    create_world(&db).await;
    row(&db, "companies", 1, &[("name", "a")], None).await;
    row(&db, "users", 1, &[("company_id", "1")], None).await;
    row(&db, "users", 2, &[("company_id", "1")], Some(T1)).await;
    synced(&db, "hubspot", "User", 1, T0, 0).await;
    synced(&db, "hubspot", "User", 2, T0, 0).await;
    let etlify = users_with(&db, vec![Dependency::belongs_to("companies", "company_id")]).await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [2]);
}

async fn finder_f16_belongs_to_change_makes_the_owner_stale(db: TestDb) {
    create_world(&db).await;
    row(&db, "companies", 1, &[("name", "changed")], Some(T2)).await;
    row(&db, "companies", 2, &[("name", "same")], Some(T0)).await;
    row(&db, "users", 1, &[("company_id", "1")], Some(T0)).await;
    row(&db, "users", 2, &[("company_id", "2")], Some(T0)).await;
    row(&db, "users", 3, &[("company_id", "99")], Some(T0)).await; // missing target: epoch
    for id in 1..=3 {
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    let etlify = users_with(&db, vec![Dependency::belongs_to("companies", "company_id")]).await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f16_belongs_to_with_a_custom_primary_key(db: TestDb) {
    create_world(&db).await;
    row(&db, "companies", 1, &[("domain", "acme.io")], Some(T2)).await;
    row(&db, "users", 1, &[("email", "acme.io")], Some(T0)).await;
    row(&db, "users", 2, &[("email", "other.io")], Some(T0)).await;
    synced(&db, "hubspot", "User", 1, T1, 0).await;
    synced(&db, "hubspot", "User", 2, T1, 0).await;
    let etlify = users_with(
        &db,
        vec![Dependency::belongs_to("companies", "email").references("domain")],
    )
    .await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f18_has_one_and_has_many_use_the_newest_child(db: TestDb) {
    create_world(&db).await;
    for id in 1..=4 {
        row(&db, "users", id, &[], Some(T0)).await;
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    row(&db, "profiles", 1, &[("user_id", "1")], Some(T2)).await; // has_one newer
    row(&db, "notes", 1, &[("user_id", "2")], Some(T0)).await;
    row(&db, "notes", 2, &[("user_id", "2")], Some(T2)).await; // newest note newer
    row(&db, "notes", 3, &[("user_id", "3")], Some(T0)).await; // older child only
    let etlify = users_with(
        &db,
        vec![
            Dependency::has_one("profiles", "user_id"),
            Dependency::has_many("notes", "user_id"),
        ],
    )
    .await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1, 2]);
}

async fn finder_f18_polymorphic_has_many_ignores_other_types(db: TestDb) {
    create_world(&db).await;
    for id in 1..=3 {
        row(&db, "users", id, &[], Some(T0)).await;
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    row(
        &db,
        "uploads",
        1,
        &[("uploadable_type", "User"), ("uploadable_id", "1")],
        Some(T2),
    )
    .await;
    row(
        &db,
        "uploads",
        2,
        &[("uploadable_type", "Company"), ("uploadable_id", "2")],
        Some(T2),
    )
    .await;
    row(
        &db,
        "uploads",
        3,
        &[("uploadable_type", "Not::A::Class"), ("uploadable_id", "3")],
        Some(T2),
    )
    .await;
    let etlify = users_with(
        &db,
        vec![Dependency::has_many("uploads", "uploadable_id")
            .polymorphic_as("uploadable_type", "User")],
    )
    .await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f19_habtm_through_a_join_table(db: TestDb) {
    create_world(&db).await;
    for id in 1..=3 {
        row(&db, "users", id, &[], Some(T0)).await;
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    row(&db, "tags", 1, &[("name", "vip")], Some(T2)).await;
    row(&db, "tags", 2, &[("name", "old")], Some(T0)).await;
    row(
        &db,
        "tags_users",
        0,
        &[("user_id", "1"), ("tag_id", "1")],
        None,
    )
    .await;
    row(
        &db,
        "tags_users",
        0,
        &[("user_id", "2"), ("tag_id", "2")],
        None,
    )
    .await;
    let etlify = users_with(
        &db,
        vec![Dependency::habtm("tags_users", "user_id", "tag_id", "tags")],
    )
    .await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f20_has_many_through_memberships(db: TestDb) {
    create_world(&db).await;
    for id in 1..=3 {
        row(&db, "users", id, &[], Some(T0)).await;
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    row(&db, "projects", 1, &[("name", "new")], Some(T2)).await;
    row(&db, "projects", 2, &[("name", "old")], Some(T0)).await;
    row(
        &db,
        "memberships",
        1,
        &[("user_id", "1"), ("project_id", "1")],
        Some(T0),
    )
    .await;
    row(
        &db,
        "memberships",
        2,
        &[("user_id", "2"), ("project_id", "2")],
        Some(T0),
    )
    .await;
    let etlify = users_with(
        &db,
        vec![Dependency::through(vec![
            Hop::has_many("memberships", "user_id").timestamp(TimestampColumn::None),
            Hop::belongs_to("projects", "project_id"),
        ])],
    )
    .await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f20_self_join_through_follows(db: TestDb) {
    create_world(&db).await;
    row(&db, "users", 1, &[], Some(T0)).await;
    row(&db, "users", 2, &[], Some(T2)).await; // followed user changed
    row(&db, "users", 3, &[], Some(T0)).await;
    for id in 1..=3 {
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    row(
        &db,
        "follows",
        1,
        &[("follower_id", "1"), ("followed_id", "2")],
        None,
    )
    .await;
    row(
        &db,
        "follows",
        2,
        &[("follower_id", "3"), ("followed_id", "1")],
        None,
    )
    .await;
    let etlify = users_with(
        &db,
        vec![Dependency::through(vec![
            Hop::has_many("follows", "follower_id"),
            Hop::belongs_to("users", "followed_id"),
        ])],
    )
    .await;
    // 1 follows 2 (changed) → stale; 2 is stale by its own change; 3 follows 1 (unchanged).
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1, 2]);
}

async fn finder_f21_nested_through_subscriptions_via_profiles(db: TestDb) {
    create_world(&db).await;
    for id in 1..=2 {
        row(&db, "users", id, &[], Some(T0)).await;
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    row(&db, "profiles", 1, &[("user_id", "1")], Some(T0)).await;
    row(&db, "profiles", 2, &[("user_id", "2")], Some(T0)).await;
    row(&db, "subscriptions", 1, &[("profile_id", "1")], Some(T2)).await;
    row(&db, "subscriptions", 2, &[("profile_id", "2")], Some(T0)).await;
    let etlify = users_with(
        &db,
        vec![Dependency::through(vec![
            Hop::has_one("profiles", "user_id"),
            Hop::has_many("subscriptions", "profile_id"),
        ])],
    )
    .await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f20_polymorphic_source_with_source_type(db: TestDb) {
    create_world(&db).await;
    for id in 1..=2 {
        row(&db, "users", id, &[], Some(T0)).await;
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    row(&db, "companies", 1, &[], Some(T2)).await;
    row(&db, "projects", 1, &[], Some(T2)).await;
    // user 1's activity points at company 1; user 2's at project 1 (another type).
    row(
        &db,
        "activities",
        1,
        &[("subject_type", "Company"), ("subject_id", "1")],
        Some(T0),
    )
    .await;
    row(
        &db,
        "activities",
        2,
        &[("subject_type", "Project"), ("subject_id", "1")],
        Some(T0),
    )
    .await;
    row(
        &db,
        "memberships",
        1,
        &[("user_id", "1"), ("project_id", "1")],
        Some(T0),
    )
    .await;
    row(
        &db,
        "memberships",
        2,
        &[("user_id", "2"), ("project_id", "2")],
        Some(T0),
    )
    .await;
    // users → memberships (user_id) → activities (id = project_id) → companies via polymorphic subject.
    let etlify = users_with(
        &db,
        vec![Dependency::through(vec![
            Hop::has_many("memberships", "user_id").timestamp(TimestampColumn::None),
            Hop::belongs_to("activities", "project_id").timestamp(TimestampColumn::None),
            Hop::belongs_to("companies", "subject_id").source_type("subject_type", "Company"),
        ])],
    )
    .await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f17_polymorphic_belongs_to_follows_each_target_table(db: TestDb) {
    create_world(&db).await;
    row(&db, "companies", 1, &[], Some(T2)).await;
    row(&db, "users", 1, &[], Some(T0)).await;
    row(
        &db,
        "activities",
        1,
        &[("subject_type", "Company"), ("subject_id", "1")],
        Some(T0),
    )
    .await;
    row(
        &db,
        "activities",
        2,
        &[("subject_type", "User"), ("subject_id", "1")],
        Some(T0),
    )
    .await;
    row(
        &db,
        "activities",
        3,
        &[("subject_type", "User"), ("subject_id", "1")],
        Some(T0),
    )
    .await;
    for id in 1..=3 {
        synced(&db, "hubspot", "Activity", id, T1, 0).await;
    }
    db.exec(&format!(
        "UPDATE users SET updated_at = '{T2}' WHERE id = 1"
    ))
    .await;
    db.exec(&format!(
        "UPDATE activities SET updated_at = '{T2}' WHERE id = 3"
    ))
    .await;
    let model = Model::new("Activity", "activities").bind(
        "hubspot",
        Binding::new("notes", "subject_type")
            .payload(SqlPayload::new("SELECT id, subject_type FROM activities"))
            .dependency(Dependency::polymorphic_belongs_to(
                "subject_id",
                "subject_type",
                [("Company", "companies"), ("User", "users")],
            )),
    );
    let etlify = engine_with(&db, vec![model]).await;
    assert_eq!(stale(&etlify, "hubspot", "Activity").await, [1, 2, 3]);
    db.exec(&format!("UPDATE companies SET updated_at = '{T0}'"))
        .await;
    db.exec(&format!("UPDATE users SET updated_at = '{T0}'"))
        .await;
    assert_eq!(stale(&etlify, "hubspot", "Activity").await, [3]);
}

async fn finder_f13_dependencies_are_isolated_per_crm(db: TestDb) {
    create_world(&db).await;
    row(&db, "companies", 1, &[], Some(T2)).await;
    row(&db, "users", 1, &[("company_id", "1")], Some(T0)).await;
    synced(&db, "hubspot", "User", 1, T1, 0).await;
    synced(&db, "airtable", "User", 1, T1, 0).await;
    let model = Model::new("User", "users")
        .bind(
            "hubspot",
            binding(vec![Dependency::belongs_to("companies", "company_id")]),
        )
        .bind("airtable", binding(vec![]));
    let etlify = engine_with(&db, vec![model]).await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
    assert!(stale(&etlify, "airtable", "User").await.is_empty());
}

async fn finder_f22_g17_stale_scope_restricts_the_records(db: TestDb) {
    create_world(&db).await;
    row(&db, "users", 1, &[("email", "keep@x.io")], Some(T1)).await;
    row(&db, "users", 2, &[("email", "drop@x.io")], Some(T1)).await;
    let model = Model::new("User", "users")
        .bind("hubspot", binding(vec![]).stale_scope("email LIKE 'keep%'"));
    let etlify = engine_with(&db, vec![model]).await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

async fn finder_f23_x7_g19_sti_filter_and_base_resource_type(db: TestDb) {
    create_world(&db).await;
    row(&db, "users", 1, &[("type", "Admin")], Some(T1)).await;
    row(&db, "users", 2, &[("type", "Customer")], Some(T1)).await;
    row(&db, "users", 3, &[("type", "Admin")], Some(T1)).await;
    // The Admin model stores rows under the base name "User" (X-7).
    synced(&db, "hubspot", "User", 3, T2, 0).await;
    let model = Model::new("User", "users")
        .sti("type", "Admin")
        .bind("hubspot", binding(vec![]));
    let etlify = engine_with(&db, vec![model]).await;
    assert_eq!(
        stale(&etlify, "hubspot", "User").await,
        [1],
        "Admin 3 is fresh: no endless re-sync"
    );
}

async fn finder_g20_has_one_through_a_belongs_to_first_hop(db: TestDb) {
    create_world(&db).await;
    // User has_one :logo, through: :company (the company's upload).
    row(&db, "companies", 1, &[], Some(T0)).await;
    row(&db, "companies", 2, &[], Some(T0)).await;
    row(&db, "users", 1, &[("company_id", "1")], Some(T0)).await;
    row(&db, "users", 2, &[("company_id", "2")], Some(T0)).await;
    row(
        &db,
        "uploads",
        1,
        &[("uploadable_type", "Company"), ("uploadable_id", "1")],
        Some(T2),
    )
    .await;
    row(
        &db,
        "uploads",
        2,
        &[("uploadable_type", "Company"), ("uploadable_id", "2")],
        Some(T0),
    )
    .await;
    for id in 1..=2 {
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    let etlify = users_with(
        &db,
        vec![Dependency::through(vec![
            Hop::belongs_to("companies", "company_id").timestamp(TimestampColumn::None),
            Hop::has_one("uploads", "uploadable_id").polymorphic_as("uploadable_type", "Company"),
        ])],
    )
    .await;
    assert_eq!(
        stale(&etlify, "hubspot", "User").await,
        [1],
        "the far row changed"
    );
}

async fn finder_x9_pages_are_ascending_and_bounded(db: TestDb) {
    create_world(&db).await;
    for id in 1..=7 {
        row(&db, "users", id, &[], Some(T1)).await;
    }
    let etlify = users_with(&db, vec![]).await;
    let mut pages = etlify
        .stale_ids("hubspot", "User")
        .unwrap()
        .plan(FinderPlan::Reference)
        .page_size(3);
    let mut seen = Vec::new();
    while let Some(page) = pages.next_page().await.unwrap() {
        assert!(page.len() <= 3);
        seen.push(page.iter().map(|id| id.get()).collect::<Vec<_>>());
    }
    assert_eq!(seen, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
}

/// The changed-since plan reads records with a sync row (changed since the
/// watermark) and records without one as two runs; pages still come out
/// ascending across both, as the gem's `find_in_batches` does.
async fn finder_x9_pages_are_ascending_across_changed_and_never_synced_records(db: TestDb) {
    create_world(&db).await;
    for id in 1..=9 {
        row(&db, "users", id, &[], Some(T2)).await;
    }
    for id in [2, 4, 6, 8] {
        synced(&db, "hubspot", "User", id, T1, 0).await;
    }
    let etlify = users_with(&db, vec![]).await;
    for plan in [FinderPlan::ChangedSince, FinderPlan::Reference] {
        let mut pages = etlify
            .stale_ids("hubspot", "User")
            .unwrap()
            .plan(plan)
            .page_size(2);
        let mut seen = Vec::new();
        while let Some(page) = pages.next_page().await.unwrap() {
            seen.push(page.iter().map(|id| id.get()).collect::<Vec<_>>());
        }
        assert_eq!(
            seen,
            vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7, 8], vec![9]],
            "{plan:?}"
        );
    }
}

crate::backend_tests!(
    finder_x9_pages_are_ascending_across_changed_and_never_synced_records,
    finder_f9_records_without_a_row_or_synced_before_their_change_are_stale,
    finder_f10_g16_error_budget_excludes_rows_at_the_limit,
    finder_f11_without_timestamps_only_missing_rows_are_stale,
    finder_f15_null_timestamps_count_as_the_epoch,
    finder_f16_belongs_to_change_makes_the_owner_stale,
    finder_f16_belongs_to_with_a_custom_primary_key,
    finder_f18_has_one_and_has_many_use_the_newest_child,
    finder_f18_polymorphic_has_many_ignores_other_types,
    finder_f19_habtm_through_a_join_table,
    finder_f20_has_many_through_memberships,
    finder_f20_self_join_through_follows,
    finder_f21_nested_through_subscriptions_via_profiles,
    finder_f20_polymorphic_source_with_source_type,
    finder_f17_polymorphic_belongs_to_follows_each_target_table,
    finder_f13_dependencies_are_isolated_per_crm,
    finder_f22_g17_stale_scope_restricts_the_records,
    finder_f23_x7_g19_sti_filter_and_base_resource_type,
    finder_g20_has_one_through_a_belongs_to_first_hop,
    finder_x9_pages_are_ascending_and_bounded,
    finder_f24_reserved_words_and_odd_names_are_quoted,
);

async fn finder_f24_reserved_words_and_odd_names_are_quoted(db: TestDb) {
    create_world(&db).await;
    let ts = if db.is_postgres() {
        "timestamp"
    } else {
        "datetime(6)"
    };
    db.exec(&format!(r#"CREATE TABLE "order" ("id" integer PRIMARY KEY, "group" varchar, "user" bigint, "updated_at" {ts})"#)).await;
    db.exec(&format!(
        r#"CREATE TABLE "select" ("id" integer PRIMARY KEY, "updated_at" {ts})"#
    ))
    .await;
    db.exec(&format!(
        r#"INSERT INTO "select" ("id", "updated_at") VALUES (1, '{T2}')"#
    ))
    .await;
    db.exec(&format!(r#"INSERT INTO "order" ("id", "group", "user", "updated_at") VALUES (1, 'a', 1, '{T0}'), (2, 'b', 2, '{T0}')"#)).await;
    synced(&db, "hubspot", "Order", 1, T1, 0).await;
    synced(&db, "hubspot", "Order", 2, T1, 0).await;
    let model = Model::new("Order", "order").bind(
        "hubspot",
        Binding::new("deals", "group")
            .payload(SqlPayload::new(r#"SELECT "id", "group" FROM "order""#))
            .dependency(Dependency::belongs_to("select", "user"))
            .stale_scope(r#""group" <> 'z'"#),
    );
    let etlify = engine_with(&db, vec![model]).await;
    assert_eq!(stale(&etlify, "hubspot", "Order").await, [1]);
}

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
    let etlify = Etlify::builder(store)
        .crm(Crm::new("hubspot", Arc::new(NullAdapter::new())))
        .model(user_with_company())
        .build()
        .await
        .expect("engine builds");
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
