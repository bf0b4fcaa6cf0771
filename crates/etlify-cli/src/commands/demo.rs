//! `etlify demo`: the whole job on the embedded default, with nothing
//! installed but the binary — a SQLite database with sample companies and
//! users in a folder it names, the local HubSpot sandbox in this process
//! (its objects kept in the same folder), a configuration file written
//! beside them, then: migrate, a first sync (companies, then users, each
//! user linked to its company by a HubSpot association), a second one that
//! sends nothing, a company renamed and only it and its users sent again.
//! `--crm webhook` sends them to the sandbox's webhook receiver instead
//! (each user's link to its company as a field holding the company's id);
//! `--crm brevo` sends the users to the sandbox's Brevo contacts (their
//! company's name as the `COMPANY` attribute: Brevo has no companies).
//! `--crm intercom` to the sandbox's Intercom workspace (companies by
//! `company_id`, users as contacts by `external_id`, each attached to its
//! company).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use etlify::{BatchSyncOptions, Etlify, MigrateOptions, RunStats};
use etlify_sandbox::DEFAULT_INTERCOM_TOKEN;
use etlify_sandbox::{
    BrevoAttributeKind, RunningSandbox, Sandbox, SandboxConfig, DEFAULT_BREVO_API_KEY,
    DEFAULT_HUBSPOT_TOKEN, DEFAULT_SALESFORCE_CLIENT_ID, DEFAULT_SALESFORCE_CLIENT_SECRET,
    DEFAULT_WEBHOOK_SECRET,
};
use serde::Serialize;
use sqlx::AssertSqlSafe;

use crate::error::{CliError, CommandError, Completed};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The folder for the database, the sandbox's state and the configuration.
    #[arg(long, default_value = "etlify-demo")]
    dir: PathBuf,
    /// Sample users (when the database is created): 1000 by default, 100
    /// with `--crm brevo` (Brevo takes 10 contacts requests a second).
    #[arg(long)]
    users: Option<u64>,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
    /// The CRM the users go to: the sandbox's HubSpot, its webhook
    /// receiver (signed events),
    /// its Brevo contacts, its Intercom workspace, or its Salesforce org
    /// (Accounts and Contacts).
    #[arg(long, value_enum, default_value_t = DemoCrm::Hubspot)]
    crm: DemoCrm,
}

/// `demo --crm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DemoCrm {
    Hubspot,
    Webhook,
    Brevo,
    Intercom,
    Salesforce,
}

