//! The Brevo adapter (docs/ADAPTERS.md, "Brevo"): contacts created or
//! updated by email or `ext_id` (one request each, `updateEnabled`),
//! updated and deleted by their contact id once known, attributes named
//! after the payload's fields in capitals, the configured lists joined and
//! left, the contacts endpoints' rate-limit headers read from every answer
//! (BREVO-1..BREVO-6).
//!
//! Files: `config.rs` (settings), `errors.rs` (error answers and the
//! rate-limit headers), this file (the contact requests). Brevo has no
//! batch endpoint whose answer says what became of each contact (BREVO-6),
//! so the adapter has no batch path: the engine sends one request per
//! record, within the contacts endpoints' limit.

mod config;
mod errors;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Map, Value};

pub use self::config::{BrevoConfig, DEFAULT_BASE_URL};
use self::errors::{classify, remaining_in_window};
use crate::adapters::http::{HttpClient, HttpRequest};
use crate::adapters::{
    id_value, no_object_to_update, Access, Adapter, AdapterError, AdapterErrorKind, RemoteDelete,
    Throttle, UpsertRequest, WriteMode,
};
use crate::error::ConfigError;
use crate::payload::Payload;

/// The only object type Brevo's contacts API holds.
pub const CONTACTS: &str = "contacts";

/// The header carrying the account's key (BREVO-1).
const API_KEY: HeaderName = HeaderName::from_static("api-key");

/// The Brevo adapter.
#[derive(Debug)]
pub struct BrevoAdapter {
    /// The contacts endpoints, their rate-limit headers fed to the CRM's limiter.
    contacts: HttpClient,
    /// The account endpoint (`check --crms`): another limit, not fed.
    account: HttpClient,
    /// Marked sensitive: shown as `Sensitive` in any `Debug`.
    api_key: HeaderValue,
    list_ids: Vec<u64>,
    unlink_list_ids: Vec<u64>,
}

/// How a contact is named in a path: Brevo's `identifierType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identifier {
    /// The contact id Brevo gave it (`contact_id`).
    ContactId,
    /// Its email address (`email_id`).
    Email,
    /// The application's own id (`ext_id`).
    ExtId,
}

impl Identifier {
    /// The identifier a binding's id property names: `email` or `ext_id`.
    fn of_id_property(id_property: &str) -> Result<Self, AdapterError> {
        match id_property {
            "email" => Ok(Self::Email),
            "ext_id" => Ok(Self::ExtId),
            other => Err(AdapterError::new(
                AdapterErrorKind::Other,
                format!(
                    "Brevo matches contacts by \"email\" or \"ext_id\": the binding's id \
                     property {other:?} is neither"
                ),
            )),
        }
    }

    fn query_value(self) -> &'static str {
        match self {
            Self::ContactId => "contact_id",
            Self::Email => "email_id",
            Self::ExtId => "ext_id",
        }
    }
}

/// The parts of a contact a payload fills (BREVO-2): `email` and `ext_id`
/// are the contact's identifiers, every other field an attribute named in
/// capitals (`first_name` → `FIRST_NAME`), as Brevo names attributes.
struct ContactFields {
    email: Option<Value>,
    ext_id: Option<Value>,
    attributes: Map<String, Value>,
}

impl ContactFields {
    fn of(payload: &Payload) -> Self {
        let mut fields = Self {
            email: None,
            ext_id: None,
            attributes: Map::new(),
        };
        for (name, value) in payload {
            match name.as_str() {
                "email" => fields.email = Some(lowercase(value)),
                // Brevo's ext_id is text; an integer key is sent as its digits.
                "ext_id" => {
                    fields.ext_id = Some(match value {
                        Value::Number(number) => Value::String(number.to_string()),
                        other => other.clone(),
                    })
                }
                _ => {
                    fields
                        .attributes
                        .insert(name.to_ascii_uppercase(), value.clone());
                }
            }
        }
        fields
    }
}

/// Brevo compares email addresses in lower case.
fn lowercase(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(text.to_lowercase()),
        other => other.clone(),
    }
}

/// A contact id: Brevo's are positive integers. Anything else names no
/// contact and is never put in a URL.
fn contact_id(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|id| *id > 0)
}

/// The object type must be `contacts`: the only one Brevo's
/// contacts API holds.
fn check_object_type(object_type: &str) -> Result<(), AdapterError> {
    if object_type == CONTACTS {
        return Ok(());
    }
    Err(AdapterError::new(
        AdapterErrorKind::ValidationFailed,
        format!("Brevo writes contacts only: the object type {object_type:?} is not \"contacts\""),
    ))
}

