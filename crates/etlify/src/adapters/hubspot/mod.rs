//! HubSpot CRM objects API, legacy v3 or dated (X-2, X-4, X-16;
//! HUBSPOT-1..HUBSPOT-11).
//!
//! Files: `config.rs` (settings), `version.rs` (the API version and every
//! path built from it), `errors.rs` (error responses), `search.rs`
//! (finding an object by its id property), `batch.rs` (batch upsert and
//! archive with per-input reconciliation), `associations.rs` (v4
//! associations, batch create and archive), `properties.rs` (the schema:
//! properties read and created), this file (single upsert and delete).

mod associations;
mod batch;
mod config;
mod errors;
mod properties;
mod search;
mod version;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Map, Value};

pub use self::config::{
    HubSpotConfig, DEFAULT_BASE_URL, DEFAULT_BATCH_SIZE, DEFAULT_SEARCH_REQUESTS_PER_SECOND,
};
use self::errors::{classify, existing_id};
pub use self::version::{ApiVersion, ACCEPTED_API_VERSIONS};
use std::time::Duration;

use super::http::{HttpClient, HttpRequest, HttpResponse};
use super::{
    no_object_to_update, Access, Adapter, AdapterError, AdapterErrorKind, BatchAdapter, Budget,
    RemoteDelete, SchemaAdapter, Throttle, UpsertRequest, WriteMode,
};
use crate::error::ConfigError;
use crate::payload::Payload;
use crate::ratelimit::RateLimit;

/// `X-HubSpot-RateLimit-Remaining` of `-Max`: requests the app may still
/// send in its current 10-second window (absent from search responses).
fn remaining_in_window(response: &HttpResponse) -> Option<(u32, Option<u32>)> {
    let number = |name: &str| {
        response
            .header(name)
            .and_then(|value| value.trim().parse::<u32>().ok())
    };
    Some((
        number("x-hubspot-ratelimit-remaining")?,
        number("x-hubspot-ratelimit-max"),
    ))
}

/// The HubSpot adapter.
#[derive(Debug)]
pub struct HubSpotAdapter {
    http: HttpClient,
    api_version: ApiVersion,
    batch_size: usize,
    /// HubSpot's search limit of the token's account, apart from the
    /// app's 10-second window.
    search_budget: Budget,
}

impl HubSpotAdapter {
    /// An adapter for the account of `config.token`.
    pub fn new(config: HubSpotConfig) -> Result<Self, ConfigError> {
        if config.batch_size == 0 || config.batch_size > DEFAULT_BATCH_SIZE {
            return Err(ConfigError::new(
                "hubspot",
                "batch_size",
                "must be between 1 and 100",
            ));
        }
        let search_limit =
            RateLimit::new(config.search_requests_per_second, Duration::from_secs(1)).map_err(
                |_| {
                    ConfigError::new(
                        "hubspot",
                        "search_requests_per_second",
                        "must be at least 1 (HubSpot allows 5 per second)",
                    )
                },
            )?;
        Ok(Self {
            http: HttpClient::new(
                &config.base_url,
                &config.token,
                config.http,
                config.connections.as_ref(),
            )?
            .with_remaining_header(remaining_in_window),
            search_budget: Budget::some_requests(
                search::SEARCH_BUDGET,
                config.token.expose().as_bytes(),
                search_limit,
            ),
            api_version: config.api_version,
            batch_size: config.batch_size,
        })
    }

    /// `…/object_type/rest…` at the configured version, each segment
    /// encoded by the client.
    fn path(&self, object_type: &str, rest: &[&str]) -> Vec<String> {
        self.api_version.objects_path(object_type, rest)
    }

    async fn update(
        &self,
        object_type: &str,
        crm_id: &str,
        properties: &Map<String, Value>,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        let request = HttpRequest::new(Method::PATCH, self.path(object_type, &[crm_id]))
            .json(json!({ "properties": properties }));
        self.http
            .send(&request, classify, throttle)
            .await
            .map(|_| ())
    }

