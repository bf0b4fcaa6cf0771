//! CRM registry and configuration validation (G-1, G-2, X-14, SPEC §7).

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::NullAdapter;
use etlify::store::schema::FIX_COMMAND;
use etlify::{
    Binding, Crm, CrmRegistry, Dependency, Error, ErrorKind, Etlify, MigrateOptions, Model,
    RateLimit, Remedy, SqlPayload, SyncIf,
};

use crate::support::{engine, user_model, TestDb};

fn null() -> Arc<NullAdapter> {
    Arc::new(NullAdapter::new())
}

#[test]
fn g1_crm_is_enabled_by_default_and_can_be_disabled() {
    assert!(Crm::new("hubspot", null()).get_enabled());
    assert!(!Crm::new("hubspot", null()).enabled(false).get_enabled());
}

#[test]
fn g2_crm_enabled_answers_true_for_unknown_names() {
    let mut registry = CrmRegistry::default();
    registry
        .register(Crm::new("hubspot", null()).enabled(false))
        .unwrap();
    assert!(!registry.enabled("hubspot"));
    assert!(
        registry.enabled("salesforce"),
        "unknown names are enabled on purpose"
    );
}

#[test]
fn registering_a_name_again_replaces_the_earlier_crm() {
    let mut registry = CrmRegistry::default();
    registry.register(Crm::new("hubspot", null())).unwrap();
    registry.register(Crm::new("airtable", null())).unwrap();
    registry
        .register(Crm::new("hubspot", null()).enabled(false))
        .unwrap();
    assert_eq!(
        registry.names().collect::<Vec<_>>(),
        ["hubspot", "airtable"]
    );
    assert!(!registry.enabled("hubspot"));
}

#[test]
fn g8_rate_limit_must_be_positive() {
    assert_eq!(
        RateLimit::new(0, Duration::from_secs(10))
            .unwrap_err()
            .field(),
        "max_requests"
    );
    assert_eq!(
        RateLimit::new(100, Duration::ZERO).unwrap_err().field(),
        "period"
    );
}

#[test]
fn g8_registering_a_crm_gives_it_a_limiter_of_its_rate_limit() {
    let mut registry = CrmRegistry::default();
    registry
        .register(
            Crm::new("hubspot", null())
                .rate_limit(RateLimit::new(100, Duration::from_secs(10)).unwrap()),
        )
        .unwrap();
    let crm = registry.get("hubspot").unwrap();
    let limiter = crm.limits().rate_limiter().unwrap();
    assert_eq!(limiter.limit().get_max_requests(), 100);
    assert!(
        Crm::new("unregistered", null())
            .rate_limit(RateLimit::new(1, Duration::from_secs(1)).unwrap())
            .limits()
            .rate_limiter()
            .is_none(),
        "a limiter belongs to a registration, not to the declaration"
    );
}

#[test]
fn zero_max_sync_errors_is_a_config_error_naming_the_field() {
    let mut registry = CrmRegistry::default();
    let err = registry
        .register(Crm::new("hubspot", null()).max_sync_errors(0))
        .unwrap_err();
    assert_eq!(err.location(), "crms.hubspot");
    assert_eq!(err.field(), "max_sync_errors");
}

#[test]
fn crm_debug_does_not_show_the_adapter_internals() {
    let debug = format!("{:?}", Crm::new("hubspot", null()));
    assert!(debug.contains("adapter: \"null\""), "{debug}");
}

async fn build_error(db: &TestDb, crms: Vec<Crm>, models: Vec<Model>) -> Error {
    let mut builder = Etlify::builder(db.store.clone());
    for crm in crms {
        builder = builder.crm(crm);
    }
    for model in models {
        builder = builder.model(model);
    }
    builder
        .build()
        .await
        .expect_err("configuration must be rejected")
}

