//! The tests of `finder` that run on each backend. This file is compiled
//! twice, as `finder::sqlite` and `finder::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f9_records_without_a_row_or_synced_before_their_change_are_stale() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f10_g16_error_budget_excludes_rows_at_the_limit() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f11_without_timestamps_only_missing_rows_are_stale() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f15_null_timestamps_count_as_the_epoch() {
    let db = TestDb::new(BACKEND).await;
    create_world(&db).await;
    row(&db, "companies", 1, &[("name", "a")], None).await;
    row(&db, "users", 1, &[("company_id", "1")], None).await;
    row(&db, "users", 2, &[("company_id", "1")], Some(T1)).await;
    synced(&db, "hubspot", "User", 1, T0, 0).await;
    synced(&db, "hubspot", "User", 2, T0, 0).await;
    let etlify = users_with(&db, vec![Dependency::belongs_to("companies", "company_id")]).await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f16_belongs_to_change_makes_the_owner_stale() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f16_belongs_to_with_a_custom_primary_key() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f18_has_one_and_has_many_use_the_newest_child() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f18_polymorphic_has_many_ignores_other_types() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f19_habtm_through_a_join_table() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f20_has_many_through_memberships() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f20_self_join_through_follows() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f21_nested_through_subscriptions_via_profiles() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f20_polymorphic_source_with_source_type() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f17_polymorphic_belongs_to_follows_each_target_table() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f13_dependencies_are_isolated_per_crm() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f22_g17_stale_scope_restricts_the_records() {
    let db = TestDb::new(BACKEND).await;
    create_world(&db).await;
    row(&db, "users", 1, &[("email", "keep@x.io")], Some(T1)).await;
    row(&db, "users", 2, &[("email", "drop@x.io")], Some(T1)).await;
    let model = Model::new("User", "users")
        .bind("hubspot", binding(vec![]).stale_scope("email LIKE 'keep%'"));
    let etlify = engine_with(&db, vec![model]).await;
    assert_eq!(stale(&etlify, "hubspot", "User").await, [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f23_x7_g19_sti_filter_and_base_resource_type() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_g20_has_one_through_a_belongs_to_first_hop() {
    let db = TestDb::new(BACKEND).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_x9_pages_are_ascending_and_bounded() {
    let db = TestDb::new(BACKEND).await;
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
        seen.push(
            page.iter()
                .map(|id| id.as_int().unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(seen, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
}

/// The changed-since plan reads records with a sync row (changed since the
/// watermark) and records without one as two runs; pages still come out
/// ascending across both, as the gem's `find_in_batches` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_x9_pages_are_ascending_across_changed_and_never_synced_records() {
    let db = TestDb::new(BACKEND).await;
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
            seen.push(
                page.iter()
                    .map(|id| id.as_int().unwrap())
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(
            seen,
            vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7, 8], vec![9]],
            "{plan:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_f24_reserved_words_and_odd_names_are_quoted() {
    let db = TestDb::new(BACKEND).await;
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
