//! Airtable Web API v0 (X-2, X-4, X-16; AIRTABLE-1..AIRTABLE-9).
//!
//! Files: `config.rs` (settings), `errors.rs` (error responses, both
//! envelopes), `formula.rs` (`filterByFormula` building and escaping),
//! `batch.rs` (batch upsert with `performUpsert`, batch update by record
//! id, batch delete, per-input reconciliation), `schema.rs` (the base
//! schema: fields read and created), this file (single upsert and delete).
//!
//! An Airtable "object type" is a table name or id (`tbl…`); the id
//! property is the merge field's name or id (`fld…`). Paths are
//! `/<api_version>/<base_id>/<table>[/<record id>]`, every segment
//! URL-encoded (AIRTABLE-1, X-16). Unlike the HubSpot adapter, nothing is
//! lowercased: the gem never lowercased Airtable values, and
//! X-16 only restricts lowercasing where it happens.
//!
//! Rate limits (5 requests per second per base, AIRTABLE-7) are the
//! registered CRM's, handed to every call as a [`Throttle`]; the token's
//! 50 per second is a vendor budget ([`Adapter::budgets`]) the engine
//! shares between the bases of one token. A 429 waits out Airtable's 30 s
//! penalty before the client retries it.

mod batch;
mod config;
mod errors;
pub mod formula;
mod schema;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value};

use self::config::is_airtable_id;
pub use self::config::{AirtableConfig, DEFAULT_API_VERSION, DEFAULT_BASE_URL, MAX_BATCH_SIZE};
use self::errors::{classify, is_missing_record};
pub use self::formula::FormulaError;
use std::time::Duration;

use super::http::{HttpClient, HttpRequest, Secret};
use super::{
    no_object_to_update, Access, Adapter, AdapterError, AdapterErrorKind, BatchAdapter, Budget,
    RemoteDelete, Throttle, UpsertRequest, WriteMode,
};
use crate::error::ConfigError;
use crate::payload::Payload;
use crate::ratelimit::RateLimit;

/// Airtable's limit per token, across its bases: 50 requests per second.
pub const TOKEN_REQUESTS_PER_SECOND: u32 = 50;

/// The name of the budget of one access token.
pub const TOKEN_BUDGET: &str = "airtable.token";

/// The budget of one access token, which every adapter (base) using it
/// names; a base's own 5 per second is the CRM's rate limit. The engine
/// keeps one limiter per token, keyed by a digest of it.
fn token_budget(token: &Secret) -> Budget {
    let limit = RateLimit::new(TOKEN_REQUESTS_PER_SECOND, Duration::from_secs(1))
        // Internal invariant: a positive constant and period.
        .expect("a valid constant limit");
    Budget::every_request(TOKEN_BUDGET, token.expose().as_bytes(), limit)
}

/// The Airtable adapter, for one base.
#[derive(Debug)]
pub struct AirtableAdapter {
    http: HttpClient,
    version_path: Vec<String>,
    base_id: String,
    batch_size: usize,
    typecast: bool,
    /// The token's budget, across its bases.
    token_budget: Budget,
}

impl AirtableAdapter {
    /// An adapter for the base `config.base_id`; every field is checked
    /// and an error names the offending one.
    pub fn new(config: AirtableConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let http = HttpClient::new(
            &config.base_url,
            &config.token,
            config.http,
            config.connections.as_ref(),
        )
        .map_err(|mut e| {
            e.location = "airtable".to_owned();
            e
        })?;
        Ok(Self {
            token_budget: token_budget(&config.token),
            http,
            version_path: config
                .api_version
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            base_id: config.base_id,
            batch_size: config.batch_size,
            typecast: config.typecast,
        })
    }

    /// The base this adapter writes to.
    pub fn base_id(&self) -> &str {
        &self.base_id
    }

    /// `/<version>/<base>/<table>` as segments (encoded by the client).
    fn table_path(&self, table: &str) -> Vec<String> {
        let mut path = self.version_path.clone();
        path.push(self.base_id.clone());
        path.push(table.to_owned());
        path
    }

    /// `/<version>/<base>/<table>/<record id>`.
    fn record_path(&self, table: &str, record_id: &str) -> Vec<String> {
        let mut path = self.table_path(table);
        path.push(record_id.to_owned());
        path
    }

    /// Adds the write options every write body carries.
    fn write_options(&self, body: &mut Map<String, Value>) {
        if self.typecast {
            body.insert("typecast".to_owned(), Value::Bool(true));
        }
    }

