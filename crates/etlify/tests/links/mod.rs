//! Links (issue 29, items 1 and 2): HubSpot associations and Airtable
//! linked-record fields, over the sandbox on loopback. A record is linked
//! once it and its targets have CRM ids, re-linked when its link changes
//! (without its properties re-sent), waits for targets not yet synced, and
//! neither a lost answer nor two engines at once make a duplicate.

use std::collections::BTreeMap;
use std::sync::Arc;

use etlify::adapters::{
    AirtableAdapter, AirtableConfig, HttpSettings, HubSpotAdapter, HubSpotConfig, RetryPolicy,
};
use etlify::{BatchSyncOptions, Binding, Crm, Etlify, Link, Model, SqlPayload};
use etlify_sandbox::{
    BaseConfig, FaultConfig, FieldConfig, FieldKind, HubSpotAssociation, ObjectTypeConfig,
    RunningSandbox, Sandbox, SandboxConfig, TableConfig, TargetApi, DEFAULT_AIRTABLE_TOKEN,
    DEFAULT_HUBSPOT_TOKEN,
};

use crate::support::{engine, TestDb};

const BASE_ID: &str = "appLinksTest00001";
const ASSOCIATE: &str =
    "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default";
const ARCHIVE: &str = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/archive";
const CONTACT_UPSERT: &str = "/crm/v3/objects/{objectType}/batch/upsert";
const CONTACT_UPDATE: &str = "/crm/v3/objects/{objectType}/batch/update";

/// No rate limits; deals matched by a unique `etlify_id`; an Airtable
/// base whose Users table links to its Companies table.
pub(crate) fn sandbox_config() -> SandboxConfig {
    let mut config = SandboxConfig {
        seed: Some(29),
        ..SandboxConfig::default()
    };
    config.hubspot.rate_limits.enabled = false;
    config.airtable.rate_limits.enabled = false;
    config.hubspot.object_types.insert(
        "deals".to_owned(),
        ObjectTypeConfig {
            type_id: Some("0-3".to_owned()),
            unique_properties: vec!["etlify_id".to_owned()],
            searchable_properties: vec!["dealname".to_owned()],
            ..ObjectTypeConfig::default()
        },
    );
    let field = |name: &str, kind: FieldKind, linked: Option<&str>| FieldConfig {
        name: name.to_owned(),
        id: None,
        kind,
        options: Vec::new(),
        linked_table: linked.map(str::to_owned),
    };
    let mut tables = BTreeMap::new();
    tables.insert(
        "Companies".to_owned(),
        TableConfig {
            id: None,
            fields: Some(vec![
                field("domain", FieldKind::SingleLineText, None),
                field("name", FieldKind::SingleLineText, None),
            ]),
        },
    );
    tables.insert(
        "Users".to_owned(),
        TableConfig {
            id: None,
            fields: Some(vec![
                field("email", FieldKind::SingleLineText, None),
                field("full_name", FieldKind::SingleLineText, None),
                field("Company", FieldKind::MultipleRecordLinks, Some("Companies")),
            ]),
        },
    );
    config
        .airtable
        .bases
        .insert(BASE_ID.to_owned(), BaseConfig { tables });
    config
}

fn quick_retries() -> HttpSettings {
    HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(4)
            .base_delay(std::time::Duration::from_millis(5))
            .max_delay(std::time::Duration::from_millis(20)),
    )
}

pub(crate) fn hubspot(sandbox: &RunningSandbox) -> Crm {
    let adapter = HubSpotAdapter::new(
        HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
            .base_url(sandbox.hubspot_base_url())
            .search_requests_per_second(1_000)
            .http(quick_retries()),
    )
    .unwrap();
    Crm::new("hubspot", Arc::new(adapter))
}

fn airtable(sandbox: &RunningSandbox) -> Crm {
    let adapter = AirtableAdapter::new(
        AirtableConfig::new(DEFAULT_AIRTABLE_TOKEN, BASE_ID)
            .base_url(sandbox.base_url())
            .http(quick_retries()),
    )
    .unwrap();
    Crm::new("airtable", Arc::new(adapter))
}

/// Companies as HubSpot companies (or Airtable's Companies), by domain.
fn companies(crm: &str) -> Model {
    let object_type = if crm == "airtable" {
        "Companies"
    } else {
        "companies"
    };
    Model::new("Company", "companies").bind(
        crm,
        Binding::new(object_type, "domain")
            .payload(SqlPayload::new("SELECT id, domain, name FROM companies")),
    )
}

/// Users as contacts by email, linked to their company; their payload
/// does not hold the company, so a changed company is a link change only.
fn users(crm: &str) -> Model {
    let object_type = if crm == "airtable" {
        "Users"
    } else {
        "contacts"
    };
    let link = Link::belongs_to("Company", "company_id");
    let link = if crm == "airtable" {
        link.name("Company")
    } else {
        link
    };
    Model::new("User", "users").bind(
        crm,
        Binding::new(object_type, "email")
            .payload(SqlPayload::new("SELECT id, email, full_name FROM users"))
            .link(link),
    )
}

/// Companies and their linked users on the sandbox's HubSpot.
async fn hubspot_engine(db: &TestDb, sandbox: &RunningSandbox) -> Etlify {
    engine(
        db,
        vec![hubspot(sandbox)],
        vec![companies("hubspot"), users("hubspot")],
    )
    .await
}

/// Two companies, `acme` and `globex`.
async fn two_companies(db: &TestDb) -> (i64, i64) {
    (
        db.insert_company("acme").await,
        db.insert_company("globex").await,
    )
}

async fn sync_all(etlify: &Etlify) {
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(stats.is_complete(), "{stats:?}");
    assert_eq!(stats.errors, 0, "{stats:?}");
}

async fn crm_id(etlify: &Etlify, model: &str, id: i64) -> String {
    etlify
        .sync_row("hubspot", model, id)
        .await
        .unwrap()
        .and_then(|row| row.crm_id)
        .unwrap_or_else(|| panic!("{model} {id} has no CRM id"))
}

/// The (from id, to id) pairs of the sandbox's associations of two types.
fn pairs(sandbox: &RunningSandbox, from_type: &str, to_type: &str) -> Vec<(String, String)> {
    sandbox
        .admin()
        .hubspot_associations()
        .into_iter()
        .filter(|a: &HubSpotAssociation| a.from_type == from_type && a.to_type == to_type)
        .map(|a| (a.from_id, a.to_id))
        .collect()
}

async fn link_rows(db: &TestDb) -> i64 {
    db.scalar_i64("SELECT COUNT(*) FROM etlify_links").await
}

/// Moves user `id` to `company` as an application would: the foreign key
/// and the row's timestamp.
async fn move_user(db: &TestDb, id: i64, company: i64) {
    db.exec(&format!(
        "UPDATE users SET company_id = {company} WHERE id = {id}"
    ))
    .await;
    db.touch("users", id).await;
}

mod requests; // the adapter's association requests (wiremock)

#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
