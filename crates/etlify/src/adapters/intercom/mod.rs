//! The Intercom adapter (docs/ADAPTERS.md, "Intercom"): contacts created,
//! matched by `external_id` (a create, its conflict adopted) or by another
//! field such as `email` (a search), and updated by id; companies created
//! or updated by their `company_id`; a contact attached to its companies;
//! the region's host, the `Intercom-Version` header, and the window's
//! `X-RateLimit-*` headers fed to the CRM's limiter (INTERCOM-1..INTERCOM-8).
//!
//! Files: `config.rs` (settings, regions), `errors.rs` (error answers,
//! rate-limit headers), `contacts.rs`, `companies.rs`, `associations.rs`
//! (contact ↔ company), this file (the requests and the dispatch by
//! object type).

mod associations;
mod companies;
mod config;
mod contacts;
mod errors;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{Map, Value};

pub use self::config::{IntercomConfig, IntercomRegion, DEFAULT_API_VERSION};
use self::errors::{classify, remaining_in_window};
use crate::adapters::http::{HttpClient, HttpRequest, HttpResponse};
use crate::adapters::{
    Access, Adapter, AdapterError, AdapterErrorKind, AssociationAdapter, RemoteDelete, Throttle,
    UpsertRequest, WriteMode,
};
use crate::error::ConfigError;
use crate::payload::Payload;

/// The header naming the API version of a request (INTERCOM-2).
const VERSION_HEADER: &str = "intercom-version";

/// The object types the adapter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectType {
    Contacts,
    Companies,
}

impl ObjectType {
    /// `contacts` or `companies`; anything else is refused before a request.
    fn of(object_type: &str) -> Result<Self, AdapterError> {
        match object_type {
            "contacts" => Ok(Self::Contacts),
            "companies" => Ok(Self::Companies),
            other => Err(AdapterError::new(
                AdapterErrorKind::ValidationFailed,
                format!("{other:?} is not an Intercom object type the adapter writes (contacts, companies)"),
            )),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
        }
    }
}

/// The Intercom adapter.
#[derive(Debug)]
pub struct IntercomAdapter {
    http: HttpClient,
    version: HeaderValue,
}

impl IntercomAdapter {
    /// An adapter for the workspace of `config.token`.
    pub fn new(config: IntercomConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let version = HeaderValue::from_str(&config.api_version)
            .map_err(|_| ConfigError::new("intercom", "api_version", "must be printable ASCII"))?;
        let http = HttpClient::new(
            config.get_base_url(),
            &config.token,
            config.http,
            config.connections.as_ref(),
        )?
        .with_remaining_header(remaining_in_window);
        Ok(Self { http, version })
    }

    /// A request to `segments` carrying the `Intercom-Version` header.
    fn request(&self, method: Method, segments: &[&str]) -> HttpRequest {
        HttpRequest::new(method, segments.iter().copied()).header(
            HeaderName::from_static(VERSION_HEADER),
            self.version.clone(),
        )
    }

    async fn send(
        &self,
        request: &HttpRequest,
        throttle: &Throttle<'_>,
    ) -> Result<HttpResponse, AdapterError> {
        self.http.send(request, classify, throttle).await
    }
}

/// An object's `id` in an answer.
fn object_id(body: &Value) -> Option<String> {
    match body.get("id")? {
        Value::String(id) if is_object_id(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// Intercom's ids are letters and digits (INTERCOM-7): anything else
/// names no object and is never put in a URL.
pub(crate) fn is_object_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The body of a write: the object's own attributes `standard` at the
/// top, every other property under `custom_attributes` (INTERCOM-3),
/// `skipped` left out.
fn body(payload: &Payload, standard: &[&str], skipped: Option<&str>) -> Map<String, Value> {
    let mut body = Map::new();
    let mut custom = Map::new();
    for (name, value) in payload {
        if Some(name.as_str()) == skipped {
            continue;
        }
        if name == "custom_attributes" {
            if let Value::Object(attributes) = value {
                custom.extend(attributes.clone());
            }
        } else if standard.contains(&name.as_str()) {
            body.insert(name.clone(), value.clone());
        } else {
            custom.insert(name.clone(), value.clone());
        }
    }
    if !custom.is_empty() {
        body.insert("custom_attributes".to_owned(), Value::Object(custom));
    }
    body
}

#[async_trait]
impl Adapter for IntercomAdapter {
    fn kind(&self) -> &'static str {
        "intercom"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        match ObjectType::of(request.object_type)? {
            ObjectType::Contacts => contacts::upsert(self, request, throttle).await,
            ObjectType::Companies => companies::upsert(self, request, throttle).await,
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
        let object_type = ObjectType::of(object_type)?;
        let crm_id = crm_id.trim();
        if !is_object_id(crm_id) {
            return Ok(RemoteDelete::NotFound);
        }
        let request = self.request(Method::DELETE, &[object_type.path(), crm_id]);
        match self.send(&request, throttle).await {
            Ok(_) => Ok(RemoteDelete::Deleted),
            Err(error) if error.kind() == AdapterErrorKind::NotFound => Ok(RemoteDelete::NotFound),
            Err(error) => Err(error),
        }
    }

    /// `GET /me`: the token's admin and workspace (INTERCOM-8).
    async fn check_access(
        &self,
        object_type: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Access, AdapterError> {
        ObjectType::of(object_type)?;
        self.send(&self.request(Method::GET, &["me"]), throttle)
            .await?;
        Ok(Access::Granted)
    }

    fn associations(&self) -> Option<&dyn AssociationAdapter> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn intercom_properties_outside_the_object_go_to_custom_attributes() {
        let mut payload = Payload::new();
        payload.insert("email".into(), json!("ann@example.com"));
        payload.insert("name".into(), json!("Ann"));
        payload.insert("plan".into(), json!("pro"));
        payload.insert("custom_attributes".into(), json!({"seats": 3}));
        let body = body(&payload, contacts::STANDARD, Some("email"));
        assert_eq!(
            Value::Object(body),
            json!({"name": "Ann", "custom_attributes": {"plan": "pro", "seats": 3}})
        );
        assert!(is_object_id("5da6f18e3d7cf967e4582d05"));
        for hostile in ["", "..", "a/b", "a?b", "a b"] {
            assert!(!is_object_id(hostile), "{hostile}");
        }
        assert!(ObjectType::of("contacts/../x").is_err());
    }
}
