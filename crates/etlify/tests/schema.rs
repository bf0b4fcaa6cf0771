//! Migrations, the schema check and the corrected indexes (X-6, G-26).

use etlify::store::schema::{self, SchemaProblem};
use etlify::{ErrorKind, MigrateOptions};

use crate::support::TestDb;

async fn insert(
    db: &TestDb,
    crm: &str,
    resource_type: &str,
    id: i64,
    crm_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    let now = db.now_sql();
    let crm_id = crm_id.map_or("NULL".to_owned(), |c| format!("'{c}'"));
    db.try_exec(&format!(
        "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, crm_id, created_at, updated_at) \
         VALUES ('{crm}', '{resource_type}', {id}, {crm_id}, {now}, {now})"
    ))
    .await
}

async fn x6_rows_are_unique_per_crm_and_resource_and_crm_ids_per_crm_and_type(db: TestDb) {
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
        } else {
            "SELECT type FROM pragma_table_info('crm_synchronisations') WHERE name = 'last_error'"
        })
        .await;
    assert_eq!(
        column_type.map(|t| t.to_lowercase()).as_deref(),
        Some("text")
    );
}

async fn check_reports_missing_tables_and_the_command_that_fixes_them(db: TestDb) {
    let report = schema::check(&db.store).await.unwrap();
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
    let report = schema::check(&db.store).await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.fix(), None);
}

/// The gem's pre-0.9 table: no `crm_name`, no `error_count`, and the two
/// unique indexes that forbid multi-CRM.
async fn create_gem_08_table(db: &TestDb) {
    let (pk, ts) = if db.is_postgres() {
        ("bigserial PRIMARY KEY", "timestamp(6) without time zone")
    } else {
        ("integer PRIMARY KEY AUTOINCREMENT NOT NULL", "datetime(6)")
    };
    db.exec(&format!(
        "CREATE TABLE crm_synchronisations (id {pk}, crm_id varchar, resource_type varchar NOT NULL, \
         resource_id bigint NOT NULL, last_digest varchar, last_synced_at {ts}, last_error varchar, \
         created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
    ))
    .await;
    db.exec(
        "CREATE UNIQUE INDEX index_crm_synchronisations_on_crm_id ON crm_synchronisations (crm_id)",
    )
    .await;
    db.exec("CREATE UNIQUE INDEX idx_crm_sync_on_resource ON crm_synchronisations (resource_type, resource_id)").await;
    let now = db.now_sql();
    db.exec(&format!(
        "INSERT INTO crm_synchronisations (crm_id, resource_type, resource_id, last_digest, created_at, updated_at) \
         VALUES ('c-1', 'User', 1, 'abc', {now}, {now})"
    ))
    .await;
}

async fn g26_migrate_takes_over_a_pre_09_gem_table(db: TestDb) {
    create_gem_08_table(&db).await;
    let report = schema::check(&db.store).await.unwrap();
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
    assert!(!schema::check(&db.store).await.unwrap().is_ok());
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations")
            .await,
        1,
        "the refused migration kept the row"
    );

    let options = MigrateOptions {
        default_crm_name: Some("hubspot".into()),
    };
    etlify::migrate(&db.store, &options).await.unwrap();
    let report = schema::check(&db.store).await.unwrap();
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

