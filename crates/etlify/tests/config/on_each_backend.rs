//! The tests of `config` that run on each backend. This file is compiled
//! twice, as `config::sqlite` and `config::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x14_model_bound_to_an_unregistered_crm_is_a_config_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let err = build_error(
        &db,
        vec![Crm::new("hubspot", null())],
        vec![user_model(&["hubspot", "salesforce"])],
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = config_error(err);
    assert_eq!(err.location(), "models.User.crms.salesforce");
    assert!(err.to_string().contains("salesforce"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g2_engine_crm_enabled_answers_true_for_unknown_names() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", null()).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert!(!etlify.crm_enabled("hubspot"));
    assert!(etlify.crm_enabled("unknown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_query_without_the_key_column_is_a_config_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email").payload(SqlPayload::new("SELECT email FROM users")),
    );
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.location(), "models.User.crms.hubspot");
    assert_eq!(err.field(), "payload");
    assert!(err.expected().contains("key column `id`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_table_and_column_are_config_errors() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let err = config_error(
        build_error(
            &db,
            vec![Crm::new("hubspot", null())],
            vec![Model::new("Ghost", "ghosts")],
        )
        .await,
    );
    assert_eq!(err.field(), "table");
    assert!(err.expected().contains("ghosts"), "{err}");

    let model = Model::new("User", "users").sti("kind", "Admin");
    let err = config_error(build_error(&db, vec![], vec![model]).await);
    assert_eq!(err.field(), "sti.column");
    assert!(err.expected().contains("`kind`"), "{err}");
}

/// A name one typo away from a real table or column gets a "did you mean"
/// with the real one; a name like nothing in the database gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_a_mistyped_table_or_column_suggests_the_nearest_name() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let err = config_error(build_error(&db, vec![], vec![Model::new("User", "user")]).await);
    assert_eq!((err.field(), err.location()), ("table", "models.User"));
    assert!(err.expected().contains("did you mean `users`?"), "{err}");

    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .dependency(Dependency::belongs_to("companies", "companyid")),
    );
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.field(), "foreign_key");
    assert!(
        err.expected().contains("did you mean `company_id`?"),
        "{err}"
    );

    let err = config_error(build_error(&db, vec![], vec![Model::new("Ghost", "ghosts")]).await);
    assert!(!err.expected().contains("did you mean"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_models_are_a_config_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let err = config_error(
        build_error(
            &db,
            vec![Crm::new("hubspot", null())],
            vec![user_model(&["hubspot"]), user_model(&["hubspot"])],
        )
        .await,
    );
    assert_eq!(err.location(), "models.User");
    assert!(err.expected().contains("declared twice"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_without_payload_is_a_config_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let model = Model::new("User", "users").bind("hubspot", Binding::new("contacts", "email"));
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.field(), "payload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependency_on_a_missing_column_is_a_config_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .dependency(etlify::Dependency::has_many("companies", "owner_id")),
    );
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.location(), "models.User.crms.hubspot.dependencies[0]");
    assert!(err.expected().contains("`owner_id`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_column_resolves_updated_at_then_created_at_then_none() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.exec("CREATE TABLE notes (id integer PRIMARY KEY, created_at varchar)")
        .await;
    db.exec("CREATE TABLE tags (id integer PRIMARY KEY, name varchar)")
        .await;
    let etlify = engine(
        &db,
        vec![],
        vec![
            Model::new("User", "users"),
            Model::new("Note", "notes"),
            Model::new("Tag", "tags"),
        ],
    )
    .await;
    assert_eq!(etlify.timestamp_column("User"), Some("updated_at"));
    assert_eq!(etlify.timestamp_column("Note"), Some("created_at"));
    assert_eq!(etlify.timestamp_column("Tag"), None);
}

/// Missing sync-state tables are reported by `build()`, with the command
/// that fixes them, instead of a raw "no such table" at every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_missing_sync_tables_are_reported_by_build_with_the_fix() {
    let db = TestDb::new(BACKEND).await;
    db.exec("CREATE TABLE users (id integer PRIMARY KEY, email varchar, updated_at varchar)")
        .await;
    let err = build_error(
        &db,
        vec![Crm::new("hubspot", null())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Schema);
    let message = err.to_string();
    assert!(message.contains("crm_synchronisations"), "{message}");
    assert_eq!(
        err.remedy(),
        Some(Remedy::Migrate),
        "the fix is data for the caller to render"
    );
    assert!(
        !message.contains("etlify migrate"),
        "no command-line advice in the library's message: {message}"
    );
}

/// The Rust half of the command the schema report prints is this very
/// call, so it compiles and runs as shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_the_fix_commands_rust_snippet_is_a_call_that_compiles() {
    let db = TestDb::new(BACKEND).await;
    let store = db.store.clone();
    etlify::migrate(&store, &MigrateOptions::default())
        .await
        .unwrap();
    assert!(
        FIX_COMMAND.contains("etlify::migrate(&store, &MigrateOptions::default()).await"),
        "{FIX_COMMAND}"
    );
}

/// Bad inputs the database can tell (docs/BEHAVIOUR.md, "Bad input"), each refused by `build()`
/// naming the key and what is expected — before: the first run worked and
/// every later run failed, or a raw database error named neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_bad_dependencies_and_conditions_are_refused_naming_the_field() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let binding = || {
        Binding::new("contacts", "email").payload(SqlPayload::new("SELECT id, email FROM users"))
    };
    let cases: Vec<(Binding, &str, &str)> = vec![
        (
            binding().dependency(Dependency::belongs_to("companies", "no_such_company_id")),
            "foreign_key",
            "no_such_company_id",
        ),
        (
            binding().dependency(Dependency::through(vec![])),
            "through",
            "at least one",
        ),
        (
            binding().stale_scope("users.no_such_column = 1"),
            "stale_scope",
            "valid SQL",
        ),
        (
            binding().sync_if(SyncIf::Sql("email IS NOT".into())),
            "sync_if",
            "valid SQL",
        ),
        (
            Binding::new("contacts", "email")
                .payload(SqlPayload::new("SELECT id, emial FROM users")),
            "payload",
            "must be a query that runs on the database",
        ),
    ];
    for (binding, field, says) in cases {
        let model = Model::new("User", "users").bind("hubspot", binding);
        let err =
            config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
        assert!(
            err.location().starts_with("models.User.crms.hubspot"),
            "{err}"
        );
        assert_eq!(err.field(), field, "{err}");
        assert!(err.to_string().contains(says), "{err}");
    }
}