    /// `{"fields": …}` plus write options.
    fn fields_body(&self, fields: &Payload) -> Value {
        let mut body = Map::new();
        body.insert("fields".to_owned(), Value::Object(fields.clone()));
        self.write_options(&mut body);
        Value::Object(body)
    }

    /// PATCH one record by id with every payload field (as the gem did).
    async fn update(
        &self,
        table: &str,
        record_id: &str,
        fields: &Payload,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        let request = HttpRequest::new(Method::PATCH, self.record_path(table, record_id))
            .json(self.fields_body(fields));
        self.http
            .send(&request, classify, throttle)
            .await
            .map(|_| ())
    }

    /// POST one record; as in the gem, a success without an id is an error.
    async fn create(
        &self,
        table: &str,
        fields: &Payload,
        throttle: &Throttle<'_>,
    ) -> Result<String, AdapterError> {
        let request = HttpRequest::new(Method::POST, self.table_path(table))
            .json(self.fields_body(fields))
            .creates();
        let response = self.http.send(&request, classify, throttle).await?;
        record_id(&response.body).ok_or_else(|| {
            AdapterError::new(
                AdapterErrorKind::Other,
                "Airtable create succeeded but returned no record id",
            )
            .status(response.status)
        })
    }

    /// The id of the first record whose `field` equals `value` (AIRTABLE-9): a
    /// GET with `filterByFormula` and `maxRecords=1`. A 404 means none.
    async fn find_id(
        &self,
        table: &str,
        field: &str,
        value: &Value,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let formula = formula::eq(field, value)
            .map_err(|e| AdapterError::new(AdapterErrorKind::ValidationFailed, e.to_string()))?;
        let request = HttpRequest::new(Method::GET, self.table_path(table))
            .query("filterByFormula", formula)
            .query("maxRecords", "1");
        match self.http.send(&request, classify, throttle).await {
            Ok(response) => Ok(response
                .body
                .get("records")
                .and_then(Value::as_array)
                .and_then(|records| records.first())
                .and_then(record_id)),
            Err(error) if error.kind() == AdapterErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Whether `name` is a field id (`fld` + 14 letters or digits), as the gem
/// tells them from field names (AIRTABLE-8).
fn is_field_id(name: &str) -> bool {
    is_airtable_id(name, "fld") && name.len() == 17
}

/// A record's `id` in a response.
fn record_id(record: &Value) -> Option<String> {
    match record.get("id")? {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        _ => None,
    }
}

/// The value to search the id property by: `None` to create without a
/// search (absent, null, or an empty string, which would match every blank
/// record). Strings, numbers and booleans are keys; others are errors.
fn search_key<'a>(
    payload: &'a Payload,
    id_property: &str,
) -> Result<Option<&'a Value>, AdapterError> {
    if id_property.is_empty() {
        return Ok(None);
    }
    match payload.get(id_property) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => Ok(Some(value)),
        Some(_) => Err(AdapterError::new(
            AdapterErrorKind::ValidationFailed,
            format!(
                "the value of id property {id_property:?} must be a string, a number or a boolean"
            ),
        )),
    }
}