impl DemoCrm {
    /// The CRM's name in the configuration file.
    fn name(self) -> &'static str {
        match self {
            DemoCrm::Hubspot => "hubspot",
            DemoCrm::Webhook => "webhook",
            DemoCrm::Brevo => "brevo",
            DemoCrm::Intercom => "intercom",
            DemoCrm::Salesforce => "salesforce",
        }
    }

    /// The object types of companies and of users in this CRM.
    fn object_types(self) -> (&'static str, &'static str) {
        match self {
            DemoCrm::Salesforce => ("Account", "Contact"),
            _ => ("companies", "contacts"),
        }
    }

    /// Whether each user is linked to its company in the CRM (Salesforce's
    /// adapter makes no links: a contact carries its company's name).
    fn links_companies(self) -> bool {
        !matches!(self, DemoCrm::Brevo | DemoCrm::Salesforce)
    }

    /// Sample users when `--users` is not given: Brevo's are one request
    /// each, at 10 a second.
    fn default_users(self) -> u64 {
        match self {
            DemoCrm::Brevo => 100,
            _ => 1000,
        }
    }

    /// Whether companies are objects of the CRM (Brevo has none: a user's
    /// company is an attribute of the contact).
    fn has_companies(self) -> bool {
        self != DemoCrm::Brevo
    }

    /// What to change in the file to send to the real thing.
    fn in_the_file(self) -> &'static str {
        match self {
            DemoCrm::Hubspot => {
                "for a real HubSpot account remove base_url and use token = \"${HUBSPOT_TOKEN}\""
            }
            DemoCrm::Webhook => {
                "for your own service set url and signing_secret = \"${WEBHOOK_SIGNING_SECRET}\""
            }
            DemoCrm::Brevo => {
                "for a real Brevo account remove base_url and use api_key = \"${BREVO_API_KEY}\""
            }
            DemoCrm::Intercom => {
                "for a real Intercom workspace remove base_url and use token = \"${INTERCOM_TOKEN}\""
            }
            DemoCrm::Salesforce => {
                "for a real org set login_url to its My Domain URL and use client_id = \"${SALESFORCE_CLIENT_ID}\", client_secret = \"${SALESFORCE_CLIENT_SECRET}\""
            }
        }
    }

    /// What to change to send to the real thing.
    fn going_live(self) -> &'static str {
        match self {
            DemoCrm::Hubspot => {
                "To sync with your own HubSpot account: in the configuration, remove `base_url`, \
                 set `token = \"${HUBSPOT_TOKEN}\"` and export HUBSPOT_TOKEN (a private-app \
                 token), then run `etlify --config <file> sync`."
            }
            DemoCrm::Webhook => {
                "To send to your own service: in the configuration, set `url` to its endpoint and \
                 `signing_secret = \"${WEBHOOK_SIGNING_SECRET}\"`, export WEBHOOK_SIGNING_SECRET, \
                 and verify each request's Etlify-Signature there (docs/ADAPTERS.md, \"Webhook\")."
            }
            DemoCrm::Brevo => {
                "To sync with your own Brevo account: create the contact attribute COMPANY (text) \
                 there, in the configuration remove `base_url`, set `api_key = \"${BREVO_API_KEY}\"` \
                 and export BREVO_API_KEY, then run `etlify --config <file> sync`."
            }
            DemoCrm::Intercom => {
                "To sync with your own Intercom workspace: in the configuration, remove `base_url`, \
                 set `token = \"${INTERCOM_TOKEN}\"` (and `region` when it is hosted in the EU or \
                 Australia), export INTERCOM_TOKEN (an app's access token), create the custom \
                 attribute `company` in the workspace, then run `etlify --config <file> sync`."
            }
            DemoCrm::Salesforce => {
                "To sync with your own Salesforce org: give Account and Contact a unique text \
                 external-id field Etlify_Id__c and create a connected app with the \
                 client-credentials flow; in the configuration set `login_url` to the org's My \
                 Domain URL, `client_id = \"${SALESFORCE_CLIENT_ID}\"` and `client_secret = \
                 \"${SALESFORCE_CLIENT_SECRET}\"`, export both, then run `etlify --config <file> sync`."
            }
        }
    }

    /// The configuration file's `[crms.…]` section for `sandbox`.
    fn section(self, sandbox: &RunningSandbox) -> String {
        match self {
            DemoCrm::Hubspot => format!(
                "[crms.hubspot]\nadapter = \"hubspot\"\napi_version = \"2026-09\"\n\
                 base_url = \"{}\"\ntoken = \"{DEFAULT_HUBSPOT_TOKEN}\"\n\
                 rate_limit = {{ max_requests = 100, period = \"10s\" }}\n",
                sandbox.hubspot_base_url()
            ),
            DemoCrm::Webhook => format!(
                "[crms.webhook]\nadapter = \"webhook\"\nurl = \"{}\"\n\
                 signing_secret = \"{DEFAULT_WEBHOOK_SECRET}\"\n\
                 rate_limit = {{ max_requests = 100, period = \"1s\" }}\n\n\
                 [crms.webhook.response]\nitems = \"/results\"\nid = \"/id\"\n\
                 status = \"/status\"\nerror = \"/error\"\n",
                sandbox.webhook_url()
            ),
            DemoCrm::Brevo => format!(
                "[crms.brevo]\nadapter = \"brevo\"\nbase_url = \"{}\"\n\
                 api_key = \"{DEFAULT_BREVO_API_KEY}\"\n\
                 rate_limit = {{ max_requests = 10, period = \"1s\" }}\n",
                sandbox.brevo_base_url()
            ),
            DemoCrm::Intercom => format!(
                "[crms.intercom]\nadapter = \"intercom\"\nbase_url = \"{}\"\n\
                 token = \"{DEFAULT_INTERCOM_TOKEN}\"\n\
                 rate_limit = {{ max_requests = 1666, period = \"10s\" }}\n",
                sandbox.intercom_base_url()
            ),
            // Salesforce has no per-window limit (its daily allocation is
            // read from its answers): 10 requests a second of 200 records.
            DemoCrm::Salesforce => format!(
                "[crms.salesforce]\nadapter = \"salesforce\"\nlogin_url = \"{}\"\n\
                 client_id = \"{DEFAULT_SALESFORCE_CLIENT_ID}\"\n\
                 client_secret = \"{DEFAULT_SALESFORCE_CLIENT_SECRET}\"\n\
                 rate_limit = {{ max_requests = 10, period = \"1s\" }}\n",
                sandbox.salesforce_login_url()
            ),
        }
    }

    /// The bindings of `Company` and `User` to this CRM: the properties
    /// matching them and their payloads.
    fn bindings(self) -> (&'static str, &'static str) {
        match self {
            DemoCrm::Intercom => (
                r#"id_property = "company_id"
payload = "SELECT id, name, 'company-' || id AS company_id FROM companies""#,
                r#"id_property = "external_id"
payload = """
  SELECT users.id, 'user-' || users.id AS external_id, users.email, users.full_name AS name,
    companies.name AS company
  FROM users LEFT JOIN companies ON companies.id = users.company_id
""""#,
            ),
            // Accounts and Contacts by the external-id field; a contact's
            // company in its Department (Salesforce's adapter makes no
            // links).
            DemoCrm::Salesforce => (
                r#"id_property = "Etlify_Id__c"
payload = "SELECT id, name AS Name, 'company-' || id AS Etlify_Id__c FROM companies""#,
                r#"id_property = "Etlify_Id__c"
payload = """
  SELECT users.id, 'user-' || users.id AS Etlify_Id__c, users.email AS Email,
    users.full_name AS LastName, companies.name AS Department
  FROM users LEFT JOIN companies ON companies.id = users.company_id
""""#,
            ),
            DemoCrm::Hubspot | DemoCrm::Webhook | DemoCrm::Brevo => (
                r#"id_property = "domain"
payload = "SELECT id, name, 'company' || id || '.example.com' AS domain FROM companies""#,
                r#"id_property = "email"
payload = """
  SELECT users.id, users.email, users.full_name AS firstname, companies.name AS company
  FROM users LEFT JOIN companies ON companies.id = users.company_id
""""#,
            ),
        }
    }

    /// The contact-to-company links the sandbox holds.
    fn associations(self, sandbox: &RunningSandbox) -> usize {
        let admin = sandbox.admin();
        match self {
            DemoCrm::Intercom => admin
                .intercom_contacts()
                .iter()
                .map(|contact| contact.companies.len())
                .sum(),
            DemoCrm::Hubspot | DemoCrm::Webhook => admin.hubspot_associations().len(),
            // Brevo has no companies to link to; Salesforce's adapter makes
            // no links.
            DemoCrm::Brevo | DemoCrm::Salesforce => 0,
        }
    }

    /// The contacts the sandbox holds: HubSpot's, or those the receiver keeps.
    fn contacts(self, sandbox: &RunningSandbox) -> Vec<String> {
        let admin = sandbox.admin();
        match self {
            DemoCrm::Hubspot => admin
                .hubspot_objects("contacts")
                .unwrap_or_default()
                .into_iter()
                .map(|contact| format!("{} {:?}", contact.id, contact.properties))
                .collect(),
            DemoCrm::Webhook => admin
                .webhook_objects("contacts")
                .into_iter()
                .filter(|contact| !contact.deleted)
                .map(|contact| format!("{} {:?}", contact.id, contact.data))
                .collect(),
            DemoCrm::Brevo => admin
                .brevo_contacts()
                .into_iter()
                .map(|contact| {
                    let email = contact.email.unwrap_or_default();
                    format!("{} {email} {:?}", contact.id, contact.attributes)
                })
                .collect(),
            DemoCrm::Intercom => admin
                .intercom_contacts()
                .into_iter()
                .map(|contact| format!("{} {:?}", contact.id, contact.attributes))
                .collect(),
            DemoCrm::Salesforce => admin
                .salesforce_records("Contact")
                .into_iter()
                .filter(|contact| !contact.deleted)
                .map(|contact| format!("{} {:?}", contact.id, contact.fields))
                .collect(),
        }
    }
}

