//! The account's contacts (BREVO-2, BREVO-4): created, or updated when
//! their email or `ext_id` is known, updated, read and deleted by an
//! identifier, each identifier held by one contact at most.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::config::{builtin_attributes, BrevoAttributeKind, BrevoConfig};
use super::errors::BrevoError;

/// One stored contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrevoContact {
    /// Brevo's contact id.
    pub id: u64,
    /// Its email address, in lower case.
    pub email: Option<String>,
    /// The application's id of it.
    pub ext_id: Option<String>,
    /// Its attributes, by name in capitals.
    pub attributes: Map<String, Value>,
    /// The lists it is in.
    pub list_ids: BTreeSet<u64>,
}

/// How a path names a contact (`identifierType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentifierType {
    ContactId,
    Email,
    ExtId,
}

impl IdentifierType {
    /// The `identifierType` query value; without one, Brevo reads a number
    /// as a contact id and anything with `@` as an email.
    pub(crate) fn of(query: Option<&str>, identifier: &str) -> Result<Self, BrevoError> {
        match query {
            Some("contact_id") => Ok(Self::ContactId),
            Some("email_id") => Ok(Self::Email),
            Some("ext_id") => Ok(Self::ExtId),
            Some(other) => Err(BrevoError::InvalidParameter(format!(
                "identifierType {other} is not supported"
            ))),
            None if identifier.chars().all(|c| c.is_ascii_digit()) => Ok(Self::ContactId),
            None => Ok(Self::Email),
        }
    }
}

/// The store's persisted form.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct BrevoSnapshot {
    next_id: u64,
    contacts: BTreeMap<u64, BrevoContact>,
}

/// What `POST /contacts` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Created(u64),
    Updated,
}

/// The parts of a write's body the store applies.
#[derive(Debug, Default)]
pub(crate) struct ContactWrite {
    pub(crate) email: Option<String>,
    pub(crate) ext_id: Option<String>,
    pub(crate) attributes: Map<String, Value>,
    pub(crate) list_ids: Vec<u64>,
    pub(crate) unlink_list_ids: Vec<u64>,
}

/// All contacts of the account.
#[derive(Debug)]
pub(crate) struct BrevoStore {
    attributes: BTreeMap<String, BrevoAttributeKind>,
    lists: BTreeSet<u64>,
    contacts: BTreeMap<u64, BrevoContact>,
    next_id: u64,
}

impl BrevoStore {
    pub(crate) fn new(config: &BrevoConfig) -> Self {
        let mut attributes = builtin_attributes();
        attributes.extend(config.attributes.clone());
        Self {
            attributes,
            lists: config.lists.iter().copied().collect(),
            contacts: BTreeMap::new(),
            next_id: 1,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.contacts.clear();
        self.next_id = 1;
    }

    pub(crate) fn snapshot(&self) -> BrevoSnapshot {
        BrevoSnapshot {
            next_id: self.next_id,
            contacts: self.contacts.clone(),
        }
    }

    pub(crate) fn restore(&mut self, snapshot: BrevoSnapshot) {
        self.next_id = snapshot.next_id.max(1);
        self.contacts = snapshot.contacts;
    }

    /// Every contact, by id.
    pub(crate) fn dump(&self) -> Vec<BrevoContact> {
        self.contacts.values().cloned().collect()
    }

    /// The id of the contact `identifier` names.
    pub(crate) fn find(&self, identifier: &str, kind: IdentifierType) -> Option<u64> {
        match kind {
            IdentifierType::ContactId => identifier
                .parse::<u64>()
                .ok()
                .filter(|id| self.contacts.contains_key(id)),
            IdentifierType::Email => {
                let email = identifier.to_lowercase();
                self.contacts
                    .values()
                    .find(|c| c.email.as_deref() == Some(email.as_str()))
                    .map(|c| c.id)
            }
            IdentifierType::ExtId => self
                .contacts
                .values()
                .find(|c| c.ext_id.as_deref() == Some(identifier))
                .map(|c| c.id),
        }
    }

    /// Checks a write before anything is applied: known attributes and
    /// lists, a well-formed email.
    fn check(&self, write: &ContactWrite) -> Result<(), BrevoError> {
        if let Some(email) = &write.email {
            if !is_email(email) {
                return Err(BrevoError::InvalidParameter(
                    "Invalid email address".to_owned(),
                ));
            }
        }
        if let Some(name) = write
            .attributes
            .keys()
            .find(|name| *name != "EMAIL" && !self.attributes.contains_key(*name))
        {
            return Err(BrevoError::InvalidParameter(format!(
                "Attribute {name} does not exist"
            )));
        }
        if let Some(list) = write
            .list_ids
            .iter()
            .chain(&write.unlink_list_ids)
            .find(|list| !self.lists.contains(list))
        {
            return Err(BrevoError::InvalidParameter(format!(
                "List ID {list} does not exist"
            )));
        }
        Ok(())
    }

    /// The contact other than `except` holding `email` or `ext_id`.
    fn holder(&self, write: &ContactWrite, except: Option<u64>) -> Option<&'static str> {
        let taken = |kind, value: &Option<String>| {
            value
                .as_deref()
                .and_then(|value| self.find(value, kind))
                .is_some_and(|id| Some(id) != except)
        };
        if taken(IdentifierType::Email, &write.email) {
            return Some("email");
        }
        if taken(IdentifierType::ExtId, &write.ext_id) {
            return Some("ext_id");
        }
        None
    }

