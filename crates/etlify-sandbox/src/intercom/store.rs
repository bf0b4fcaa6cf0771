//! The workspace's contacts and companies (INTERCOM-3, INTERCOM-4): each
//! write checked whole before it is applied, `external_id` unique among
//! contacts and `email` among users, companies identified by `company_id`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::config::{IntercomAttributeKind, IntercomConfig};
use super::errors::IntercomError;

/// A contact's own attributes, besides `custom_attributes`.
const CONTACT_FIELDS: &[&str] = &[
    "role",
    "external_id",
    "email",
    "phone",
    "name",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "owner_id",
    "unsubscribed_from_emails",
];

/// A company's own attributes, besides `custom_attributes`.
const COMPANY_FIELDS: &[&str] = &[
    "company_id",
    "name",
    "plan",
    "size",
    "website",
    "industry",
    "remote_created_at",
    "monthly_spend",
];

/// One contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntercomContact {
    /// Intercom's id (24 hexadecimal digits).
    pub id: String,
    /// Its own attributes (`role`, `external_id`, `email`, `name`…).
    pub attributes: Map<String, Value>,
    /// Its custom attributes.
    pub custom_attributes: Map<String, Value>,
    /// The ids of the companies it is attached to.
    pub companies: Vec<String>,
}

impl IntercomContact {
    /// An attribute as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(Value::as_str)
    }
}

/// One company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntercomCompany {
    /// Intercom's id.
    pub id: String,
    /// Its own attributes (`company_id`, `name`…).
    pub attributes: Map<String, Value>,
    /// Its custom attributes.
    pub custom_attributes: Map<String, Value>,
}

/// The store's persisted form.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct IntercomSnapshot {
    next_id: u64,
    contacts: BTreeMap<String, IntercomContact>,
    companies: BTreeMap<String, IntercomCompany>,
}

/// Contacts and companies, by id (ids grow, so the maps hold them in
/// creation order).
#[derive(Debug)]
pub(crate) struct IntercomStore {
    contact_kinds: BTreeMap<String, IntercomAttributeKind>,
    company_kinds: BTreeMap<String, IntercomAttributeKind>,
    search_lag: Duration,
    contacts: BTreeMap<String, IntercomContact>,
    companies: BTreeMap<String, IntercomCompany>,
    /// When each contact was created, for the search's lag.
    created: HashMap<String, Instant>,
    next_id: u64,
}