/// `demo --json`.
#[derive(Debug, Serialize)]
struct Report {
    folder: String,
    /// The configuration file it wrote.
    config: String,
    /// Whether it created the database (else it reused the folder's).
    created: bool,
    /// The three syncs.
    runs: [RunReport; 3],
    /// Contacts the sandbox holds at the end.
    sandbox_contacts: usize,
    /// Contact-to-company associations the sandbox holds at the end.
    sandbox_associations: usize,
}

/// One of the demo's syncs, for scripts.
#[derive(Debug, Serialize)]
struct RunReport {
    total: usize,
    synced: usize,
    not_modified: usize,
    errors: usize,
}

impl From<&RunStats> for RunReport {
    fn from(stats: &RunStats) -> Self {
        Self {
            total: stats.total,
            synced: stats.outcomes.synced,
            not_modified: stats.outcomes.not_modified,
            errors: stats.errors,
        }
    }
}

/// Runs the demo in `--dir` with `--users` sample users (when it creates them).
pub(crate) async fn run(args: Args) -> Result<Completed, CliError> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::run(format!(
            "cannot create the demo folder {}: {e}",
            dir.display()
        ))
    })?;
    let database = std::path::absolute(dir.join("demo.sqlite3")).map_err(|e| {
        CliError::run(format!(
            "cannot resolve the demo folder {}: {e}",
            dir.display()
        ))
    })?;
    let fresh = !database.exists();
    let mut sandbox_config = SandboxConfig {
        state_file: Some(dir.join("sandbox-state.json")),
        ..SandboxConfig::default()
    };
    // The users' company goes to Brevo as an attribute the account must have.
    sandbox_config
        .brevo
        .attributes
        .insert("COMPANY".to_owned(), BrevoAttributeKind::Text);
    let sandbox = Sandbox::start(sandbox_config)
        .await
        .map_err(|e| CliError::run(format!("cannot start the sandbox: {e}")))?;
    let config = write_config(dir, &database, args.crm, &sandbox)?;
    let say = |line: String| {
        if !args.json {
            // A closed pipe (`etlify demo | head`) is not an error of the demo.
            let _ = writeln!(std::io::stdout(), "{line}");
        }
    };
    say(format!("Demo folder: {}", dir.display()));
    say(format!("Configuration: {}", config.display()));

    let session = Session::load(&config)?;
    let users = args.users.unwrap_or(args.crm.default_users());
    let runs = three_syncs(&session, &database, fresh, users, args.crm, say)
        .await
        .map_err(|e| session.error(e))?;
    let contacts = args.crm.contacts(&sandbox);
    let held = output::counted(contacts.len() as u64, "contact", "contacts");
    say(if args.crm.links_companies() {
        format!(
            "The sandbox now holds {held} and {}, e.g.:",
            output::counted(
                args.crm.associations(&sandbox) as u64,
                "contact-to-company association",
                "contact-to-company associations"
            )
        )
    } else {
        format!("The sandbox now holds {held}, e.g.:")
    });
    for contact in contacts.iter().take(3) {
        say(format!("   {contact}"));
    }
    say(args.crm.going_live().to_owned());
    say(format!(
        "This run's sandbox stops with the demo. To use the configuration afterwards \
         (`etlify status`, `etlify sync`), serve it again in another terminal: \
         `etlify sandbox --port {} --state {}`.",
        sandbox.addr().port(),
        dir.join("sandbox-state.json").display()
    ));
    let report = Report {
        folder: dir.display().to_string(),
        config: config.display().to_string(),
        created: fresh,
        runs: runs.each_ref().map(RunReport::from),
        sandbox_contacts: contacts.len(),
        sandbox_associations: args.crm.associations(&sandbox),
    };
    sandbox
        .shutdown()
        .await
        .map_err(|e| CliError::run(format!("cannot save the sandbox's state: {e}")))?;
    if args.json {
        output::print_json(&report)?;
    }
    Ok(Completed::Ok)
}

