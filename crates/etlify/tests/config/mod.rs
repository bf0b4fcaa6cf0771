//! CRM registry and configuration validation (G-1, G-2, X-14; docs/BEHAVIOUR.md, "Bad input").

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::NullAdapter;
use etlify::FIX_COMMAND;
use etlify::{
    Binding, Config, Crm, CrmRegistry, Dependency, Error, ErrorKind, MigrateOptions, Model,
    RateLimit, Remedy, SqlPayload, SyncIf,
};

use crate::support::{builder, engine, user_model, TestDb};

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
    builder(db.store.clone(), crms, models)
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

// The database tests, compiled once per backend: `config::sqlite::…` and
// `config::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