impl IntercomStore {
    pub(crate) fn new(config: &IntercomConfig) -> Self {
        Self {
            contact_kinds: config.contact_kinds(),
            company_kinds: config.company_kinds(),
            search_lag: Duration::from_millis(config.search_lag_ms),
            contacts: BTreeMap::new(),
            companies: BTreeMap::new(),
            created: HashMap::new(),
            next_id: 1,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.contacts.clear();
        self.companies.clear();
        self.created.clear();
        self.next_id = 1;
    }

    pub(crate) fn snapshot(&self) -> IntercomSnapshot {
        IntercomSnapshot {
            next_id: self.next_id,
            contacts: self.contacts.clone(),
            companies: self.companies.clone(),
        }
    }

    pub(crate) fn restore(&mut self, snapshot: IntercomSnapshot) {
        self.next_id = snapshot.next_id.max(1);
        self.contacts = snapshot.contacts;
        self.companies = snapshot.companies;
    }

    pub(crate) fn contacts(&self) -> Vec<IntercomContact> {
        self.contacts.values().cloned().collect()
    }

    pub(crate) fn companies(&self) -> Vec<IntercomCompany> {
        self.companies.values().cloned().collect()
    }

    fn new_id(&mut self) -> String {
        let id = format!("{:024x}", 0x5e0d_0000_0000_0000_u64 + self.next_id);
        self.next_id += 1;
        id
    }

    /// `POST /contacts`.
    pub(crate) fn create_contact(
        &mut self,
        body: Map<String, Value>,
        now: Instant,
    ) -> Result<Value, IntercomError> {
        let (mut attributes, custom) = split(body, CONTACT_FIELDS, &self.contact_kinds)?;
        attributes
            .entry("role")
            .or_insert_with(|| Value::String("user".to_owned()));
        check_contact(&attributes)?;
        self.check_unique(&attributes, None)?;
        let id = self.new_id();
        let contact = IntercomContact {
            id: id.clone(),
            attributes,
            custom_attributes: custom,
            companies: Vec::new(),
        };
        let json = contact_json(&contact);
        self.contacts.insert(id.clone(), contact);
        self.created.insert(id, now);
        Ok(json)
    }

    /// `PUT /contacts/{id}`: the attributes given replace those held.
    pub(crate) fn update_contact(
        &mut self,
        id: &str,
        body: Map<String, Value>,
    ) -> Result<Value, IntercomError> {
        let (attributes, custom) = split(body, CONTACT_FIELDS, &self.contact_kinds)?;
        let current = self
            .contacts
            .get(id)
            .ok_or(IntercomError::NotFound("Contact"))?;
        let mut merged = current.attributes.clone();
        merged.extend(attributes);
        check_contact(&merged)?;
        self.check_unique(&merged, Some(id))?;
        let contact = self
            .contacts
            .get_mut(id)
            .ok_or(IntercomError::NotFound("Contact"))?;
        contact.attributes = merged;
        contact.custom_attributes.extend(custom);
        Ok(contact_json(contact))
    }

    /// `DELETE /contacts/{id}`.
    pub(crate) fn delete_contact(&mut self, id: &str) -> Result<Value, IntercomError> {
        let contact = self
            .contacts
            .remove(id)
            .ok_or(IntercomError::NotFound("Contact"))?;
        self.created.remove(id);
        Ok(json!({
            "id": contact.id,
            "external_id": contact.attributes.get("external_id"),
            "type": "contact",
            "deleted": true,
        }))
    }

    /// `POST /contacts/search` of `filter`, the matches in creation order
    /// (contacts newer than the lag left out).
    pub(crate) fn search(&self, filter: &Filter, now: Instant) -> Vec<Value> {
        self.contacts
            .values()
            .filter(|contact| {
                self.created
                    .get(&contact.id)
                    .is_none_or(|at| now.duration_since(*at) >= self.search_lag)
            })
            .filter(|contact| filter.matches(contact))
            .map(contact_json)
            .collect()
    }

    /// `POST /companies`: created, or updated when `company_id` is held.
    pub(crate) fn upsert_company(
        &mut self,
        body: Map<String, Value>,
    ) -> Result<Value, IntercomError> {
        let (attributes, custom) = split(body, COMPANY_FIELDS, &self.company_kinds)?;
        let Some(company_id) = attributes
            .get("company_id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
        else {
            return Err(IntercomError::Invalid(
                "company_id must be a non-empty string".to_owned(),
            ));
        };
        let held = self
            .company_by_company_id(&company_id)
            .map(|c| c.id.clone());
        let id = match held {
            Some(id) => id,
            None => {
                let id = self.new_id();
                let company = IntercomCompany {
                    id: id.clone(),
                    attributes: Map::new(),
                    custom_attributes: Map::new(),
                };
                self.companies.insert(id.clone(), company);
                id
            }
        };
        let company = self
            .companies
            .get_mut(&id)
            .ok_or(IntercomError::NotFound("Company"))?;
        company.attributes.extend(attributes);
        company.custom_attributes.extend(custom);
        let company = company.clone();
        Ok(self.company_json(&company))
    }

    /// `GET /companies?company_id=`.
    pub(crate) fn find_company(&self, company_id: &str) -> Result<Value, IntercomError> {
        let company = self
            .company_by_company_id(company_id)
            .ok_or(IntercomError::NotFound("Company"))?;
        Ok(self.company_json(company))
    }

    /// `DELETE /companies/{id}`: detached from its contacts too.
    pub(crate) fn delete_company(&mut self, id: &str) -> Result<Value, IntercomError> {
        self.companies
            .remove(id)
            .ok_or(IntercomError::NotFound("Company"))?;
        for contact in self.contacts.values_mut() {
            contact.companies.retain(|company| company != id);
        }
        Ok(json!({ "id": id, "object": "company", "deleted": true }))
    }

    /// `POST /contacts/{id}/companies` (attach) or `DELETE
    /// /contacts/{id}/companies/{company}` (detach).
    pub(crate) fn attach(
        &mut self,
        contact: &str,
        company: &str,
        attached: bool,
    ) -> Result<Value, IntercomError> {
        let found = self
            .companies
            .get(company)
            .cloned()
            .ok_or(IntercomError::NotFound("Company"))?;
        let contact = self
            .contacts
            .get_mut(contact)
            .ok_or(IntercomError::NotFound("Contact"))?;
        contact.companies.retain(|held| held != company);
        if attached {
            contact.companies.push(company.to_owned());
        }
        Ok(self.company_json(&found))
    }

    fn company_by_company_id(&self, company_id: &str) -> Option<&IntercomCompany> {
        self.companies
            .values()
            .find(|c| c.attributes.get("company_id").and_then(Value::as_str) == Some(company_id))
    }

    fn company_json(&self, company: &IntercomCompany) -> Value {
        let users = self
            .contacts
            .values()
            .filter(|contact| contact.companies.contains(&company.id))
            .count();
        let mut json = Map::new();
        json.insert("type".into(), json!("company"));
        json.insert("id".into(), json!(company.id));
        json.extend(company.attributes.clone());
        json.insert("user_count".into(), json!(users));
        json.insert(
            "custom_attributes".into(),
            Value::Object(company.custom_attributes.clone()),
        );
        Value::Object(json)
    }

    /// A contact of `attributes` (the contact `except` aside) would share
    /// its external id with another, or, a user, its email with a user.
    fn check_unique(
        &self,
        attributes: &Map<String, Value>,
        except: Option<&str>,
    ) -> Result<(), IntercomError> {
        let text = |a: &Map<String, Value>, key: &str| {
            a.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase)
        };
        let external_id = attributes
            .get("external_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let email = text(attributes, "email");
        let is_user = attributes.get("role").and_then(Value::as_str) == Some("user");
        for other in self.contacts.values() {
            if Some(other.id.as_str()) == except {
                continue;
            }
            let same_external_id =
                external_id.is_some() && other.text("external_id") == external_id;
            let same_user_email = is_user
                && email.is_some()
                && other.text("role") == Some("user")
                && text(&other.attributes, "email") == email;
            if same_external_id || same_user_email {
                return Err(IntercomError::Conflict(other.id.clone()));
            }
        }
        Ok(())
    }
}

/// A body's own attributes and its custom ones.
type Split = (Map<String, Value>, Map<String, Value>);

/// A write's body split into its own attributes and custom ones; a key the
/// object does not have, a custom attribute the workspace does not have or
/// a value of the wrong type refuses it whole.
fn split(
    body: Map<String, Value>,
    own: &[&str],
    kinds: &BTreeMap<String, IntercomAttributeKind>,
) -> Result<Split, IntercomError> {
    let mut attributes = Map::new();
    let mut custom = Map::new();
    for (key, value) in body {
        if key == "custom_attributes" {
            let Value::Object(values) = value else {
                return Err(IntercomError::Invalid(
                    "custom_attributes must be an object".to_owned(),
                ));
            };
            for (name, value) in values {
                let Some(kind) = kinds.get(&name) else {
                    return Err(IntercomError::Invalid(format!(
                        "Custom attribute '{name}' does not exist"
                    )));
                };
                let fits = match kind {
                    _ if value.is_null() => true,
                    IntercomAttributeKind::String => value.is_string(),
                    IntercomAttributeKind::Number => value.is_number(),
                    IntercomAttributeKind::Boolean => value.is_boolean(),
                };
                if !fits {
                    return Err(IntercomError::Invalid(format!(
                        "Custom attribute '{name}' must be a {kind:?}, got {value}"
                    )));
                }
                custom.insert(name, value);
            }
        } else if own.contains(&key.as_str()) {
            attributes.insert(key, value);
        } else {
            return Err(IntercomError::Invalid(format!(
                "{key} is not a valid parameter"
            )));
        }
    }
    Ok((attributes, custom))
}

/// A contact's role is `user` or `lead`, and a user has an email or an
/// external id.
fn check_contact(attributes: &Map<String, Value>) -> Result<(), IntercomError> {
    let role = attributes.get("role").and_then(Value::as_str);
    if !matches!(role, Some("user" | "lead")) {
        return Err(IntercomError::Invalid(
            "role must be user or lead".to_owned(),
        ));
    }
    for key in ["external_id", "email", "name", "phone"] {
        if attributes
            .get(key)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(IntercomError::Invalid(format!("{key} must be a string")));
        }
    }
    let has = |key: &str| {
        attributes
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if role == Some("user") && !has("email") && !has("external_id") {
        return Err(IntercomError::Invalid(
            "a user needs an email or an external_id".to_owned(),
        ));
    }
    Ok(())
}

/// A contact as the API answers it.
fn contact_json(contact: &IntercomContact) -> Value {
    let mut json = Map::new();
    json.insert("type".into(), json!("contact"));
    json.insert("id".into(), json!(contact.id));
    json.insert("workspace_id".into(), json!("sandbox"));
    json.extend(contact.attributes.clone());
    json.insert(
        "custom_attributes".into(),
        Value::Object(contact.custom_attributes.clone()),
    );
    let companies: Vec<Value> = contact
        .companies
        .iter()
        .map(|id| json!({ "type": "company", "id": id }))
        .collect();
    json.insert(
        "companies".into(),
        json!({ "type": "list", "data": companies, "total_count": contact.companies.len() }),
    );
    Value::Object(json)
}

/// A search's query (INTERCOM-4): one comparison, or `AND`/`OR` of some
/// (nested twice at most).
#[derive(Debug)]
pub(crate) enum Filter {
    /// `field` compared with `value`: `=`, `!=`, `IN`, `NIN`.
    Compare {
        field: String,
        operator: String,
        value: Value,
    },
    /// All (`AND`) or any (`OR`) of the filters.
    Group { all: bool, filters: Vec<Filter> },
}

impl Filter {
    /// The query of a search body, or why it is refused.
    pub(crate) fn parse(query: &Value, depth: usize) -> Result<Self, IntercomError> {
        let invalid = |message: &str| IntercomError::Invalid(message.to_owned());
        let operator = query
            .get("operator")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("query.operator is required"))?;
        let value = query
            .get("value")
            .ok_or_else(|| invalid("query.value is required"))?;
        if let Some(all) = match operator {
            "AND" => Some(true),
            "OR" => Some(false),
            _ => None,
        } {
            if depth >= 2 {
                return Err(invalid("a query nests at most 2 filters deep"));
            }
            let filters = value
                .as_array()
                .ok_or_else(|| invalid("an AND or OR takes a list of filters"))?;
            if filters.len() > 15 {
                return Err(invalid("at most 15 filters per AND or OR"));
            }
            let filters = filters
                .iter()
                .map(|f| Self::parse(f, depth + 1))
                .collect::<Result<_, _>>()?;
            return Ok(Self::Group { all, filters });
        }
        if !matches!(operator, "=" | "!=" | "IN" | "NIN") {
            return Err(IntercomError::Invalid(format!(
                "the sandbox serves the operators =, !=, IN, NIN, AND, OR; not {operator}"
            )));
        }
        let field = query
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("query.field is required"))?;
        Ok(Self::Compare {
            field: field.to_owned(),
            operator: operator.to_owned(),
            value: value.clone(),
        })
    }