async fn columns_and_indexes(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let (columns_sql, indexes_sql) = if db.is_postgres() {
        (
            "SELECT string_agg(column_name::text, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'crm_synchronisations'",
            "SELECT string_agg(indexname::text, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'crm_synchronisations' AND indexname NOT LIKE '%pkey'",
        )
    } else {
        (
            "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('crm_synchronisations') ORDER BY name)",
            "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_list('crm_synchronisations') WHERE origin = 'c' ORDER BY name)",
        )
    };
    let split = |s: Option<String>| {
        s.unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    (
        split(db.scalar_text(columns_sql).await),
        split(db.scalar_text(indexes_sql).await),
    )
}

async fn g26_revert_restores_the_gem_schema_and_keeps_the_data(db: TestDb) {
    create_gem_08_table(&db).await;
    let before = columns_and_indexes(&db).await;
    let options = MigrateOptions {
        default_crm_name: Some("hubspot".into()),
    };
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

/// The index columns of `idx_crm_sync_on_resource`, in order.
async fn gem_resource_index_columns(db: &TestDb) -> Option<String> {
    let sql = if db.is_postgres() {
        "SELECT string_agg(a.attname::text, ',' ORDER BY k.n) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace s ON s.oid = c.relnamespace AND s.nspname = current_schema() \
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE c.relname = 'idx_crm_sync_on_resource'"
    } else {
        "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info('idx_crm_sync_on_resource') ORDER BY seqno)"
    };
    db.scalar_text(sql).await
}

/// G-26 on a database the gem's 0.9 upgrade guide migrated: its
/// `idx_crm_sync_on_resource` is `(resource_type, resource_id, crm_name)`,
/// already fit for several CRMs, so `migrate` keeps it and `check` does
/// not call it obsolete; `revert` leaves it as it was (not the pre-0.9
/// two-column index).
async fn g26_a_gem_09_resource_index_is_kept_and_survives_a_revert(db: TestDb) {
    create_gem_08_table(&db).await;
    // One script, so one connection: the index dropped and created again
    // under its name on two pooled SQLite connections was once refused as
    // existing (the second connection's schema not yet reloaded).
    db.exec(
        "DROP INDEX idx_crm_sync_on_resource; \
         ALTER TABLE crm_synchronisations ADD COLUMN crm_name varchar; \
         UPDATE crm_synchronisations SET crm_name = 'hubspot'; \
         CREATE UNIQUE INDEX idx_crm_sync_on_resource ON crm_synchronisations (resource_type, resource_id, crm_name)",
    )
    .await;
    let report = schema::check(&db.store).await.unwrap();
    assert!(
        !report.problems.contains(&SchemaProblem::ObsoleteIndex {
            index: "idx_crm_sync_on_resource"
        }),
        "{report}"
    );
    etlify::migrate(&db.store, &MigrateOptions::default())
        .await
        .unwrap();
    assert!(schema::check(&db.store).await.unwrap().is_ok());
    let three = Some("resource_type,resource_id,crm_name".to_owned());
    assert_eq!(gem_resource_index_columns(&db).await, three, "kept");
    etlify::revert_migration(&db.store).await.unwrap();
    assert_eq!(
        gem_resource_index_columns(&db).await,
        three,
        "as the gem had it"
    );
}

async fn g26_revert_of_a_fresh_install_drops_its_tables(db: TestDb) {
    db.migrate().await;
    etlify::revert_migration(&db.store).await.unwrap();
    let report = schema::check(&db.store).await.unwrap();
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "crm_synchronisations"
    }));
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "etlify_pending_syncs"
    }));
    db.migrate().await;
    assert!(
        schema::check(&db.store).await.unwrap().is_ok(),
        "and it can be migrated again"
    );
}