impl BrevoAdapter {
    /// An adapter for the account of `config.api_key`.
    pub fn new(config: BrevoConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut api_key = HeaderValue::from_str(config.api_key.expose())
            .map_err(|_| ConfigError::new("brevo", "api_key", "must be printable ASCII"))?;
        api_key.set_sensitive(true);
        // Segments are appended to the base path: no trailing slash.
        let base_url = config.base_url.trim_end_matches('/');
        let client = || {
            HttpClient::without_credential(base_url, config.http, config.connections.as_ref())
                .map_err(|error| ConfigError::new("brevo", error.field(), error.expected()))
        };
        Ok(Self {
            contacts: client()?.with_remaining_header(remaining_in_window),
            account: client()?,
            api_key,
            list_ids: config.list_ids,
            unlink_list_ids: config.unlink_list_ids,
        })
    }

    /// A request to `segments`, carrying the key.
    fn request<const N: usize>(&self, method: Method, segments: [&str; N]) -> HttpRequest {
        HttpRequest::new(method, segments).header(API_KEY, self.api_key.clone())
    }

    /// `…/contacts/{identifier}?identifierType=…`.
    fn contact_request(&self, method: Method, identifier: &str, kind: Identifier) -> HttpRequest {
        self.request(method, [CONTACTS, identifier])
            .query("identifierType", kind.query_value())
    }

    /// `POST /contacts` (BREVO-2): creates the contact or, with
    /// `update_enabled`, updates the one holding its email or `ext_id`
    /// (without it, that contact's identifier is a `duplicate_parameter`
    /// refusal). Safe to repeat either way (an identifier is held once), so
    /// a lost answer is retried like any other. The contact id when Brevo
    /// created one (201); `None` when it updated one (204).
    async fn create_or_update(
        &self,
        fields: &ContactFields,
        update_enabled: bool,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let mut body = Map::new();
        if let Some(email) = &fields.email {
            body.insert("email".to_owned(), email.clone());
        }
        if let Some(ext_id) = &fields.ext_id {
            body.insert("ext_id".to_owned(), ext_id.clone());
        }
        body.insert(
            "attributes".to_owned(),
            Value::Object(fields.attributes.clone()),
        );
        if !self.list_ids.is_empty() {
            body.insert("listIds".to_owned(), json!(self.list_ids));
        }
        if update_enabled {
            body.insert("updateEnabled".to_owned(), Value::Bool(true));
        }
        let request = self
            .request(Method::POST, [CONTACTS])
            .json(Value::Object(body));
        let response = self.contacts.send(&request, classify, throttle).await?;
        Ok(number_or_text(response.body.get("id")))
    }

    /// `PUT /contacts/{id}?identifierType=contact_id` (BREVO-2): the
    /// attributes, a changed email (`EMAIL`), `ext_id`, and the lists
    /// joined and left. `skip_email`: the email is for matching only.
    async fn update(
        &self,
        id: u64,
        fields: &ContactFields,
        skip_email: bool,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        let mut attributes = fields.attributes.clone();
        if let (Some(email), false) = (&fields.email, skip_email) {
            attributes.insert("EMAIL".to_owned(), email.clone());
        }
        let mut body = Map::new();
        body.insert("attributes".to_owned(), Value::Object(attributes));
        if let Some(ext_id) = &fields.ext_id {
            body.insert("ext_id".to_owned(), ext_id.clone());
        }
        if !self.list_ids.is_empty() {
            body.insert("listIds".to_owned(), json!(self.list_ids));
        }
        if !self.unlink_list_ids.is_empty() {
            body.insert("unlinkListIds".to_owned(), json!(self.unlink_list_ids));
        }
        let request = self
            .contact_request(Method::PUT, &id.to_string(), Identifier::ContactId)
            .json(Value::Object(body));
        self.contacts
            .send(&request, classify, throttle)
            .await
            .map(|_| ())
    }

    /// `create_only`: a new contact is created; an existing one (its
    /// identifier refused as a duplicate) is left as it is, its id read.
    async fn create_only(
        &self,
        fields: &ContactFields,
        value: &str,
        identifier: Identifier,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        match self.create_or_update(fields, false, throttle).await {
            Ok(Some(created)) => Ok(Some(created)),
            Ok(None) => Err(AdapterError::new(
                AdapterErrorKind::Transient,
                "Brevo answered a create without the contact's id",
            )),
            Err(error) if error.category.as_deref() == Some("duplicate_parameter") => {
                let (id, _) = self.find(value, identifier, throttle).await?;
                Ok(Some(id.to_string()))
            }
            Err(error) => Err(error),
        }
    }

