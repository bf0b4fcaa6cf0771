//! Payloads against the CRM's own schema (issue 29, items 3 and 4): the
//! engine reading HubSpot's properties API and Airtable's base schema in
//! the local sandbox, over loopback; the problems it reports, the
//! bindings a run refuses, the fields it creates.

use std::sync::Arc;

use etlify::adapters::hubspot::ApiVersion;
use etlify::adapters::{AirtableAdapter, AirtableConfig, HubSpotAdapter, HubSpotConfig};
use etlify::{
    BatchSyncOptions, Binding, BindingSchema, BindingSchemaStatus, ColumnType, Crm, ErrorKind,
    FieldProblemKind, Model, SchemaCheck, SqlPayload,
};
use etlify_sandbox::{
    RunningSandbox, Sandbox, SandboxConfig, DEFAULT_AIRTABLE_TOKEN, DEFAULT_HUBSPOT_TOKEN,
};
use serde_json::json;

use crate::support::{engine, TestDb};

const BASE: &str = "appSchemaCheck001";

/// A sandbox whose contacts declare their properties (`lastname` required
/// from 2026-09) and whose Airtable base declares a `People` table.
async fn sandbox() -> RunningSandbox {
    let config = SandboxConfig::from_json(
        &json!({
            "hubspot": {"rate_limits": {"enabled": false}, "object_types": {"contacts": {
                "type_id": "0-1",
                "unique_properties": ["email"],
                "required_properties": ["lastname"],
                "properties": {
                    "email": {}, "lastname": {}, "company": {}, "full_name": {},
                    "score": {"type": "number", "calculated": true},
                    "stage": {"type": "enumeration", "options": ["lead", "customer"]}
                }
            }}},
            "airtable": {"rate_limits": {"enabled": false}, "bases": {BASE: {"tables": {
                "People": {"fields": [
                    {"name": "email", "type": "email"},
                    {"name": "full_name"},
                    {"name": "total", "type": "formula"}
                ]}
            }}}}
        })
        .to_string(),
    )
    .unwrap();
    Sandbox::start(config).await.unwrap()
}

fn hubspot(sandbox: &RunningSandbox, version: ApiVersion) -> Arc<HubSpotAdapter> {
    Arc::new(
        HubSpotAdapter::new(
            HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                .base_url(sandbox.hubspot_base_url())
                .api_version(version),
        )
        .unwrap(),
    )
}

fn airtable(sandbox: &RunningSandbox) -> Arc<AirtableAdapter> {
    Arc::new(
        AirtableAdapter::new(
            AirtableConfig::new(DEFAULT_AIRTABLE_TOKEN, BASE).base_url(sandbox.base_url()),
        )
        .unwrap(),
    )
}

/// `User` on `crm`, writing `object_type` with the payload `sql`.
fn users(crm: &str, object_type: &str, payload: SqlPayload) -> Model {
    Model::new("User", "users").bind(crm, Binding::new(object_type, "email").payload(payload))
}

/// `Member` (the same table) on `crm`: a payload that fits contacts.
fn members(crm: &str) -> Model {
    Model::new("Member", "users").bind(
        crm,
        Binding::new("contacts", "email").payload(SqlPayload::new(
            "SELECT id, email, full_name AS lastname FROM users",
        )),
    )
}

/// (model, field, kind) of every problem found.
fn problems(checked: &[BindingSchema]) -> Vec<(String, String, FieldProblemKind)> {
    checked
        .iter()
        .flat_map(|b| {
            b.problems()
                .iter()
                .map(|p| (b.model.clone(), p.field.clone(), p.kind))
        })
        .collect()
}

// The database tests, compiled once per backend.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;

/// A HubSpot adapter for `server` (a wiremock server).
fn hubspot_at(base_url: &str) -> Arc<HubSpotAdapter> {
    Arc::new(HubSpotAdapter::new(HubSpotConfig::new("pat-test").base_url(base_url)).unwrap())
}

/// A HubSpot property definition as the properties API answers it.
fn property(name: &str, property_type: &str, field_type: &str) -> serde_json::Value {
    json!({"name": name, "type": property_type, "fieldType": field_type,
        "calculated": false, "hasUniqueValue": name == "email",
        "modificationMetadata": {"readOnlyValue": false}})
}
