//! `etlify init`: writes a commented starter configuration, never over an
//! existing file; with `--from-database`, a model section per application
//! table of the database (as `new-model` scaffolds one).

use std::path::Path;

use etlify::{Store, StoreOptions};

use crate::error::{CliError, Completed};
use crate::{output, scaffold};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The database URL to put in it.
    #[arg(long, default_value = "sqlite://db/development.sqlite3")]
    database: String,
    /// Scaffold a model section for each table of the database.
    #[arg(long)]
    from_database: bool,
}

const STARTER: &str = r#"# etlify configuration: see docs/CLI.md and docs/MODELS.md.
[database]
url = {url}                # or "${DATABASE_URL}"; postgres://… works too

[crms.hubspot]
adapter = "hubspot"             # hubspot | airtable | null
token = "${HUBSPOT_TOKEN}"      # secrets only from the environment
api_version = "2026-09"         # HubSpot's dated API; "v3" for the legacy paths
rate_limit = { max_requests = 100, period = "10s" }
# enabled = false               # a disabled CRM reads, sends and writes nothing

# One section per model (a table of your application), and one binding per CRM:
# [models.User]
# table = "users"
#
# [models.User.crms.hubspot]
# object_type = "contacts"
# id_property = "email"
# payload = """
#   SELECT users.id, users.email, users.full_name, companies.name AS company
#   FROM users LEFT JOIN companies ON companies.id = users.company_id
# """
# dependencies = [{ belongs_to = "companies", foreign_key = "company_id" }]
"#;

/// Writes the starter configuration at `path` (the `--config` file).
pub(crate) async fn run(path: &Path, args: Args) -> Result<Completed, CliError> {
    if path.exists() {
        return Err(CliError::config(format!(
            "{} already exists; edit it, or pass --config for another file",
            path.display()
        )));
    }
    let url = toml::Value::String(args.database.clone()).to_string();
    let mut text = STARTER.replacen("{url}", &url, 1);
    let mut tables = Vec::new();
    if args.from_database {
        // The database is named by the flag, not by a file.
        let engine_error = |e| CliError::engine("--database", e);
        let options = StoreOptions::new().must_exist(true);
        let store = Store::connect_with(&args.database, &options)
            .await
            .map_err(engine_error)?;
        tables = store.application_tables().await.map_err(engine_error)?;
        text.push_str(
            "\n# Scaffolded from the database's tables: keep the models to sync, set each\n\
             # object_type and id_property, trim the payloads, then run `etlify check`.\n",
        );
        for table in &tables {
            text.push('\n');
            text.push_str(&scaffold::new_model(&store, table, "hubspot", None).await?);
        }
    }
    std::fs::write(path, text)
        .map_err(|e| CliError::run(format!("cannot write {}: {e}", path.display())))?;
    if args.from_database {
        println!(
            "Wrote {} with {} ({}). Next: edit them, then `etlify migrate` and `etlify check`.",
            path.display(),
            output::counted(tables.len() as u64, "model section", "model sections"),
            tables.join(", ")
        );
    } else {
        println!(
            "Wrote {}. Next: declare your models (or `etlify new-model TABLE`), then `etlify migrate` and `etlify check`.",
            path.display()
        );
    }
    Ok(Completed::Ok)
}