#[async_trait]
impl Adapter for AirtableAdapter {
    fn kind(&self) -> &'static str {
        "airtable"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let table = request.object_type;
        if table.trim().is_empty() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "object_type (the Airtable table) must not be empty",
            ));
        }
        let mode = request.mode;
        // Updates leave a match-only field alone: it is written on create.
        let mut existing_fields = request.payload.clone();
        if request.id_property_only_on_create {
            existing_fields.remove(request.id_property);
        }
        // a known record id is updated directly, with every field (as the gem did).
        if let Some(crm_id) = request.crm_id.map(str::trim).filter(|id| !id.is_empty()) {
            if mode == WriteMode::CreateOnly && is_airtable_id(crm_id, "rec") {
                // The record exists: never updated in create_only.
                return Ok(Some(crm_id.to_owned()));
            }
            if is_airtable_id(crm_id, "rec") {
                match self.update(table, crm_id, &existing_fields, throttle).await {
                    Ok(()) => return Ok(Some(crm_id.to_owned())),
                    // Deleted in Airtable meanwhile: match by id property, or create.
                    Err(error) if is_missing_record(&error, crm_id) => {
                        tracing::info!(
                            message = "Known Airtable record is gone; matching by id property.",
                            table,
                            crm_id
                        );
                    }
                    Err(error) => return Err(error),
                }
            } else {
                tracing::warn!(
                    message =
                        "Stored crm_id is not an Airtable record id; matching by id property.",
                    table,
                    crm_id
                );
            }
        }
        // The id field stays in the written fields, as in the gem.
        if let Some(value) = search_key(request.payload, request.id_property)? {
            if let Some(found) = self
                .find_id(table, request.id_property, value, throttle)
                .await?
            {
                if mode != WriteMode::CreateOnly {
                    self.update(table, &found, &existing_fields, throttle)
                        .await?;
                }
                return Ok(Some(found));
            }
        }
        if mode == WriteMode::UpdateOnly {
            return Err(no_object_to_update(table, request.id_property));
        }
        self.create(table, request.payload, throttle)
            .await
            .map(Some)
    }

    fn supports_mode(&self, _mode: WriteMode) -> bool {
        true
    }

    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
        let crm_id = crm_id.trim();
        if object_type.trim().is_empty() || crm_id.is_empty() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "object_type and crm_id must be provided",
            ));
        }
        let request = HttpRequest::new(Method::DELETE, self.record_path(object_type, crm_id));
        match self.http.send(&request, classify, throttle).await {
            Ok(_) => Ok(RemoteDelete::Deleted),
            Err(error) if is_missing_record(&error, crm_id) => Ok(RemoteDelete::NotFound),
            Err(error) => Err(error),
        }
    }

    async fn check_access(
        &self,
        table: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Access, AdapterError> {
        let request =
            HttpRequest::new(Method::GET, self.table_path(table)).query("maxRecords", "1");
        self.http.send(&request, classify, throttle).await?;
        Ok(Access::Granted)
    }

    fn batch(&self) -> Option<&dyn BatchAdapter> {
        Some(self)
    }

    fn schema(&self) -> Option<&dyn crate::adapters::SchemaAdapter> {
        Some(self)
    }

    fn budgets(&self) -> Vec<Budget> {
        vec![self.token_budget.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_ids_are_told_from_names_like_the_gem() {
        assert!(is_field_id("fldAbCdEf01234567"));
        assert!(!is_field_id("fldShort"));
        assert!(!is_field_id("Email"));
        assert!(!is_field_id("fldAbCdEf0123456-"));
    }

    #[test]
    fn search_keys_skip_blank_values_and_reject_structures() {
        let payload: Payload = serde_json::from_value(json!({
            "Email": "a@b.c", "Blank": "", "Null": null, "Age": 3, "Flag": false, "Tags": ["x"]
        }))
        .unwrap();
        assert_eq!(
            search_key(&payload, "Email").unwrap(),
            Some(&json!("a@b.c"))
        );
        assert_eq!(search_key(&payload, "Age").unwrap(), Some(&json!(3)));
        assert_eq!(search_key(&payload, "Flag").unwrap(), Some(&json!(false)));
        assert_eq!(search_key(&payload, "Blank").unwrap(), None);
        assert_eq!(search_key(&payload, "Null").unwrap(), None);
        assert_eq!(search_key(&payload, "Missing").unwrap(), None);
        assert_eq!(search_key(&payload, "").unwrap(), None);
        assert_eq!(
            search_key(&payload, "Tags").unwrap_err().kind(),
            AdapterErrorKind::ValidationFailed
        );
    }

    #[test]
    fn config_errors_name_the_field() {
        let field = |config: AirtableConfig| AirtableAdapter::new(config).unwrap_err().field;
        let ok = || AirtableConfig::new("pat.x", "appAbCdEf01234567");
        assert!(AirtableAdapter::new(ok()).is_ok());
        assert_eq!(field(ok().base_id("tblAbCdEf01234567")), "base_id");
        assert_eq!(field(ok().base_id("app")), "base_id");
        assert_eq!(field(ok().base_id("app/../x")), "base_id");
        assert_eq!(field(AirtableConfig::new(" ", "appX")), "token");
        assert_eq!(field(ok().batch_size(0)), "batch_size");
        assert_eq!(field(ok().batch_size(11)), "batch_size");
        assert_eq!(field(ok().api_version("/")), "api_version");
        let bad_url = AirtableAdapter::new(ok().base_url("not a url")).unwrap_err();
        assert_eq!(
            (bad_url.location.as_str(), bad_url.field.as_str()),
            ("airtable", "base_url")
        );
    }
}