    /// `POST /contacts`: creates the contact, or (`update_enabled`)
    /// updates the one its email or `ext_id` names.
    pub(crate) fn create(
        &mut self,
        write: ContactWrite,
        update_enabled: bool,
    ) -> Result<Written, BrevoError> {
        self.check(&write)?;
        if write.email.is_none() && write.ext_id.is_none() {
            return Err(BrevoError::MissingParameter(
                "email or ext_id is required".to_owned(),
            ));
        }
        let by_email = write
            .email
            .as_deref()
            .and_then(|email| self.find(email, IdentifierType::Email));
        let by_ext_id = write
            .ext_id
            .as_deref()
            .and_then(|ext_id| self.find(ext_id, IdentifierType::ExtId));
        let existing = match (by_email, by_ext_id) {
            (Some(a), Some(b)) if a != b => {
                return Err(BrevoError::Duplicate(
                    "email and ext_id belong to two contacts".to_owned(),
                ))
            }
            (Some(id), _) | (None, Some(id)) => Some(id),
            (None, None) => None,
        };
        match existing {
            Some(_) if !update_enabled => {
                Err(BrevoError::Duplicate("Contact already exist".to_owned()))
            }
            Some(id) => {
                self.apply(id, write);
                Ok(Written::Updated)
            }
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.contacts.insert(
                    id,
                    BrevoContact {
                        id,
                        email: None,
                        ext_id: None,
                        attributes: Map::new(),
                        list_ids: BTreeSet::new(),
                    },
                );
                self.apply(id, write);
                Ok(Written::Created(id))
            }
        }
    }

    /// `PUT /contacts/{identifier}`: `attributes.EMAIL` changes the email.
    pub(crate) fn update(
        &mut self,
        identifier: &str,
        kind: IdentifierType,
        mut write: ContactWrite,
    ) -> Result<(), BrevoError> {
        let id = self
            .find(identifier, kind)
            .ok_or(BrevoError::ContactNotFound)?;
        if let Some(email) = write.attributes.remove("EMAIL") {
            let Value::String(email) = email else {
                return Err(BrevoError::InvalidParameter(
                    "Invalid email address".to_owned(),
                ));
            };
            write.email = Some(email.to_lowercase());
        }
        self.check(&write)?;
        if let Some(which) = self.holder(&write, Some(id)) {
            return Err(BrevoError::Duplicate(format!(
                "Unable to update contact, {which} is already associated with another Contact"
            )));
        }
        self.apply(id, write);
        Ok(())
    }

    /// `GET /contacts/{identifier}`.
    pub(crate) fn get(&self, identifier: &str, kind: IdentifierType) -> Result<Value, BrevoError> {
        let id = self
            .find(identifier, kind)
            .ok_or(BrevoError::ContactNotFound)?;
        let contact = &self.contacts[&id];
        let mut attributes = contact.attributes.clone();
        if let Some(ext_id) = &contact.ext_id {
            attributes.insert("EXT_ID".to_owned(), json!(ext_id));
        }
        Ok(json!({
            "id": contact.id,
            "email": contact.email,
            "emailBlacklisted": false,
            "smsBlacklisted": false,
            "attributes": attributes,
            "listIds": contact.list_ids,
        }))
    }

    /// `DELETE /contacts/{identifier}`: gone for good.
    pub(crate) fn delete(
        &mut self,
        identifier: &str,
        kind: IdentifierType,
    ) -> Result<(), BrevoError> {
        let id = self
            .find(identifier, kind)
            .ok_or(BrevoError::ContactNotFound)?;
        self.contacts.remove(&id);
        Ok(())
    }

    /// Writes a checked write into contact `id`; an attribute value of
    /// another type than the attribute's is ignored, as Brevo ignores it.
    fn apply(&mut self, id: u64, write: ContactWrite) {
        let attributes = &self.attributes;
        let Some(contact) = self.contacts.get_mut(&id) else {
            return;
        };
        if let Some(email) = write.email {
            contact.email = Some(email.to_lowercase());
        }
        if let Some(ext_id) = write.ext_id {
            contact.ext_id = Some(ext_id);
        }
        for (name, value) in write.attributes {
            let kind = attributes.get(&name).copied().unwrap_or_default();
            if value.is_null() {
                contact.attributes.remove(&name);
            } else if fits(kind, &value) {
                contact.attributes.insert(name, value);
            }
        }
        contact.list_ids.extend(write.list_ids);
        for list in write.unlink_list_ids {
            contact.list_ids.remove(&list);
        }
    }
}

/// Whether `value` is of the attribute's type.
fn fits(kind: BrevoAttributeKind, value: &Value) -> bool {
    match kind {
        BrevoAttributeKind::Text => value.is_string() || value.is_number() || value.is_boolean(),
        BrevoAttributeKind::Float => value.is_number(),
        BrevoAttributeKind::Boolean => value.is_boolean(),
        BrevoAttributeKind::Date => value
            .as_str()
            .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()),
    }
}

/// `local@domain.tld`, roughly as Brevo checks it.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c == '/')
}
