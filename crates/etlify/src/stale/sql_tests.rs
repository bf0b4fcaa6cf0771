//! Golden SQL of the finder, per dialect and dependency kind, rendered
//! without a database (`sql_…`). The database tests (`tests/finder/`,
//! `tests/property/`) prove these statements right; these pin their text,
//! so a change to the SQL is seen in review.

#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;

use super::finder::{FinderSql, Reach, Selection};
use crate::catalog::{resolve_for_tests, TableColumns};
use crate::dependency::{Dependency, Hop};
use crate::id::ResourceId;
use crate::model::{Binding, Model};
use crate::payload::SqlPayload;
use crate::store::backend::{dialect, Dialect};
use crate::store::{BackendKind, Timestamp};

const TABLES: &[(&str, &[&str])] = &[
    (
        "users",
        &[
            "id",
            "email",
            "company_id",
            "company_code",
            "owner_type",
            "owner_id",
            "type",
            "active",
            "updated_at",
        ],
    ),
    ("companies", &["id", "code", "updated_at"]),
    ("deals", &["id", "user_id", "updated_at"]),
    ("profiles", &["id", "user_id", "updated_at"]),
    ("notes", &["id", "notable_type", "notable_id", "updated_at"]),
    ("memberships", &["id", "user_id", "team_id"]),
    ("teams", &["id", "updated_at"]),
    ("tags_users", &["user_id", "tag_id"]),
    ("tags", &["id", "updated_at"]),
    ("accounts", &["id", "updated_at"]),
    ("orgs", &["id", "updated_at"]),
];

fn watermark() -> Timestamp {
    NaiveDate::from_ymd_opt(2024, 5, 6)
        .unwrap()
        .and_hms_opt(7, 8, 9)
        .unwrap()
}

/// The finder's statements for a `User` model bound to `hubspot` with
/// `binding`, in `kind`'s dialect: (reference page, changed page).
fn render(kind: BackendKind, model: Model) -> Rendered {
    let catalog = resolve_for_tests(
        vec![model],
        &TableColumns::from_tables(TABLES.iter().copied()),
    );
    let resolved = catalog.resolved("User").unwrap();
    let dialect: &dyn Dialect = dialect(kind);
    let finder = FinderSql::new(dialect, resolved, "hubspot", 3).unwrap();
    let after = Some(ResourceId::new(10));
    Rendered {
        reference: dialect
            .render((&finder.reference_page(Selection::Stale, after.clone(), 100)).into()),
        changed: dialect
            .render((&finder.changed_candidates(Reach::Complete, Some(watermark()), true)).into()),
        all: dialect.render((&finder.reference_page(Selection::All, after.clone(), 100)).into()),
        watermark: dialect.render((&finder.watermark()).into()),
        exact: dialect.render(
            (&finder.exact_page(Reach::Complete, &[ResourceId::new(11), ResourceId::new(12)]))
                .into(),
        ),
        unsynced: dialect.render((&finder.unsynced_page(after, 100)).into()),
        changed_since: dialect.render(
            (&finder.changed_candidates(Reach::SinceCheckpoint, Some(watermark()), false)).into(),
        ),
        exact_since: dialect
            .render((&finder.exact_page(Reach::SinceCheckpoint, &[ResourceId::new(11)])).into()),
    }
}

struct Rendered {
    reference: String,
    changed: String,
    all: String,
    watermark: String,
    exact: String,
    unsynced: String,
    changed_since: String,
    exact_since: String,
}

fn user(binding: Binding) -> Model {
    Model::new("User", "users").bind(
        "hubspot",
        binding.payload(SqlPayload::new("SELECT id, email FROM users")),
    )
}

fn with(dependency: Dependency) -> Model {
    user(Binding::new("contacts", "email").dependency(dependency))
}

/// One model per dependency kind.
fn cases() -> Vec<(&'static str, Model)> {
    vec![
        (
            "belongs_to",
            with(Dependency::belongs_to("companies", "company_id")),
        ),
        (
            "belongs_to_custom_primary_key",
            with(Dependency::belongs_to("companies", "company_code").references("code")),
        ),
        ("has_many", with(Dependency::has_many("deals", "user_id"))),
        ("has_one", with(Dependency::has_one("profiles", "user_id"))),
        (
            "polymorphic_as",
            with(
                Dependency::has_many("notes", "notable_id").polymorphic_as("notable_type", "User"),
            ),
        ),
        (
            "through",
            with(Dependency::through(vec![
                Hop::has_many("memberships", "user_id"),
                Hop::belongs_to("teams", "team_id"),
            ])),
        ),
        (
            "habtm",
            with(Dependency::habtm("tags_users", "user_id", "tag_id", "tags")),
        ),
        (
            "polymorphic_belongs_to",
            with(Dependency::polymorphic_belongs_to(
                "owner_id",
                "owner_type",
                [("Account", "accounts"), ("Org", "orgs")],
            )),
        ),
    ]
}