fn config_error(error: Error) -> etlify::ConfigError {
    match error {
        Error::Config(e) => e,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

async fn x14_model_bound_to_an_unregistered_crm_is_a_config_error(db: TestDb) {
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

async fn g2_engine_crm_enabled_answers_true_for_unknown_names(db: TestDb) {
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

async fn payload_query_without_the_key_column_is_a_config_error(db: TestDb) {
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

async fn missing_table_and_column_are_config_errors(db: TestDb) {
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
async fn config_a_mistyped_table_or_column_suggests_the_nearest_name(db: TestDb) {
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

async fn duplicate_models_are_a_config_error(db: TestDb) {
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

async fn binding_without_payload_is_a_config_error(db: TestDb) {
    let db = db.with_app_schema().await;
    let model = Model::new("User", "users").bind("hubspot", Binding::new("contacts", "email"));
    let err = config_error(build_error(&db, vec![Crm::new("hubspot", null())], vec![model]).await);
    assert_eq!(err.field(), "payload");
}

async fn dependency_on_a_missing_column_is_a_config_error(db: TestDb) {
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

async fn timestamp_column_resolves_updated_at_then_created_at_then_none(db: TestDb) {
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

/// A wrong PostgreSQL URL fails at once, saying what went wrong and where,
/// without its password (before: 30 s, then "pool timed out").
#[tokio::test]
async fn config_a_wrong_postgres_url_fails_at_once_naming_host_and_port() {
    let error = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        etlify::Store::connect("postgres://app:hunter2@127.0.0.1:1/app"),
    )
    .await
    .expect("fails without waiting for the pool")
    .unwrap_err();
    let message = error.to_string();
    assert_eq!(error.kind(), ErrorKind::Config, "{message}");
    assert!(message.contains("connection refused"), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

/// Missing sync-state tables are reported by `build()`, with the command
/// that fixes them, instead of a raw "no such table" at every run.
async fn config_missing_sync_tables_are_reported_by_build_with_the_fix(db: TestDb) {
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
async fn errors_the_fix_commands_rust_snippet_is_a_call_that_compiles(db: TestDb) {
    let store = db.store.clone();
    etlify::migrate(&store, &MigrateOptions::default())
        .await
        .unwrap();
    assert!(
        FIX_COMMAND.contains("etlify::migrate(&store, &MigrateOptions::default()).await"),
        "{FIX_COMMAND}"
    );
}

/// Bad inputs the database can tell (SPEC §7), each refused by `build()`
/// naming the key and what is expected — before: the first run worked and
/// every later run failed, or a raw database error named neither.
async fn config_bad_dependencies_and_conditions_are_refused_naming_the_field(db: TestDb) {
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
async fn config_an_id_property_the_payload_does_not_return_is_refused(db: TestDb) {
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
async fn config_empty_or_dot_object_types_are_refused(db: TestDb) {
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
async fn config_an_empty_external_id_is_refused(db: TestDb) {
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

#[test]
fn config_an_empty_token_is_refused() {
    for token in ["", "   "] {
        let err =
            etlify::adapters::HubSpotAdapter::new(etlify::adapters::HubSpotConfig::new(token))
                .unwrap_err();
        assert_eq!(err.field(), "token", "{err}");
        let err = etlify::adapters::AirtableAdapter::new(etlify::adapters::AirtableConfig::new(
            token,
            "appSandbox0000001",
        ))
        .unwrap_err();
        assert_eq!(err.field(), "token", "{err}");
    }
}

crate::backend_tests!(
    config_an_id_property_the_payload_does_not_return_is_refused,
    config_bad_dependencies_and_conditions_are_refused_naming_the_field,
    config_missing_sync_tables_are_reported_by_build_with_the_fix,
    errors_the_fix_commands_rust_snippet_is_a_call_that_compiles,
    config_empty_or_dot_object_types_are_refused,
    config_an_empty_external_id_is_refused,
    x14_model_bound_to_an_unregistered_crm_is_a_config_error,
    g2_engine_crm_enabled_answers_true_for_unknown_names,
    payload_query_without_the_key_column_is_a_config_error,
    missing_table_and_column_are_config_errors,
    config_a_mistyped_table_or_column_suggests_the_nearest_name,
    duplicate_models_are_a_config_error,
    binding_without_payload_is_a_config_error,
    dependency_on_a_missing_column_is_a_config_error,
    timestamp_column_resolves_updated_at_then_created_at_then_none,
);