    fn matches(&self, contact: &IntercomContact) -> bool {
        match self {
            Self::Group { all: true, filters } => filters.iter().all(|f| f.matches(contact)),
            Self::Group {
                all: false,
                filters,
            } => filters.iter().any(|f| f.matches(contact)),
            Self::Compare {
                field,
                operator,
                value,
            } => {
                let held = match field.strip_prefix("custom_attributes.") {
                    Some(name) => contact.custom_attributes.get(name).cloned(),
                    None if field == "id" => Some(Value::String(contact.id.clone())),
                    None => contact.attributes.get(field.as_str()).cloned(),
                };
                let equal = |wanted: &Value| same(field, held.as_ref(), wanted);
                match operator.as_str() {
                    "=" => equal(value),
                    "!=" => !equal(value),
                    "IN" => value.as_array().is_some_and(|v| v.iter().any(equal)),
                    _ => !value.as_array().is_some_and(|v| v.iter().any(equal)),
                }
            }
        }
    }
}

/// Whether `held` equals `wanted`: emails regardless of case, text as
/// text, other values as JSON.
fn same(field: &str, held: Option<&Value>, wanted: &Value) -> bool {
    match (held, wanted) {
        (Some(Value::String(held)), Value::String(wanted)) if field == "email" => {
            held.eq_ignore_ascii_case(wanted)
        }
        (Some(Value::String(held)), Value::String(wanted)) => held == wanted,
        (Some(held), wanted) => held == wanted || as_text(held) == as_text(wanted),
        (None, Value::Null) => true,
        (None, _) => false,
    }
}

/// A value as the text a search compares (`12` and `"12"` alike).
fn as_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(text) => std::borrow::Cow::Borrowed(text),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}