/// The case named `name`.
fn case(name: &str) -> Model {
    cases()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, model)| model)
        .unwrap()
}

/// A model with a stale scope and an STI filter, no dependency.
fn scoped() -> Model {
    Model::new("User", "users").sti("type", "Admin").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .stale_scope("users.active = 1")
            .payload(SqlPayload::new("SELECT id, email FROM users")),
    )
}

#[test]
fn sql_belongs_to_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("belongs_to")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."id" = "users"."company_id"), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_belongs_to_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("belongs_to")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."company_id" IN (SELECT "etlify_d0_p0_h0"."id" FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_belongs_to_custom_primary_key_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("belongs_to_custom_primary_key")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."code" = "users"."company_code"), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_belongs_to_custom_primary_key_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("belongs_to_custom_primary_key")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."company_code" IN (SELECT "etlify_d0_p0_h0"."code" FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_has_many_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("has_many")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "deals" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_has_many_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("has_many")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "deals" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_has_one_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("has_one")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "profiles" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_has_one_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("has_one")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "profiles" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_polymorphic_as_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("polymorphic_as")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "notes" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."notable_id" = "users"."id" AND "etlify_d0_p0_h0"."notable_type" = 'User'), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_polymorphic_as_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("polymorphic_as")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."notable_id" FROM "notes" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."notable_type" = 'User' AND "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_through_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("through")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h1"."updated_at") FROM "memberships" AS "etlify_d0_p0_h0" INNER JOIN "teams" AS "etlify_d0_p0_h1" ON "etlify_d0_p0_h1"."id" = "etlify_d0_p0_h0"."team_id" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_through_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("through")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "memberships" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."team_id" IN (SELECT "etlify_d0_p0_h1"."id" FROM "teams" AS "etlify_d0_p0_h1" WHERE "etlify_d0_p0_h1"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_habtm_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("habtm")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h1"."updated_at") FROM "tags_users" AS "etlify_d0_p0_h0" INNER JOIN "tags" AS "etlify_d0_p0_h1" ON "etlify_d0_p0_h1"."id" = "etlify_d0_p0_h0"."tag_id" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_habtm_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("habtm")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "tags_users" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."tag_id" IN (SELECT "etlify_d0_p0_h1"."id" FROM "tags" AS "etlify_d0_p0_h1" WHERE "etlify_d0_p0_h1"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_polymorphic_belongs_to_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("polymorphic_belongs_to")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "accounts" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."id" = "users"."owner_id" AND "users"."owner_type" = 'Account'), '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p1_h0"."updated_at") FROM "orgs" AS "etlify_d0_p1_h0" WHERE "etlify_d0_p1_h0"."id" = "users"."owner_id" AND "users"."owner_type" = 'Org'), '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_polymorphic_belongs_to_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, case("polymorphic_belongs_to")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000' UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."owner_type" = 'Account' AND "etlify_reached_owner"."owner_id" IN (SELECT "etlify_d0_p0_h0"."id" FROM "accounts" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."owner_type" = 'Org' AND "etlify_reached_owner"."owner_id" IN (SELECT "etlify_d0_p1_h0"."id" FROM "orgs" AS "etlify_d0_p1_h0" WHERE "etlify_d0_p1_h0"."updated_at" > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_no_dependency_all_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, user(Binding::new("contacts", "email"))).all,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_watermark_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, user(Binding::new("contacts", "email"))).watermark,
        r#"SELECT MIN("etlify_sync"."last_synced_at"), CAST(COUNT("etlify_sync"."id") AS bigint), CAST((COUNT("etlify_sync"."id") - COUNT("etlify_sync"."last_synced_at")) AS bigint) FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND COALESCE("etlify_sync"."error_count", 0) < 3"#
    );
}