    /// `GET /contacts/{identifier}`: the contact's id and its lists.
    async fn find(
        &self,
        value: &str,
        kind: Identifier,
        throttle: &Throttle<'_>,
    ) -> Result<(u64, Vec<u64>), AdapterError> {
        let request = self.contact_request(Method::GET, value, kind);
        let response = self.contacts.send(&request, classify, throttle).await?;
        let id = number_or_text(response.body.get("id"))
            .as_deref()
            .and_then(contact_id)
            .ok_or_else(|| {
                AdapterError::new(
                    AdapterErrorKind::Transient,
                    "Brevo answered a contact without an id",
                )
            })?;
        let lists = response
            .body
            .get("listIds")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        Ok((id, lists))
    }
}

/// An id Brevo gave as a number (or text), as text.
fn number_or_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(id) => Some(id.to_string()),
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        _ => None,
    }
}

#[async_trait]
impl Adapter for BrevoAdapter {
    fn kind(&self) -> &'static str {
        "brevo"
    }

    fn supports_mode(&self, _mode: WriteMode) -> bool {
        true
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        check_object_type(request.object_type)?;
        let identifier = Identifier::of_id_property(request.id_property)?;
        let fields = ContactFields::of(request.payload);
        let mode = request.mode;
        // a known contact is updated by its id, in one request.
        if let Some(id) = request.crm_id.and_then(contact_id) {
            if mode == WriteMode::CreateOnly {
                // The contact exists: never updated in create_only.
                return Ok(Some(id.to_string()));
            }
            let skip_email = request.id_property_only_on_create && identifier == Identifier::Email;
            match self.update(id, &fields, skip_email, throttle).await {
                Ok(()) => return Ok(Some(id.to_string())),
                // Deleted in Brevo meanwhile: created again by its identifier.
                Err(error) if error.kind() == AdapterErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        let Some(value) = id_value(request.payload, request.id_property) else {
            return Err(AdapterError::new(
                AdapterErrorKind::ValidationFailed,
                format!(
                    "the record has no {} value to match a Brevo contact by",
                    request.id_property
                ),
            ));
        };
        let value = match identifier {
            Identifier::Email => value.to_lowercase(),
            _ => value,
        };
        match mode {
            WriteMode::Upsert => {}
            WriteMode::CreateOnly => {
                return self
                    .create_only(&fields, &value, identifier, throttle)
                    .await
            }
            WriteMode::UpdateOnly => {
                let id = match self.find(&value, identifier, throttle).await {
                    Ok((id, _)) => id,
                    Err(error) if error.kind() == AdapterErrorKind::NotFound => {
                        return Err(no_object_to_update(
                            request.object_type,
                            request.id_property,
                        ))
                    }
                    Err(error) => return Err(error),
                };
                self.update(id, &fields, false, throttle).await?;
                return Ok(Some(id.to_string()));
            }
        }
        if let Some(created) = self.create_or_update(&fields, true, throttle).await? {
            return Ok(Some(created));
        }
        // 204: an existing contact was updated; its id is read once (the
        // engine keeps it, so the next syncs update it by id).
        let (id, lists) = self.find(&value, identifier, throttle).await?;
        if lists.iter().any(|list| self.unlink_list_ids.contains(list)) {
            // The create-or-update request cannot leave lists.
            self.update(id, &fields, true, throttle).await?;
        }
        Ok(Some(id.to_string()))
    }

    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
        check_object_type(object_type)?;
        let Some(id) = contact_id(crm_id) else {
            return Ok(RemoteDelete::NotFound);
        };
        let request = self.contact_request(Method::DELETE, &id.to_string(), Identifier::ContactId);
        match self.contacts.send(&request, classify, throttle).await {
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
        check_object_type(object_type)?;
        let request = self.request(Method::GET, ["account"]);
        self.account.send(&request, classify, throttle).await?;
        Ok(Access::Granted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brevo_fields_map_to_identifiers_and_capitalised_attributes() {
        let payload: Payload =
            json!({"email": "Ann@Example.com", "ext_id": "u-1", "first_name": "Ann", "score": 3})
                .as_object()
                .cloned()
                .unwrap();
        let fields = ContactFields::of(&payload);
        assert_eq!(fields.email, Some(json!("ann@example.com")));
        assert_eq!(fields.ext_id, Some(json!("u-1")));
        assert_eq!(
            Value::Object(fields.attributes),
            json!({"FIRST_NAME": "Ann", "SCORE": 3})
        );
        assert_eq!(contact_id("42"), Some(42));
        for hostile in ["", "0", "../42", "42/../1", "4 2", "-1", "42?x"] {
            assert_eq!(contact_id(hostile), None, "{hostile}");
        }
        assert!(check_object_type("contacts").is_ok());
        assert!(check_object_type("contacts/../account").is_err());
        assert!(Identifier::of_id_property("phone").is_err());
    }
}
