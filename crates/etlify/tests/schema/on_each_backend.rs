//! The tests of `schema` that run on each backend. This file is compiled
//! twice, as `schema::sqlite` and `schema::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x6_rows_are_unique_per_crm_and_resource_and_crm_ids_per_crm_and_type() {
    let db = TestDb::new(BACKEND).await;
    db.migrate().await;
    insert(&db, "hubspot", "User", 1, Some("A")).await.unwrap();
    assert!(
        insert(&db, "hubspot", "User", 1, None).await.is_err(),
        "one row per (crm, type, id)"
    );
    insert(&db, "airtable", "User", 1, Some("A"))
        .await
        .expect("same record and crm_id in another CRM");
    insert(&db, "hubspot", "Company", 1, Some("A"))
        .await
        .expect("same crm_id for another type");
    assert!(
        insert(&db, "hubspot", "User", 2, Some("A")).await.is_err(),
        "crm_id unique per (crm, type)"
    );
    insert(&db, "hubspot", "User", 3, None).await.unwrap();
    insert(&db, "hubspot", "User", 4, None)
        .await
        .expect("many rows without crm_id");
    let now = db.now_sql();
    let no_crm = db
        .try_exec(&format!(
            "INSERT INTO crm_synchronisations (resource_type, resource_id, created_at, updated_at) VALUES ('User', 9, {now}, {now})"
        ))
        .await;
    assert!(no_crm.is_err(), "crm_name is NOT NULL");
    let column_type = db
        .scalar_text(if db.is_postgres() {
            "SELECT data_type::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'crm_synchronisations' AND column_name = 'last_error'"
        } else if db.is_mysql() {
            "SELECT data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'crm_synchronisations' AND column_name = 'last_error'"
        } else {
            "SELECT type FROM pragma_table_info('crm_synchronisations') WHERE name = 'last_error'"
        })
        .await;
    assert_eq!(
        column_type.map(|t| t.to_lowercase()).as_deref(),
        Some("text")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_missing_tables_and_the_command_that_fixes_them() {
    let db = TestDb::new(BACKEND).await;
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "crm_synchronisations"
    }));
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "etlify_pending_syncs"
    }));
    assert!(report.fix().unwrap().contains("etlify migrate"));
    let text = report.to_string();
    assert!(
        text.contains("missing table \"crm_synchronisations\"")
            && text.contains("Please run: etlify migrate"),
        "{text}"
    );

    db.migrate().await;
    db.migrate().await; // idempotent
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.fix(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g26_migrate_takes_over_a_pre_09_gem_table() {
    let db = TestDb::new(BACKEND).await;
    create_gem_08_table(&db).await;
    let report = etlify::check_schema(&db.store).await.unwrap();
    for problem in [
        SchemaProblem::MissingColumn {
            table: "crm_synchronisations",
            column: "crm_name",
        },
        SchemaProblem::MissingColumn {
            table: "crm_synchronisations",
            column: "error_count",
        },
        SchemaProblem::ObsoleteIndex {
            index: "index_crm_synchronisations_on_crm_id",
        },
        SchemaProblem::ObsoleteIndex {
            index: "idx_crm_sync_on_resource",
        },
    ] {
        assert!(
            report.problems.contains(&problem),
            "{problem:?} not in {report}"
        );
    }

    // Rows without a CRM need a name: refused, and nothing altered.
    let err = etlify::migrate(&db.store, &MigrateOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Schema);
    assert_eq!(
        err.remedy(),
        Some(etlify::Remedy::MigrateWithDefaultCrmName),
        "{err}"
    );
    assert!(!etlify::check_schema(&db.store).await.unwrap().is_ok());
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations")
            .await,
        1,
        "the refused migration kept the row"
    );

    let options = MigrateOptions::new().default_crm_name("hubspot");
    etlify::migrate(&db.store, &options).await.unwrap();
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        db.scalar_text("SELECT crm_name FROM crm_synchronisations WHERE resource_id = 1")
            .await
            .as_deref(),
        Some("hubspot")
    );
    assert_eq!(
        db.scalar_i64("SELECT error_count FROM crm_synchronisations WHERE resource_id = 1")
            .await,
        0
    );
    // The same record can now have a row for a second CRM, with the same crm_id.
    insert(&db, "airtable", "User", 1, Some("c-1"))
        .await
        .expect("multi-CRM row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g26_revert_restores_the_gem_schema_and_keeps_the_data() {
    let db = TestDb::new(BACKEND).await;
    create_gem_08_table(&db).await;
    let before = columns_and_indexes(&db).await;
    let options = MigrateOptions::new().default_crm_name("hubspot");
    etlify::migrate(&db.store, &options).await.unwrap();
    etlify::migrate(&db.store, &options).await.unwrap();
    assert_ne!(columns_and_indexes(&db).await, before);

    etlify::revert_migration(&db.store).await.unwrap();
    assert_eq!(
        columns_and_indexes(&db).await,
        before,
        "columns and indexes as the gem had them"
    );
    assert_eq!(
        db.scalar_text("SELECT crm_id FROM crm_synchronisations WHERE resource_id = 1")
            .await
            .as_deref(),
        Some("c-1")
    );
    let err = etlify::revert_migration(&db.store).await.unwrap_err();
    assert!(err.to_string().contains("nothing to revert"), "{err}");
}