#[test]
fn sql_no_dependency_exact_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, user(Binding::new("contacts", "email"))).exact,
        r#"SELECT CAST("users"."id" AS bigint), CAST((CASE WHEN (("etlify_sync"."id" IS NULL OR ((COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') >= '1970-01-01 00:00:00' AND "users"."updated_at" > COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00')) OR (COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < '1970-01-01 00:00:00' AND COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < COALESCE("users"."updated_at", '1970-01-01 00:00:00')))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) THEN 1 ELSE 0 END) AS bigint) FROM "users" INNER JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" WHERE "users"."id" IN (SELECT value FROM json_each('[11,12]')) ORDER BY "users"."id" ASC"#
    );
}

#[test]
fn sql_no_dependency_unsynced_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, user(Binding::new("contacts", "email"))).unsynced,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" WHERE (NOT EXISTS(SELECT 1 FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10)) AND "users"."id" > 10 ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, user(Binding::new("contacts", "email"))).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < COALESCE("users"."updated_at", '1970-01-01 00:00:00')) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_changed_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, user(Binding::new("contacts", "email"))).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000'"#
    );
}

#[test]
fn sql_scope_and_sti_reference_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, scoped()).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND "users"."type" = 'Admin' AND "users"."id" IN (SELECT "id" FROM "users" WHERE (users.active = 1)) AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < COALESCE("users"."updated_at", '1970-01-01 00:00:00')) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_scope_and_sti_unsynced_sqlite() {
    assert_eq!(
        render(BackendKind::Sqlite, scoped()).unsynced,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" WHERE (NOT EXISTS(SELECT 1 FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10)) AND "users"."id" > 10 AND "users"."type" = 'Admin' AND "users"."id" IN (SELECT "id" FROM "users" WHERE (users.active = 1)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_belongs_to_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("belongs_to")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."id" = "users"."company_id"), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_belongs_to_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("belongs_to")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."company_id" IN (SELECT "etlify_d0_p0_h0"."id" FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_belongs_to_custom_primary_key_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("belongs_to_custom_primary_key")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."code" = "users"."company_code"), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_belongs_to_custom_primary_key_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("belongs_to_custom_primary_key")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."company_code" IN (SELECT "etlify_d0_p0_h0"."code" FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_has_many_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("has_many")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "deals" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_has_many_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("has_many")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "deals" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_has_one_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("has_one")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "profiles" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_has_one_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("has_one")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "profiles" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_polymorphic_as_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("polymorphic_as")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "notes" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."notable_id" = "users"."id" AND "etlify_d0_p0_h0"."notable_type" = 'User'), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_polymorphic_as_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("polymorphic_as")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."notable_id" FROM "notes" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."notable_type" = 'User' AND "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_through_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("through")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h1"."updated_at") FROM "memberships" AS "etlify_d0_p0_h0" INNER JOIN "teams" AS "etlify_d0_p0_h1" ON "etlify_d0_p0_h1"."id" = "etlify_d0_p0_h0"."team_id" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_through_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("through")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "memberships" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."team_id" IN (SELECT "etlify_d0_p0_h1"."id" FROM "teams" AS "etlify_d0_p0_h1" WHERE "etlify_d0_p0_h1"."updated_at" > '2024-05-06 07:08:09.000000')))"#
    );
}

#[test]
fn sql_habtm_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("habtm")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h1"."updated_at") FROM "tags_users" AS "etlify_d0_p0_h0" INNER JOIN "tags" AS "etlify_d0_p0_h1" ON "etlify_d0_p0_h1"."id" = "etlify_d0_p0_h0"."tag_id" WHERE "etlify_d0_p0_h0"."user_id" = "users"."id"), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_habtm_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("habtm")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."id" IN (SELECT "etlify_d0_p0_h0"."user_id" FROM "tags_users" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."tag_id" IN (SELECT "etlify_d0_p0_h1"."id" FROM "tags" AS "etlify_d0_p0_h1" WHERE "etlify_d0_p0_h1"."updated_at" > '2024-05-06 07:08:09.000000')))"#
    );
}