/// Seeds the database when `fresh`, migrates it, then syncs three times:
/// everything, nothing changed, a company renamed.
async fn three_syncs(
    session: &Session,
    database: &Path,
    fresh: bool,
    users: u64,
    crm: DemoCrm,
    say: impl Fn(String),
) -> Result<[RunStats; 3], CommandError> {
    let store = etlify::Store::connect(&session.settings().database_url).await?;
    if fresh {
        seed(&store, users).await?;
        say(format!(
            "Created {} with {} and {}.",
            database.display(),
            output::counted(users, "user", "users"),
            output::counted(companies(users), "company", "companies")
        ));
    } else {
        say(format!(
            "Reusing {} (delete the folder to start over).",
            database.display()
        ));
    }
    etlify::migrate(&store, &MigrateOptions::default()).await?;
    let etlify = session.engine().await?;

    let first = timed_sync(etlify).await?;
    let found = if crm.links_companies() {
        "companies, then users linked to them"
    } else if crm.has_companies() {
        "companies, then their users"
    } else {
        "users, each with its company's name"
    };
    say(format!(
        "1. sync: {} found ({found}), {} sent to the sandbox, {} not modified ({:.1}s)",
        output::counted(first.0.total as u64, "record", "records"),
        first.0.outcomes.synced,
        first.0.outcomes.not_modified,
        first.1
    ));
    let second = timed_sync(etlify).await?;
    say(format!(
        "2. sync again: {} found, {} sent — nothing changed, nothing sent",
        second.0.total, second.0.outcomes.synced
    ));
    let pool = store
        .sqlite_pool()
        .ok_or_else(|| CliError::run("the demo runs on SQLite"))?;
    // Stamped to the microsecond by the engine's clock, as a Rails app
    // stamps its rows: SQLite's `strftime('%f')` keeps milliseconds, so a
    // rename in the millisecond after the last run began looked older than
    // that run's checkpoint, and this run missed it until the next complete
    // check (the default `commit_margin` of 1 ms now covers such writers).
    let renamed_at = store
        .now()
        .await?
        .format(etlify::SQLITE_TIMESTAMP_FORMAT)
        .to_string();
    sqlx::query("UPDATE companies SET name = name || ' (renamed)', updated_at = ? WHERE id = 1")
        .bind(renamed_at)
        .execute(pool)
        .await
        .map_err(CliError::run)?;
    let third = timed_sync(etlify).await?;
    say(if crm.has_companies() {
        format!(
            "3. company 1 renamed: it and {} of its users found and sent, nothing else",
            third.0.outcomes.synced.saturating_sub(1)
        )
    } else {
        format!(
            "3. company 1 renamed: {} of its users found and sent, nothing else",
            third.0.outcomes.synced
        )
    });
    Ok([first.0, second.0, third.0])
}