/// G-26 on a database the gem's 0.9 upgrade guide migrated: its
/// `idx_crm_sync_on_resource` is `(resource_type, resource_id, crm_name)`,
/// already fit for several CRMs, so `migrate` keeps it and `check` does
/// not call it obsolete; `revert` leaves it as it was (not the pre-0.9
/// two-column index).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g26_a_gem_09_resource_index_is_kept_and_survives_a_revert() {
    let db = TestDb::new(BACKEND).await;
    create_gem_08_table(&db).await;
    // One script, so one connection: the index dropped and created again
    // under its name on two pooled SQLite connections was once refused as
    // existing (the second connection's schema not yet reloaded).
    // MySQL names the table an index is dropped from.
    let on_table = if db.is_mysql() {
        " ON crm_synchronisations"
    } else {
        ""
    };
    db.exec(&format!(
        "DROP INDEX idx_crm_sync_on_resource{on_table}; \
         ALTER TABLE crm_synchronisations ADD COLUMN crm_name varchar; \
         UPDATE crm_synchronisations SET crm_name = 'hubspot'; \
         CREATE UNIQUE INDEX idx_crm_sync_on_resource ON crm_synchronisations (resource_type, resource_id, crm_name)",
    ))
    .await;
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(
        !report.problems.contains(&SchemaProblem::ObsoleteIndex {
            index: "idx_crm_sync_on_resource"
        }),
        "{report}"
    );
    etlify::migrate(&db.store, &MigrateOptions::default())
        .await
        .unwrap();
    assert!(etlify::check_schema(&db.store).await.unwrap().is_ok());
    let three = Some("resource_type,resource_id,crm_name".to_owned());
    assert_eq!(gem_resource_index_columns(&db).await, three, "kept");
    etlify::revert_migration(&db.store).await.unwrap();
    assert_eq!(
        gem_resource_index_columns(&db).await,
        three,
        "as the gem had it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g26_revert_of_a_fresh_install_drops_its_tables() {
    let db = TestDb::new(BACKEND).await;
    db.migrate().await;
    etlify::revert_migration(&db.store).await.unwrap();
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "crm_synchronisations"
    }));
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "etlify_pending_syncs"
    }));
    // The shared rate window's table, on SQLite too (issue 26, item 4).
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "etlify_rate_slots"
    }));
    db.migrate().await;
    assert!(
        etlify::check_schema(&db.store).await.unwrap().is_ok(),
        "and it can be migrated again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g26_revert_is_refused_when_rows_no_longer_fit_the_gems_indexes() {
    let db = TestDb::new(BACKEND).await;
    create_gem_08_table(&db).await;
    let options = MigrateOptions::new().default_crm_name("hubspot");
    etlify::migrate(&db.store, &options).await.unwrap();
    insert(&db, "airtable", "User", 1, Some("rec1"))
        .await
        .unwrap();
    let after_migrate = columns_and_indexes(&db).await;
    let err = etlify::revert_migration(&db.store).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Schema);
    assert!(err.to_string().contains("several CRMs"), "{err}");
    assert_eq!(
        columns_and_indexes(&db).await,
        after_migrate,
        "nothing changed"
    );
}