#[test]
fn sql_polymorphic_belongs_to_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("polymorphic_belongs_to")).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < GREATEST(COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "accounts" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."id" = "users"."owner_id" AND "users"."owner_type" = 'Account'), TIMESTAMP '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p1_h0"."updated_at") FROM "orgs" AS "etlify_d0_p1_h0" WHERE "etlify_d0_p1_h0"."id" = "users"."owner_id" AND "users"."owner_type" = 'Org'), TIMESTAMP '1970-01-01 00:00:00'))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_polymorphic_belongs_to_changed_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, case("polymorphic_belongs_to")).changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."owner_type" = 'Account' AND "etlify_reached_owner"."owner_id" IN (SELECT "etlify_d0_p0_h0"."id" FROM "accounts" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."updated_at" > '2024-05-06 07:08:09.000000')) UNION ALL (SELECT CAST("etlify_reached_owner"."id" AS bigint) FROM "users" AS "etlify_reached_owner" WHERE "etlify_reached_owner"."owner_type" = 'Org' AND "etlify_reached_owner"."owner_id" IN (SELECT "etlify_d0_p1_h0"."id" FROM "orgs" AS "etlify_d0_p1_h0" WHERE "etlify_d0_p1_h0"."updated_at" > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_no_dependency_all_postgres() {
    assert_eq!(
        render(
            BackendKind::Postgres,
            user(Binding::new("contacts", "email"))
        )
        .all,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_watermark_postgres() {
    assert_eq!(
        render(
            BackendKind::Postgres,
            user(Binding::new("contacts", "email"))
        )
        .watermark,
        r#"SELECT MIN("etlify_sync"."last_synced_at"), CAST(COUNT("etlify_sync"."id") AS bigint), CAST((COUNT("etlify_sync"."id") - COUNT("etlify_sync"."last_synced_at")) AS bigint) FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND COALESCE("etlify_sync"."error_count", 0) < 3"#
    );
}

#[test]
fn sql_no_dependency_exact_postgres() {
    assert_eq!(
        render(
            BackendKind::Postgres,
            user(Binding::new("contacts", "email"))
        )
        .exact,
        r#"SELECT CAST("users"."id" AS bigint), CAST((CASE WHEN (("etlify_sync"."id" IS NULL OR ((COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') >= (TIMESTAMP '1970-01-01 00:00:00') AND "users"."updated_at" > COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00')) OR (COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < (TIMESTAMP '1970-01-01 00:00:00') AND COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00')))) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) THEN 1 ELSE 0 END) AS bigint) FROM "users" INNER JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" WHERE "users"."id" = ANY(ARRAY [11,12]) ORDER BY "users"."id" ASC"#
    );
}

#[test]
fn sql_no_dependency_unsynced_postgres() {
    assert_eq!(
        render(
            BackendKind::Postgres,
            user(Binding::new("contacts", "email"))
        )
        .unsynced,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" WHERE (NOT EXISTS(SELECT 1 FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10)) AND "users"."id" > 10 ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_reference_postgres() {
    assert_eq!(
        render(
            BackendKind::Postgres,
            user(Binding::new("contacts", "email"))
        )
        .reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00')) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_changed_postgres() {
    assert_eq!(
        render(
            BackendKind::Postgres,
            user(Binding::new("contacts", "email"))
        )
        .changed,
        r#"SELECT "etlify_sync"."resource_id" FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."last_synced_at" IS NULL UNION ALL (SELECT CAST("etlify_changed_owner"."id" AS bigint) FROM "users" AS "etlify_changed_owner" WHERE "etlify_changed_owner"."updated_at" > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_scope_and_sti_reference_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, scoped()).reference,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10 WHERE "users"."id" > 10 AND "users"."type" = 'Admin' AND "users"."id" IN (SELECT "id" FROM "users" WHERE (users.active = 1)) AND (("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."last_synced_at", TIMESTAMP '1970-01-01 00:00:00') < COALESCE("users"."updated_at", TIMESTAMP '1970-01-01 00:00:00')) AND ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

#[test]
fn sql_scope_and_sti_unsynced_postgres() {
    assert_eq!(
        render(BackendKind::Postgres, scoped()).unsynced,
        r#"SELECT CAST("users"."id" AS bigint) FROM "users" WHERE (NOT EXISTS(SELECT 1 FROM "crm_synchronisations" AS "etlify_sync" WHERE "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" AND "etlify_sync"."resource_id" > 10)) AND "users"."id" > 10 AND "users"."type" = 'Admin' AND "users"."id" IN (SELECT "id" FROM "users" WHERE (users.active = 1)) ORDER BY "users"."id" ASC LIMIT 100"#
    );
}

/// Since a checkpoint, failing rows (by the partial index's own literal
/// predicate) and records waiting for a dependency are candidates too, and
/// a candidate without a sync row is stale.
#[test]
fn sql_since_checkpoint_adds_failing_and_waiting_records() {
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let rendered = render(kind, user(Binding::new("contacts", "email")));
        assert!(!rendered.changed.contains("error_count"), "{kind:?}");
        for part in [
            r#""etlify_sync"."error_count" > (0)"#,
            r#"FROM "etlify_pending_syncs" AS "etlify_pending" WHERE "etlify_pending"."dependent_type" = 'User' AND "etlify_pending"."crm_name" = 'hubspot'"#,
        ] {
            assert!(
                rendered.changed_since.contains(part),
                "{kind:?}: {}",
                rendered.changed_since
            );
        }
        assert!(rendered
            .exact
            .contains(r#"INNER JOIN "crm_synchronisations""#));
        assert!(rendered
            .exact_since
            .contains(r#"LEFT JOIN "crm_synchronisations""#));
    }
}

/// The exact check looks at shorter dependency paths first, whatever the
/// declaration order: a HABTM path (two hops) declared before a
/// belongs_to (one) is read after it, and only through `EXISTS`.
#[test]
fn sql_exact_check_reads_shorter_dependency_paths_first() {
    let model = user(
        Binding::new("contacts", "email")
            .dependency(Dependency::habtm("tags_users", "user_id", "tag_id", "tags"))
            .dependency(Dependency::belongs_to("companies", "company_id")),
    );
    for kind in [BackendKind::Sqlite, BackendKind::Postgres] {
        let exact = render(kind, model.clone()).exact;
        let first_newer = exact
            .split_once(" OR (COALESCE")
            .map_or(exact.as_str(), |(first_newer, _)| first_newer);
        let companies = first_newer.find(r#"EXISTS(SELECT 1 FROM "companies""#);
        let tags = first_newer.find(r#"EXISTS(SELECT 1 FROM "tags_users""#);
        assert!(
            matches!((companies, tags), (Some(c), Some(t)) if c < t),
            "{kind:?}: {exact}"
        );
    }
}

/// `status`'s classification of every record in scope: the finder's own
/// out-of-date condition (first-newer form), the error budget, a waiting
/// record, grouped outside the subquery.
#[test]
fn sql_standing_sqlite() {
    let model = user(
        Binding::new("contacts", "email")
            .dependency(Dependency::belongs_to("companies", "company_id"))
            .stale_scope("users.active = 1"),
    );
    let catalog = resolve_for_tests(
        vec![model],
        &TableColumns::from_tables(TABLES.iter().copied()),
    );
    let dialect: &dyn Dialect = dialect(BackendKind::Sqlite);
    let finder = FinderSql::new(dialect, catalog.resolved("User").unwrap(), "hubspot", 3).unwrap();
    assert_eq!(
        dialect.render((&finder.standing()).into()),
        r#"SELECT "etlify_standing"."standing", CAST(COUNT(*) AS bigint), MAX("etlify_standing"."last_synced_at") FROM (SELECT CAST((CASE WHEN (NOT ("etlify_sync"."id" IS NULL OR COALESCE("etlify_sync"."error_count", 0) < 3)) THEN 0 WHEN (COALESCE("etlify_sync"."error_count", 0) > 0) THEN 1 WHEN (EXISTS(SELECT 1 FROM "etlify_pending_syncs" AS "etlify_pending" WHERE "etlify_pending"."crm_name" = 'hubspot' AND "etlify_pending"."dependent_type" = 'User' AND "etlify_pending"."dependent_id" = "users"."id")) THEN 2 WHEN ("etlify_sync"."id" IS NULL) THEN 3 WHEN ((COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') >= '1970-01-01 00:00:00' AND ("users"."updated_at" > COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') OR EXISTS(SELECT 1 FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."id" = "users"."company_id" AND "etlify_d0_p0_h0"."updated_at" > COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00')))) OR (COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < '1970-01-01 00:00:00' AND COALESCE("etlify_sync"."last_synced_at", '1970-01-01 00:00:00') < MAX(COALESCE("users"."updated_at", '1970-01-01 00:00:00'), COALESCE((SELECT MAX("etlify_d0_p0_h0"."updated_at") FROM "companies" AS "etlify_d0_p0_h0" WHERE "etlify_d0_p0_h0"."id" = "users"."company_id"), '1970-01-01 00:00:00')))) THEN 4 ELSE 5 END) AS bigint) AS "standing", "etlify_sync"."last_synced_at" AS "last_synced_at" FROM "users" LEFT JOIN "crm_synchronisations" AS "etlify_sync" ON "etlify_sync"."crm_name" = 'hubspot' AND "etlify_sync"."resource_type" = 'User' AND "etlify_sync"."resource_id" = "users"."id" WHERE "users"."id" IN (SELECT "id" FROM "users" WHERE (users.active = 1))) AS "etlify_standing" GROUP BY "etlify_standing"."standing" ORDER BY "etlify_standing"."standing" ASC"#
    );
}

#[test]
fn sql_belongs_to_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("belongs_to")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h0`.`updated_at`) FROM `companies` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`id` = `users`.`company_id`), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_belongs_to_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("belongs_to")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`company_id` IN (SELECT `etlify_d0_p0_h0`.`id` FROM `companies` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`updated_at` > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_belongs_to_custom_primary_key_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("belongs_to_custom_primary_key")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h0`.`updated_at`) FROM `companies` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`code` = `users`.`company_code`), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_belongs_to_custom_primary_key_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("belongs_to_custom_primary_key")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`company_code` IN (SELECT `etlify_d0_p0_h0`.`code` FROM `companies` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`updated_at` > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_has_many_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("has_many")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h0`.`updated_at`) FROM `deals` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`user_id` = `users`.`id`), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_has_many_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("has_many")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`id` IN (SELECT `etlify_d0_p0_h0`.`user_id` FROM `deals` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`updated_at` > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_has_one_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("has_one")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h0`.`updated_at`) FROM `profiles` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`user_id` = `users`.`id`), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_has_one_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("has_one")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`id` IN (SELECT `etlify_d0_p0_h0`.`user_id` FROM `profiles` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`updated_at` > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_polymorphic_as_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("polymorphic_as")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h0`.`updated_at`) FROM `notes` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`notable_id` = `users`.`id` AND `etlify_d0_p0_h0`.`notable_type` = 'User'), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_polymorphic_as_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("polymorphic_as")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`id` IN (SELECT `etlify_d0_p0_h0`.`notable_id` FROM `notes` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`notable_type` = 'User' AND `etlify_d0_p0_h0`.`updated_at` > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_through_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("through")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h1`.`updated_at`) FROM `memberships` AS `etlify_d0_p0_h0` INNER JOIN `teams` AS `etlify_d0_p0_h1` ON `etlify_d0_p0_h1`.`id` = `etlify_d0_p0_h0`.`team_id` WHERE `etlify_d0_p0_h0`.`user_id` = `users`.`id`), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_through_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("through")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`id` IN (SELECT `etlify_d0_p0_h0`.`user_id` FROM `memberships` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`team_id` IN (SELECT `etlify_d0_p0_h1`.`id` FROM `teams` AS `etlify_d0_p0_h1` WHERE `etlify_d0_p0_h1`.`updated_at` > '2024-05-06 07:08:09.000000')))"#
    );
}

#[test]
fn sql_habtm_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("habtm")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h1`.`updated_at`) FROM `tags_users` AS `etlify_d0_p0_h0` INNER JOIN `tags` AS `etlify_d0_p0_h1` ON `etlify_d0_p0_h1`.`id` = `etlify_d0_p0_h0`.`tag_id` WHERE `etlify_d0_p0_h0`.`user_id` = `users`.`id`), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_habtm_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("habtm")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`id` IN (SELECT `etlify_d0_p0_h0`.`user_id` FROM `tags_users` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`tag_id` IN (SELECT `etlify_d0_p0_h1`.`id` FROM `tags` AS `etlify_d0_p0_h1` WHERE `etlify_d0_p0_h1`.`updated_at` > '2024-05-06 07:08:09.000000')))"#
    );
}

#[test]
fn sql_polymorphic_belongs_to_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("polymorphic_belongs_to")).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < GREATEST(COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p0_h0`.`updated_at`) FROM `accounts` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`id` = `users`.`owner_id` AND `users`.`owner_type` = 'Account'), TIMESTAMP'1970-01-01 00:00:00'), COALESCE((SELECT MAX(`etlify_d0_p1_h0`.`updated_at`) FROM `orgs` AS `etlify_d0_p1_h0` WHERE `etlify_d0_p1_h0`.`id` = `users`.`owner_id` AND `users`.`owner_type` = 'Org'), TIMESTAMP'1970-01-01 00:00:00'))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_polymorphic_belongs_to_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, case("polymorphic_belongs_to")).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000') UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`owner_type` = 'Account' AND `etlify_reached_owner`.`owner_id` IN (SELECT `etlify_d0_p0_h0`.`id` FROM `accounts` AS `etlify_d0_p0_h0` WHERE `etlify_d0_p0_h0`.`updated_at` > '2024-05-06 07:08:09.000000')) UNION ALL (SELECT CAST(`etlify_reached_owner`.`id` AS SIGNED) FROM `users` AS `etlify_reached_owner` WHERE `etlify_reached_owner`.`owner_type` = 'Org' AND `etlify_reached_owner`.`owner_id` IN (SELECT `etlify_d0_p1_h0`.`id` FROM `orgs` AS `etlify_d0_p1_h0` WHERE `etlify_d0_p1_h0`.`updated_at` > '2024-05-06 07:08:09.000000'))"#
    );
}