    async fn create(
        &self,
        object_type: &str,
        properties: &Map<String, Value>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let request = HttpRequest::new(Method::POST, self.path(object_type, &[]))
            .json(json!({ "properties": properties }))
            .creates();
        let response = self.http.send(&request, classify, throttle).await?;
        Ok(object_id(&response.body))
    }
}

/// An object's `id` in a response, as a string.
fn object_id(body: &Value) -> Option<String> {
    match body.get("id")? {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// Lowercases an `email` property when it is a string (X-16, HUBSPOT-8).
fn lowercase_email(properties: &mut Map<String, Value>) {
    if let Some(Value::String(email)) = properties.get_mut("email") {
        *email = email.to_lowercase();
    }
}

#[async_trait]
impl Adapter for HubSpotAdapter {
    fn kind(&self) -> &'static str {
        "hubspot"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let object_type = request.object_type;
        if object_type.trim().is_empty() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "object_type must not be empty",
            ));
        }
        let mode = request.mode;
        // a known id is updated directly, with every property (as the gem did).
        if let Some(crm_id) = request.crm_id.map(str::trim).filter(|id| !id.is_empty()) {
            if mode == WriteMode::CreateOnly {
                // The object exists: never updated in create_only.
                return Ok(Some(crm_id.to_owned()));
            }
            let mut known_properties = request.payload.clone();
            if request.id_property_only_on_create {
                known_properties.remove(request.id_property);
            }
            match self
                .update(object_type, crm_id, &known_properties, throttle)
                .await
            {
                Ok(()) => return Ok(Some(crm_id.to_owned())),
                // Deleted in HubSpot meanwhile: find it by its id property, or create.
                Err(error) if error.kind() == AdapterErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        let mut properties: Payload = request.payload.clone();
        let id_property = request.id_property;
        let unique_value = if id_property.is_empty() {
            None
        } else {
            properties.remove(id_property)
        };
        if let Some(value) = unique_value.as_ref().filter(|v| !v.is_null()) {
            if let Some(found) =
                search::find_id(self, object_type, id_property, value, throttle).await?
            {
                if mode != WriteMode::CreateOnly {
                    self.update(object_type, &found, &properties, throttle)
                        .await?;
                }
                return Ok(Some(found));
            }
        }
        if mode == WriteMode::UpdateOnly {
            return Err(no_object_to_update(object_type, id_property));
        }
        if let Some(value) = unique_value {
            properties.insert(id_property.to_owned(), value);
        }
        lowercase_email(&mut properties);
        match self.create(object_type, &properties, throttle).await {
            Ok(id) => Ok(id),
            // Created meanwhile (search lags behind writes): adopt it.
            Err(error) => match existing_id(&error) {
                Some(existing) => {
                    if mode != WriteMode::CreateOnly {
                        properties.remove(id_property);
                        self.update(object_type, &existing, &properties, throttle)
                            .await?;
                    }
                    Ok(Some(existing))
                }
                None => Err(error),
            },
        }
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
        if crm_id.trim().is_empty() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "crm_id must be provided",
            ));
        }
        let request = HttpRequest::new(Method::DELETE, self.path(object_type, &[crm_id.trim()]));
        match self.http.send(&request, classify, throttle).await {
            Ok(_) => Ok(RemoteDelete::Deleted),
            Err(error) if error.kind() == AdapterErrorKind::NotFound => Ok(RemoteDelete::NotFound),
            Err(error) => Err(error),
        }
    }

    async fn check_access(
        &self,
        object_type: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Access, AdapterError> {
        let request =
            HttpRequest::new(Method::GET, self.path(object_type, &[])).query("limit", "1");
        self.http.send(&request, classify, throttle).await?;
        Ok(Access::Granted)
    }

    fn batch(&self) -> Option<&dyn BatchAdapter> {
        Some(self)
    }

    fn associations(&self) -> Option<&dyn super::AssociationAdapter> {
        Some(self)
    }

    fn schema(&self) -> Option<&dyn SchemaAdapter> {
        Some(self)
    }

    fn budgets(&self) -> Vec<Budget> {
        vec![self.search_budget.clone()]
    }
}