async fn timed_sync(etlify: &Etlify) -> Result<(RunStats, f64), CliError> {
    let started = Instant::now();
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .map_err(CliError::run)?;
    Ok((stats, started.elapsed().as_secs_f64()))
}

fn companies(users: u64) -> u64 {
    (users / 20).max(1)
}

/// `etlify.toml` for `database` and `crm` on `sandbox`.
fn write_config(
    dir: &Path,
    database: &Path,
    crm: DemoCrm,
    sandbox: &RunningSandbox,
) -> Result<PathBuf, CliError> {
    let (section, going_live) = (crm.section(sandbox), crm.in_the_file());
    let (company_binding, user_binding) = crm.bindings();
    let (company_type, user_type) = crm.object_types();
    let (has_companies, links_companies) = (crm.has_companies(), crm.links_companies());
    let crm = crm.name();
    // Without companies in the CRM (Brevo), users carry their company's
    // name and link to nothing.
    let companies = if has_companies {
        format!(
            r#"[models.Company]
table = "companies"

[models.Company.crms.{crm}]
object_type = "{company_type}"
{company_binding}
"#
        )
    } else {
        String::new()
    };
    let links = if links_companies {
        "links = [{ model = \"Company\", belongs_to = \"company_id\" }]\n"
    } else {
        ""
    };
    let path = dir.join("etlify.toml");
    let text = format!(
        r#"# Written by `etlify demo`. The CRM is the local sandbox started by the demo
# ({going_live}).
[database]
url = {database_url}

{section}
{companies}
[models.User]
table = "users"

[models.User.crms.{crm}]
object_type = "{user_type}"
{user_binding}
dependencies = [{{ belongs_to = "companies", foreign_key = "company_id" }}]
{links}"#,
        // Absolute, so that the file works from any folder (the README runs
        // `etlify status` from inside the demo folder); quoted as TOML.
        database_url = toml::Value::String(format!("sqlite://{}", database.display()))
    );
    std::fs::write(&path, text)
        .map_err(|e| CliError::run(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

async fn seed(store: &etlify::Store, users: u64) -> Result<(), CliError> {
    let Some(pool) = store.sqlite_pool() else {
        return Err(CliError::run("the demo runs on SQLite"));
    };
    let companies = companies(users);
    let now = "strftime('%Y-%m-%d %H:%M:%f000', 'now')";
    for sql in [
        "CREATE TABLE companies (id integer PRIMARY KEY, name varchar, created_at datetime(6), updated_at datetime(6))".to_owned(),
        "CREATE TABLE users (id integer PRIMARY KEY, email varchar, full_name varchar, company_id integer, created_at datetime(6), updated_at datetime(6))".to_owned(),
        "CREATE INDEX users_company ON users (company_id)".to_owned(),
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {companies}) INSERT INTO companies SELECT i, 'Company ' || i, {now}, {now} FROM s"),
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {users}) INSERT INTO users SELECT i, 'user' || i || '@example.com', 'User ' || i, (i % {companies}) + 1, {now}, {now} FROM s"),
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map_err(CliError::run)?;
    }
    Ok(())
}