#[test]
fn sql_no_dependency_all_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, user(Binding::new("contacts", "email"))).all,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_watermark_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, user(Binding::new("contacts", "email"))).watermark,
        r#"SELECT MIN(`etlify_sync`.`last_synced_at`), CAST(COUNT(`etlify_sync`.`id`) AS SIGNED), CAST(COUNT(`etlify_sync`.`id`) - COUNT(`etlify_sync`.`last_synced_at`) AS SIGNED) FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND COALESCE(`etlify_sync`.`error_count`, 0) < 3"#
    );
}

#[test]
fn sql_no_dependency_exact_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, user(Binding::new("contacts", "email"))).exact,
        r#"SELECT CAST(`users`.`id` AS SIGNED), CAST((CASE WHEN ((`etlify_sync`.`id` IS NULL OR ((COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') >= (TIMESTAMP'1970-01-01 00:00:00') AND `users`.`updated_at` > COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00')) OR (COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < (TIMESTAMP'1970-01-01 00:00:00') AND COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00')))) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) THEN 1 ELSE 0 END) AS SIGNED) FROM `users` INNER JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` WHERE `users`.`id` IN (11, 12) ORDER BY `users`.`id` ASC"#
    );
}

#[test]
fn sql_no_dependency_unsynced_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, user(Binding::new("contacts", "email"))).unsynced,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` WHERE (NOT EXISTS(SELECT 1 FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10)) AND `users`.`id` > 10 ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, user(Binding::new("contacts", "email"))).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00')) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_no_dependency_changed_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, user(Binding::new("contacts", "email"))).changed,
        r#"SELECT `etlify_sync`.`resource_id` FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`last_synced_at` IS NULL UNION ALL (SELECT CAST(`etlify_changed_owner`.`id` AS SIGNED) FROM `users` AS `etlify_changed_owner` WHERE `etlify_changed_owner`.`updated_at` > '2024-05-06 07:08:09.000000')"#
    );
}

#[test]
fn sql_scope_and_sti_reference_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, scoped()).reference,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` LEFT JOIN `crm_synchronisations` AS `etlify_sync` ON `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10 WHERE `users`.`id` > 10 AND `users`.`type` = 'Admin' AND `users`.`id` IN (SELECT `id` FROM `users` WHERE (users.active = 1)) AND ((`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`last_synced_at`, TIMESTAMP'1970-01-01 00:00:00') < COALESCE(`users`.`updated_at`, TIMESTAMP'1970-01-01 00:00:00')) AND (`etlify_sync`.`id` IS NULL OR COALESCE(`etlify_sync`.`error_count`, 0) < 3)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}

#[test]
fn sql_scope_and_sti_unsynced_mysql() {
    assert_eq!(
        render(BackendKind::Mysql, scoped()).unsynced,
        r#"SELECT CAST(`users`.`id` AS SIGNED) FROM `users` WHERE (NOT EXISTS(SELECT 1 FROM `crm_synchronisations` AS `etlify_sync` WHERE `etlify_sync`.`crm_name` = 'hubspot' AND `etlify_sync`.`resource_type` = 'User' AND `etlify_sync`.`resource_id` = `users`.`id` AND `etlify_sync`.`resource_id` > 10)) AND `users`.`id` > 10 AND `users`.`type` = 'Admin' AND `users`.`id` IN (SELECT `id` FROM `users` WHERE (users.active = 1)) ORDER BY `users`.`id` ASC LIMIT 100"#
    );
}