/// A database migrated by an etlify that indexed `last_synced_at` (before
/// 2026-12: every sync rewrote that index's entry, a second scattered page
/// per update) or only its rows never stamped (before 2026-12-06: its
/// predicate kept every update on PostgreSQL from being heap-only) is
/// upgraded: both indexes are dropped, neither is required meanwhile, and
/// a revert still undoes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_drops_the_indexes_on_last_synced_at_of_earlier_versions() {
    let db = TestDb::new(BACKEND).await;
    db.migrate().await;
    // MySQL has no partial index: there the earlier version's was whole.
    let never_stamped = if db.is_mysql() {
        ""
    } else {
        " WHERE last_synced_at IS NULL"
    };
    db.exec(&format!(
        "CREATE INDEX idx_etlify_sync_last_synced_at ON crm_synchronisations (crm_name, resource_type, last_synced_at); \
         INSERT INTO etlify_schema_migrations (step) VALUES ('create_index:idx_etlify_sync_last_synced_at'); \
         CREATE INDEX idx_etlify_sync_never_stamped ON crm_synchronisations (crm_name, resource_type, resource_id){never_stamped}; \
         INSERT INTO etlify_schema_migrations (step) VALUES ('create_index:idx_etlify_sync_never_stamped')",
    ))
    .await;
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(
        report.is_ok(),
        "an engine runs before the upgrade: {report}"
    );

    db.migrate().await;
    let (_, indexes) = columns_and_indexes(&db).await;
    for dropped in [
        "idx_etlify_sync_last_synced_at",
        "idx_etlify_sync_never_stamped",
    ] {
        assert!(!indexes.iter().any(|i| i == dropped), "{indexes:?}");
    }
    assert!(etlify::check_schema(&db.store).await.unwrap().is_ok());
    let steps = "SELECT COUNT(*) FROM etlify_schema_migrations";
    let recorded = db.scalar_i64(steps).await;
    db.migrate().await;
    assert_eq!(db.scalar_i64(steps).await, recorded, "idempotent");

    etlify::revert_migration(&db.store).await.unwrap();
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "crm_synchronisations"
    }));
}

/// On PostgreSQL the sync table's pages are filled to 85%, so that a
/// sync's update of a row fits on its own page as a heap-only update; a
/// table whose owner chose a fill factor keeps it, and a revert gives the
/// gem's table back without one. SQLite has no fill factor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_leaves_room_for_in_place_updates_in_the_sync_table() {
    let db = TestDb::new(BACKEND).await;
    db.migrate().await;
    let recorded = db
        .scalar_i64(
            "SELECT COUNT(*) FROM etlify_schema_migrations WHERE step = 'set_fillfactor:crm_synchronisations'",
        )
        .await;
    if db.is_postgres() {
        assert_eq!(
            sync_table_options(&db).await.as_deref(),
            Some("fillfactor=85")
        );
        assert_eq!(recorded, 1);
    } else {
        assert_eq!(recorded, 0);
    }
    etlify::revert_migration(&db.store).await.unwrap();

    create_gem_08_table(&db).await;
    if db.is_postgres() {
        db.exec("ALTER TABLE crm_synchronisations SET (fillfactor = 70)")
            .await;
    }
    let options = MigrateOptions::new().default_crm_name("hubspot");
    etlify::migrate(&db.store, &options).await.unwrap();
    let chosen = db.is_postgres().then(|| "fillfactor=70".to_owned());
    assert_eq!(
        sync_table_options(&db).await,
        chosen,
        "the owner's choice is kept"
    );
    etlify::revert_migration(&db.store).await.unwrap();
    assert_eq!(sync_table_options(&db).await, chosen);

    if db.is_postgres() {
        db.exec("ALTER TABLE crm_synchronisations RESET (fillfactor)")
            .await;
        etlify::migrate(&db.store, &options).await.unwrap();
        assert_eq!(
            sync_table_options(&db).await.as_deref(),
            Some("fillfactor=85")
        );
        etlify::revert_migration(&db.store).await.unwrap();
        assert_eq!(
            sync_table_options(&db).await,
            None,
            "the gem's table as it was"
        );
    }
}

/// The declared foreign keys of a table (what `etlify new-model` scaffolds
/// dependencies from), on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_reads_declared_foreign_keys() {
    let db = TestDb::new(BACKEND).await;
    let pk = if db.is_postgres() {
        "bigserial PRIMARY KEY"
    } else {
        "integer PRIMARY KEY"
    };
    db.exec(&format!(
        "CREATE TABLE teams (id {pk}, code varchar UNIQUE)"
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE members (id {pk}, team_id bigint REFERENCES teams (id), team_code varchar REFERENCES teams (code), name varchar)"
    ))
    .await;
    let mut keys = db.store.foreign_keys("members").await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            (
                "team_code".to_owned(),
                "teams".to_owned(),
                "code".to_owned()
            ),
            ("team_id".to_owned(), "teams".to_owned(), "id".to_owned()),
        ]
    );
    assert!(db.store.foreign_keys("teams").await.unwrap().is_empty());
    assert_eq!(
        db.store.table_columns("members").await.unwrap().unwrap(),
        ["id", "team_id", "team_code", "name"]
    );
}
