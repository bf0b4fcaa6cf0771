//! Changes within seconds (issue 28, item 5), run as a user would:
//! `etlify migrate --triggers` on PostgreSQL installs the change triggers,
//! `--triggers --dry-run` says which tables have one, and `--triggers
//! --revert` leaves no trigger and no function (`pg_trigger`, `pg_proc`).
//! Needs `ETLIFY_TEST_POSTGRES_URL` (scripts/test.sh starts a throwaway
//! server): without it the test fails, never skips.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn etlify(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_etlify"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("ETLIFY_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Triggers named `etlify_changes` and functions `etlify_notify_change`
/// in `schema`.
fn triggers_and_functions(server: &str, schema: &str) -> (i64, i64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = etlify::Store::connect(server).await.unwrap();
        let pool = store.postgres_pool().unwrap();
        let triggers: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND t.tgname = 'etlify_changes'",
        )
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap();
        let functions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = $1 AND p.proname = 'etlify_notify_change'",
        )
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap();
        (triggers, functions)
    })
}

#[test]
fn fresh_cli_migrate_triggers_round_trip_on_postgres() {
    let server = std::env::var("ETLIFY_TEST_POSTGRES_URL").expect(
        "ETLIFY_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, \
         which starts a throwaway PostgreSQL",
    );
    let schema = format!("etlify_cli_fresh_{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = etlify::Store::connect(&server).await.unwrap();
        let pool = store.postgres_pool().unwrap();
        for sql in [
            format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            format!("CREATE SCHEMA \"{schema}\""),
            format!(
                "CREATE TABLE \"{schema}\".companies (id bigserial PRIMARY KEY, name varchar, \
                 updated_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"
            ),
            format!(
                "CREATE TABLE \"{schema}\".users (id bigserial PRIMARY KEY, email varchar, company_id bigint, \
                 created_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), \
                 updated_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let separator = if server.contains('?') { '&' } else { '?' };
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{server}{separator}options[search_path]={schema}\"\n\
             [crms.hubspot]\nadapter = \"null\"\n\
             [models.User]\ntable = \"users\"\n\
             [models.User.crms.hubspot]\nobject_type = \"contacts\"\nid_property = \"email\"\n\
             payload = \"SELECT id, email FROM users\"\n\
             dependencies = [{{ belongs_to = \"companies\", foreign_key = \"company_id\" }}]\n"
        ),
    )
    .unwrap();

    let installed = etlify(&config, &["migrate", "--triggers", "--json"]);
    let json: Value = serde_json::from_str(&stdout_of(&installed)).unwrap();
    assert_eq!(
        json["triggers"]["installed"],
        serde_json::json!([format!("{schema}.companies"), format!("{schema}.users")]),
        "{json}"
    );
    assert_eq!(triggers_and_functions(&server, &schema), (2, 1));

    let again = stdout_of(&etlify(&config, &["migrate", "--triggers"]));
    assert!(!again.contains("installed on"), "nothing added: {again}");
    let dry_run = stdout_of(&etlify(&config, &["migrate", "--triggers", "--dry-run"]));
    assert!(
        dry_run.contains(&format!(
            "-- Change triggers installed on: {schema}.companies, {schema}.users."
        )) && dry_run.contains("nothing to run"),
        "{dry_run}"
    );

    let removed = stdout_of(&etlify(&config, &["migrate", "--triggers", "--revert"]));
    assert!(
        removed.contains("Removed the change triggers of 2 tables"),
        "{removed}"
    );
    assert_eq!(triggers_and_functions(&server, &schema), (0, 0));
    let dry_run = stdout_of(&etlify(&config, &["migrate", "--triggers", "--dry-run"]));
    assert!(
        dry_run.contains("-- Change triggers: none installed.")
            && dry_run.contains("CREATE TRIGGER \"etlify_changes\""),
        "{dry_run}"
    );
    runtime.block_on(async {
        let store = etlify::Store::connect(&server).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();
    });
}