async fn g26_revert_is_refused_when_rows_no_longer_fit_the_gems_indexes(db: TestDb) {
    create_gem_08_table(&db).await;
    let options = MigrateOptions {
        default_crm_name: Some("hubspot".into()),
    };
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
async fn migrate_drops_the_indexes_on_last_synced_at_of_earlier_versions(db: TestDb) {
    db.migrate().await;
    db.exec(
        "CREATE INDEX idx_etlify_sync_last_synced_at ON crm_synchronisations (crm_name, resource_type, last_synced_at); \
         INSERT INTO etlify_schema_migrations (step) VALUES ('create_index:idx_etlify_sync_last_synced_at'); \
         CREATE INDEX idx_etlify_sync_never_stamped ON crm_synchronisations (crm_name, resource_type, resource_id) WHERE last_synced_at IS NULL; \
         INSERT INTO etlify_schema_migrations (step) VALUES ('create_index:idx_etlify_sync_never_stamped')",
    )
    .await;
    let report = schema::check(&db.store).await.unwrap();
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
    assert!(schema::check(&db.store).await.unwrap().is_ok());
    let steps = "SELECT COUNT(*) FROM etlify_schema_migrations";
    let recorded = db.scalar_i64(steps).await;
    db.migrate().await;
    assert_eq!(db.scalar_i64(steps).await, recorded, "idempotent");

    etlify::revert_migration(&db.store).await.unwrap();
    let report = schema::check(&db.store).await.unwrap();
    assert!(report.problems.contains(&SchemaProblem::MissingTable {
        table: "crm_synchronisations"
    }));
}

/// The storage parameters of the sync table (PostgreSQL's `reloptions`;
/// SQLite has none).
async fn sync_table_options(db: &TestDb) -> Option<String> {
    if !db.is_postgres() {
        return None;
    }
    db.scalar_text(
        "SELECT array_to_string(reloptions, ',') FROM pg_class \
         WHERE relname = 'crm_synchronisations' AND relnamespace = current_schema()::regnamespace",
    )
    .await
}

/// On PostgreSQL the sync table's pages are filled to 85%, so that a
/// sync's update of a row fits on its own page as a heap-only update; a
/// table whose owner chose a fill factor keeps it, and a revert gives the
/// gem's table back without one. SQLite has no fill factor.
async fn migrate_leaves_room_for_in_place_updates_in_the_sync_table(db: TestDb) {
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
    let options = MigrateOptions {
        default_crm_name: Some("hubspot".into()),
    };
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
async fn introspection_reads_declared_foreign_keys(db: TestDb) {
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

crate::backend_tests!(
    introspection_reads_declared_foreign_keys,
    g26_revert_restores_the_gem_schema_and_keeps_the_data,
    g26_revert_of_a_fresh_install_drops_its_tables,
    g26_revert_is_refused_when_rows_no_longer_fit_the_gems_indexes,
    x6_rows_are_unique_per_crm_and_resource_and_crm_ids_per_crm_and_type,
    check_reports_missing_tables_and_the_command_that_fixes_them,
    g26_migrate_takes_over_a_pre_09_gem_table,
    g26_a_gem_09_resource_index_is_kept_and_survives_a_revert,
    migrate_drops_the_indexes_on_last_synced_at_of_earlier_versions,
    migrate_leaves_room_for_in_place_updates_in_the_sync_table,
);

/// One of the sync table's counters in PostgreSQL's statistics, once it
/// reaches `at_least` (they show a commit within about a second).
async fn sync_table_counter_reaching(db: &TestDb, counter: &str, at_least: i64) -> i64 {
    let sql = format!(
        "SELECT {counter} FROM pg_stat_user_tables \
         WHERE schemaname = current_schema() AND relname = 'crm_synchronisations'"
    );
    db.count_reaching(&sql, at_least).await
}

/// A sync of records changed since the last one updates their sync rows in
/// place on PostgreSQL (heap-only updates, which write no index entry):
/// no index reads `last_synced_at`, which every sync rewrites, and the
/// table's pages keep room for the new row versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_sync_updates_sync_rows_without_index_writes() {
    let db = TestDb::postgres().await.with_app_schema().await;
    db.exec(
        "INSERT INTO users (email, full_name, created_at, updated_at) \
         SELECT 'u' || i || '@x.io', 'User ' || i, now(), now() FROM generate_series(1, 1000) AS i",
    )
    .await;
    let etlify = crate::support::engine(
        &db,
        vec![etlify::Crm::new(
            "hubspot",
            std::sync::Arc::new(etlify::adapters::NullAdapter::new()),
        )],
        vec![crate::support::user_model(&["hubspot"])],
    )
    .await;
    let options = etlify::BatchSyncOptions::new();
    assert_eq!(etlify.batch_sync(&options).await.unwrap().total, 1000);
    // The first sync's counts, once they show.
    assert_eq!(
        sync_table_counter_reaching(&db, "n_tup_ins", 1000).await,
        1000
    );
    let updates_before = sync_table_counter_reaching(&db, "n_tup_upd", 0).await;
    let hot_before = sync_table_counter_reaching(&db, "n_tup_hot_upd", 0).await;

    // One user in a hundred, so each sync row changed is on a page of its own.
    db.exec(
        "UPDATE users SET full_name = 'Renamed', updated_at = clock_timestamp() AT TIME ZONE 'UTC' \
         WHERE id % 100 = 0",
    )
    .await;
    let stats = etlify.batch_sync(&options).await.unwrap();
    assert_eq!((stats.total, stats.outcomes.synced), (10, 10), "{stats:?}");
    let updates = sync_table_counter_reaching(&db, "n_tup_upd", updates_before + 10).await;
    assert_eq!(updates - updates_before, 10);
    // Counted in the same flush as the updates.
    let hot = sync_table_counter_reaching(&db, "n_tup_hot_upd", 0).await;
    assert_eq!(hot - hot_before, 10, "every update heap-only");
}