/// The id property must be one of the payload's properties (the adapter
/// matches records by its value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_an_id_property_the_payload_does_not_return_is_refused() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "mail").payload(SqlPayload::new("SELECT id, email FROM users")),
    );
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.location(), "models.User.crms.hubspot");
    assert_eq!(err.field(), "id_property");
    assert!(err.to_string().contains("it returns: email"), "{err}");
}

/// A binding whose object type is empty, `.` or `..` is refused by
/// `build()`, naming the field (before: 39 requests to a wrong endpoint and
/// every record's error count raised, every run). (An empty id property is
/// allowed: records are then created without a search.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_empty_or_dot_object_types_are_refused() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for (object_type, id_property, field) in [
        ("", "email", "object_type"),
        (".", "email", "object_type"),
        ("..", "email", "object_type"),
    ] {
        let model = Model::new("User", "users").bind(
            "hubspot",
            Binding::new(object_type, id_property)
                .payload(SqlPayload::new("SELECT id, email FROM users")),
        );
        let err =
            config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
        assert_eq!(err.location(), "models.User.crms.hubspot", "{err}");
        assert_eq!(err.field(), field, "{err}");
    }
}

/// An empty external-id property is refused, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_an_empty_external_id_is_refused() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .external_id("")
            .payload(SqlPayload::new("SELECT id, email FROM users")),
    );
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.field(), "external_id", "{err}");
}

/// Issue 26 (6): a payload expression of a type with no JSON mapping (a
/// blob) is refused by `build()` naming the column, also where the
/// database declares no type for it (SQLite's `x'DEADBEEF'`): the check
/// decodes the table's first rows, not only the declared types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_payload_column_of_an_unsupported_type_is_refused_before_anything_runs() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.insert_user("a@x.io", None).await;
    let blob = if db.is_postgres() {
        "'\\xDEADBEEF'::bytea"
    } else {
        "x'DEADBEEF'"
    };
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email").payload(SqlPayload::new(format!(
            "SELECT id, email, {blob} AS avatar FROM users"
        ))),
    );
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.field(), "payload", "{err}");
    assert!(err.expected().contains("`avatar`"), "{err}");
}

/// Inserts `n` users whose `updated_at` is `timestamp` (an SQL expression
/// of the row number `i`).
async fn users_stamped(db: &TestDb, n: usize, timestamp: impl Fn(usize) -> String) {
    for i in 1..=n {
        let ts = timestamp(i);
        db.exec(&format!(
            "INSERT INTO users (email, full_name, created_at, updated_at) \
             VALUES ('u{i}@example.com', 'U {i}', {ts}, {ts})"
        ))
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_check_warns_of_whole_second_timestamps_below_a_one_second_commit_margin() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    // A writer storing whole seconds (SQLite's CURRENT_TIMESTAMP, MySQL's
    // DATETIME without fraction): every recent value ends in .000000.
    users_stamped(&db, 12, |i| format!("'2026-12-07 10:00:{i:02}'")).await;
    let crms = || vec![Crm::new("hubspot", null())];

    let etlify = engine(&db, crms(), vec![user_model(&["hubspot"])]).await;
    let warnings = etlify.timestamp_warnings().await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    assert_eq!(warning.model, "User");
    assert_eq!(warning.table, "users");
    assert_eq!(warning.column, "updated_at");
    assert_eq!(warning.sampled, 12);
    assert_eq!(
        warning.commit_margin,
        db.store.default_commit_margin(),
        "the margin in force: the database's default (200 ms on MySQL)"
    );
    assert!(warning.commit_margin < Duration::from_secs(1));

    // A margin of a second covers them: no warning.
    let covered = builder(db.store.clone(), crms(), vec![user_model(&["hubspot"])])
        .config(Config::default().commit_margin(Duration::from_secs(1)))
        .build()
        .await
        .unwrap();
    assert_eq!(covered.timestamp_warnings().await.unwrap(), vec![]);

    // One recent value with a fraction of a second: the writer is precise.
    users_stamped(&db, 1, |_| "'2026-12-07 10:01:00.250000'".to_owned()).await;
    assert_eq!(etlify.timestamp_warnings().await.unwrap(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_check_does_not_warn_of_precise_or_too_few_timestamps() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    // Four whole-second rows are too few to tell a writer's habit.
    users_stamped(&db, 4, |i| format!("'2026-12-07 10:00:{i:02}'")).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", null())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert_eq!(etlify.timestamp_warnings().await.unwrap(), vec![]);
    // Microsecond timestamps (Rails): no warning however many.
    users_stamped(&db, 20, |i| {
        format!("'2026-12-07 11:00:{i:02}.{:06}'", i * 37)
    })
    .await;
    assert_eq!(etlify.timestamp_warnings().await.unwrap(), vec![]);
}
