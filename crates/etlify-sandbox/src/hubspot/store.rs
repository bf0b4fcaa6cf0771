//! HubSpot objects in memory: per object type, objects with decimal string
//! ids, string property values, timestamps and the archived flag; unique
//! property indexes; the search view that lags behind writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::errors::{HubSpotError, PropertyProblem, UniqueValueTaken};
use crate::config::{builtin_object_types, HubSpotConfig, ObjectTypeConfig, PropertyKind};

/// Properties that HubSpot maintains itself; writing them is an error.
const READ_ONLY_PROPERTIES: [&str; 3] = ["hs_object_id", "lastmodifieddate", "hs_lastmodifieddate"];

/// One stored object, as dumped by the admin API and persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubSpotObject {
    /// Record id (decimal string).
    pub id: String,
    /// Property values (always strings), including `hs_object_id` and `createdate`.
    pub properties: BTreeMap<String, String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// ISO 8601 time of the last write.
    pub updated_at: String,
    /// Whether the object is in the recycling bin.
    pub archived: bool,
    /// ISO 8601 archive time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<String>,
}

/// What search sees of one object: the indexed version and a newer one
/// waiting for the indexing lag to pass.
#[derive(Debug, Default)]
struct SearchView {
    indexed: Option<BTreeMap<String, String>>,
    pending: Option<(Instant, BTreeMap<String, String>)>,
}

/// Objects of one type.
#[derive(Debug)]
pub(crate) struct TypeState {
    pub(crate) name: String,
    pub(crate) config: ObjectTypeConfig,
    pub(crate) objects: BTreeMap<u64, HubSpotObject>,
    /// (property, comparable value) → id of the live object holding it.
    unique: HashMap<(String, String), u64>,
    /// id → the keys of `unique` and `additional` it was indexed under, so
    /// that an update or an archive unindexes it without a scan (a scan
    /// made a 20,000-contact first sync quadratic).
    indexed_under: HashMap<u64, IndexedUnder>,
    /// Secondary email (ASCII lowercase) → the objects listing it.
    additional: HashMap<String, BTreeSet<u64>>,
    search: HashMap<u64, SearchView>,
}

/// What one object is indexed under.
#[derive(Debug, Default)]
struct IndexedUnder {
    unique: Vec<(String, String)>,
    additional: Vec<String>,
}

impl TypeState {
    fn new(name: String, config: ObjectTypeConfig) -> Self {
        Self {
            name,
            config,
            objects: BTreeMap::new(),
            unique: HashMap::new(),
            indexed_under: HashMap::new(),
            additional: HashMap::new(),
            search: HashMap::new(),
        }
    }

    /// `contacts` → `Contact` (for 409 messages).
    pub(crate) fn singular(&self) -> String {
        let base = match self.name.as_str() {
            "contacts" => "Contact",
            "companies" => "Company",
            "deals" => "Deal",
            "tickets" => "Ticket",
            other => other,
        };
        base.to_owned()
    }

    /// `contacts` → `CONTACT` (for OBJECT_NOT_FOUND and coordinates messages).
    pub(crate) fn legacy_name(&self) -> String {
        self.singular().to_uppercase()
    }

    pub(crate) fn type_id(&self) -> String {
        self.config
            .type_id
            .clone()
            .unwrap_or_else(|| self.name.clone())
    }

    /// Name of the "last modified" property of this type.
    pub(crate) fn last_modified_property(&self) -> &'static str {
        if self.name == "contacts" {
            "lastmodifieddate"
        } else {
            "hs_lastmodifieddate"
        }
    }

    pub(crate) fn is_unique(&self, property: &str) -> bool {
        self.config.unique_properties.iter().any(|p| p == property)
    }

    pub(crate) fn property_kind(&self, property: &str) -> PropertyKind {
        self.config
            .properties
            .as_ref()
            .and_then(|properties| properties.get(property))
            .map_or(PropertyKind::String, |declared| declared.kind)
    }

    /// A declared property HubSpot computes or keeps itself (HUBSPOT-13).
    fn is_read_only(&self, property: &str) -> bool {
        self.config
            .properties
            .as_ref()
            .and_then(|properties| properties.get(property))
            .is_some_and(|declared| declared.read_only || declared.calculated)
    }

    fn property_exists(&self, property: &str) -> bool {
        match &self.config.properties {
            None => true,
            Some(declared) => {
                declared.contains_key(property)
                    || self.is_unique(property)
                    || matches!(property, "hs_object_id" | "createdate")
                    || property == self.last_modified_property()
            }
        }
    }

    /// The id of the live object whose unique `property` equals `value`.
    pub(crate) fn find_unique(&self, property: &str, value: &str) -> Option<u64> {
        self.unique
            .get(&(property.to_owned(), comparable(property, value)))
            .copied()
    }

    /// Indexes object `id` under its unique values and its secondary
    /// emails.
    fn index_unique(&mut self, id: u64) {
        let Some(object) = self.objects.get(&id) else {
            return;
        };
        let keys: Vec<(String, String)> = self
            .config
            .unique_properties
            .iter()
            .filter_map(|p| {
                object
                    .properties
                    .get(p)
                    .map(|v| (p.clone(), comparable(p, v)))
            })
            .collect();
        let emails: Vec<String> = additional_emails(object)
            .map(str::to_ascii_lowercase)
            .collect();
        for key in &keys {
            self.unique.insert(key.clone(), id);
        }
        for email in &emails {
            self.additional.entry(email.clone()).or_default().insert(id);
        }
        let under = self.indexed_under.entry(id).or_default();
        under.unique.extend(keys);
        under.additional.extend(emails);
    }

    fn unindex_unique(&mut self, id: u64) {
        let Some(under) = self.indexed_under.remove(&id) else {
            return;
        };
        for key in under.unique {
            if self.unique.get(&key) == Some(&id) {
                self.unique.remove(&key);
            }
        }
        for email in under.additional {
            if let Some(ids) = self.additional.get_mut(&email) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.additional.remove(&email);
                }
            }
        }
    }

    /// The first live object (by id) listing `email` among its secondary
    /// emails.
    fn find_additional(&self, email: &str) -> Option<u64> {
        let ids = self.additional.get(&email.trim().to_ascii_lowercase())?;
        ids.iter()
            .copied()
            .find(|id| self.objects.get(id).is_some_and(|object| !object.archived))
    }

    fn publish_to_search(&mut self, id: u64, now: Instant, lag: Duration) {
        let Some(object) = self.objects.get(&id) else {
            return;
        };
        let view = self.search.entry(id).or_default();
        if object.archived {
            // Archived objects leave search at once.
            view.indexed = None;
            view.pending = None;
        } else if lag.is_zero() {
            view.indexed = Some(object.properties.clone());
            view.pending = None;
        } else {
            view.pending = Some((now + lag, object.properties.clone()));
        }
    }

    /// Makes writes whose indexing lag has passed visible to search.
    pub(crate) fn promote_indexed(&mut self, now: Instant) {
        for view in self.search.values_mut() {
            if view
                .pending
                .as_ref()
                .is_some_and(|(ready_at, _)| *ready_at <= now)
            {
                view.indexed = view.pending.take().map(|(_, properties)| properties);
            }
        }
    }

    /// Live objects as search currently sees them (id, indexed properties), by id.
    pub(crate) fn searchable(&self) -> Vec<(u64, &BTreeMap<String, String>)> {
        let mut visible: Vec<(u64, &BTreeMap<String, String>)> = self
            .search
            .iter()
            .filter_map(|(id, view)| view.indexed.as_ref().map(|p| (*id, p)))
            .collect();
        visible.sort_unstable_by_key(|(id, _)| *id);
        visible
    }
}

/// Value used to compare unique properties (emails are case-insensitive).
fn comparable(property: &str, value: &str) -> String {
    if property == "email" {
        value.trim().to_lowercase()
    } else {
        value.to_owned()
    }
}

/// A loose email check: `local@domain.tld`, no spaces.
pub(crate) fn is_valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && !email.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// Current time in HubSpot's format (`2024-01-01T12:00:00.000Z`).
/// The `;`-separated secondary emails of a contact.
pub(crate) fn additional_emails(object: &HubSpotObject) -> impl Iterator<Item = &str> {
    object
        .properties
        .get("hs_additional_emails")
        .into_iter()
        .flat_map(|list| list.split(';'))
        .map(str::trim)
        .filter(|email| !email.is_empty())
}

pub(crate) fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// All HubSpot object types and their objects.
#[derive(Debug)]
pub(crate) struct HubSpotStore {
    types: BTreeMap<String, TypeState>,
    aliases: HashMap<String, String>,
    next_id: u64,
    pub(crate) portal_id: u64,
    lowercase_emails: bool,
    upserts_match_additional_emails: bool,
    indexing_lag: Duration,
    /// Associations between objects (`associations.rs`).
    pub(crate) associations: super::associations::Associations,
}

/// The persisted form of the HubSpot store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct HubSpotSnapshot {
    pub(crate) next_id: u64,
    pub(crate) objects: BTreeMap<String, Vec<HubSpotObject>>,
    /// Absent from files saved before associations were emulated.
    #[serde(default)]
    pub(crate) associations: Vec<super::associations::HubSpotAssociation>,
    /// Each type's schema, with the properties and groups created through
    /// the properties API (absent from files written before it).
    #[serde(default)]
    pub(crate) schemas: BTreeMap<String, ObjectTypeConfig>,
}

impl HubSpotStore {
    pub(crate) fn new(config: &HubSpotConfig) -> Self {
        let mut object_types = builtin_object_types();
        object_types.extend(config.object_types.clone());
        let mut aliases = HashMap::new();
        let mut types = BTreeMap::new();
        for (name, type_config) in object_types {
            if let Some(type_id) = &type_config.type_id {
                aliases.insert(type_id.clone(), name.clone());
            }
            types.insert(name.clone(), TypeState::new(name, type_config));
        }
        Self {
            types,
            aliases,
            next_id: config.first_object_id,
            portal_id: config.portal_id,
            lowercase_emails: config.lowercase_emails,
            upserts_match_additional_emails: config.upserts_match_additional_emails,
            indexing_lag: Duration::from_millis(config.search.indexing_lag_ms),
            associations: Default::default(),
        }
    }

    pub(crate) fn set_indexing_lag(&mut self, lag: Duration) {
        self.indexing_lag = lag;
    }

    /// Canonical name of an object type given by name or type id.
    pub(crate) fn resolve(&self, object_type: &str) -> Result<String, HubSpotError> {
        if self.types.contains_key(object_type) {
            return Ok(object_type.to_owned());
        }
        self.aliases
            .get(object_type)
            .cloned()
            .ok_or_else(|| HubSpotError::UnknownObjectType(object_type.to_owned()))
    }

    pub(crate) fn type_state(&self, name: &str) -> Result<&TypeState, HubSpotError> {
        self.types
            .get(name)
            .ok_or_else(|| HubSpotError::UnknownObjectType(name.to_owned()))
    }

    pub(crate) fn type_state_mut(&mut self, name: &str) -> Result<&mut TypeState, HubSpotError> {
        self.types
            .get_mut(name)
            .ok_or_else(|| HubSpotError::UnknownObjectType(name.to_owned()))
    }

    pub(crate) fn type_names(&self) -> Vec<String> {
        self.types.keys().cloned().collect()
    }

    /// Converts input values to strings and validates them against the
    /// type's schema. An empty string means "clear the property".
    pub(crate) fn normalize(
        &self,
        object_type: &str,
        input: &Map<String, Value>,
    ) -> Result<BTreeMap<String, String>, HubSpotError> {
        let state = self.type_state(object_type)?;
        let mut problems = Vec::new();
        let mut properties = BTreeMap::new();
        for (name, value) in input {
            if !state.property_exists(name) {
                problems.push(PropertyProblem::doesnt_exist(name));
                continue;
            }
            if READ_ONLY_PROPERTIES.contains(&name.as_str()) || state.is_read_only(name) {
                problems.push(PropertyProblem {
                    name: name.clone(),
                    code: "READ_ONLY_VALUE",
                    message: format!(
                        "\"{name}\" is a read only property; its value cannot be set."
                    ),
                });
                continue;
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                Value::Null => String::new(),
                Value::Array(_) | Value::Object(_) => {
                    problems.push(PropertyProblem {
                        name: name.clone(),
                        code: "INVALID_PROPERTY_VALUE",
                        message: format!("Property \"{name}\" must be a string, number or boolean"),
                    });
                    continue;
                }
            };
            if let Some(problem) = check_value(state, name, &text) {
                problems.push(problem);
                continue;
            }
            let text = if name == "email" && self.lowercase_emails {
                text.to_lowercase()
            } else {
                text
            };
            properties.insert(name.clone(), text);
        }
        if problems.is_empty() {
            Ok(properties)
        } else {
            Err(HubSpotError::InvalidProperties(problems))
        }
    }

    /// Finds an object by record id, or by a unique property when `id_property` is given.
    pub(crate) fn lookup(
        &self,
        object_type: &str,
        id: &str,
        id_property: Option<&str>,
    ) -> Result<Option<u64>, HubSpotError> {
        let state = self.type_state(object_type)?;
        match id_property {
            None | Some("hs_object_id") => Ok(id
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|numeric| state.objects.contains_key(numeric))),
            Some(property) if state.is_unique(property) => Ok(state.find_unique(property, id)),
            Some(property) => Err(HubSpotError::NonUniqueIdProperty {
                type_id: state.type_id(),
                property: property.to_owned(),
                portal_id: self.portal_id,
            }),
        }
    }

    /// The live contact holding `email` among its `hs_additional_emails`
    /// (`;`-separated), which a batch upsert by `email` matches too.
    pub(crate) fn find_by_additional_email(
        &self,
        object_type: &str,
        id_property: &str,
        email: &str,
    ) -> Option<u64> {
        if !self.upserts_match_additional_emails || id_property != "email" {
            return None;
        }
        let state = self.types.get(object_type)?;
        if state.name != "contacts" {
            return None;
        }
        state.find_additional(email)
    }

    /// The 400 of a write that would leave a required property of the
    /// type empty (`existing`: the object an update writes to), when
    /// `enforced` (the 2026-09 paths, HUBSPOT-11).
    pub(crate) fn check_required(
        &self,
        object_type: &str,
        existing: Option<u64>,
        written: &BTreeMap<String, String>,
        enforced: bool,
    ) -> Result<(), HubSpotError> {
        if !enforced {
            return Ok(());
        }
        let state = self.type_state(object_type)?;
        let stored = existing.and_then(|id| state.objects.get(&id));
        let problems: Vec<PropertyProblem> = state
            .config
            .required_properties
            .iter()
            .filter(|name| {
                let value = written
                    .get(*name)
                    .or_else(|| stored.and_then(|o| o.properties.get(*name)));
                value.is_none_or(|v| v.trim().is_empty())
            })
            .map(|name| PropertyProblem::required(name))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(HubSpotError::InvalidProperties(problems))
        }
    }

    pub(crate) fn get(&self, object_type: &str, id: u64) -> Option<&HubSpotObject> {
        self.types.get(object_type)?.objects.get(&id)
    }

    /// 409 if creating an object with `properties` would duplicate a unique value,
    /// looking at stored objects and at values `claimed` earlier in the same batch.
    pub(crate) fn check_create_unique(
        &self,
        object_type: &str,
        properties: &BTreeMap<String, String>,
        claimed: &HashMap<(String, String), String>,
    ) -> Result<(), HubSpotError> {
        let state = self.type_state(object_type)?;
        for property in &state.config.unique_properties {
            let Some(value) = properties.get(property).filter(|v| !v.is_empty()) else {
                continue;
            };
            let key = (property.clone(), comparable(property, value));
            let existing = state
                .unique
                .get(&key)
                .map(u64::to_string)
                .or_else(|| claimed.get(&key).cloned());
            if let Some(existing_id) = existing {
                return Err(HubSpotError::Conflict {
                    singular: state.singular(),
                    existing_id,
                });
            }
        }
        Ok(())
    }

    /// 400 if updating object `id` with `properties` would take a unique value another object owns.
    pub(crate) fn check_update_unique(
        &self,
        object_type: &str,
        id: u64,
        properties: &BTreeMap<String, String>,
        claimed: &HashMap<(String, String), String>,
    ) -> Result<(), HubSpotError> {
        let state = self.type_state(object_type)?;
        for property in &state.config.unique_properties {
            let Some(value) = properties.get(property).filter(|v| !v.is_empty()) else {
                continue;
            };
            let key = (property.clone(), comparable(property, value));
            let owner = state
                .unique
                .get(&key)
                .filter(|owner| **owner != id)
                .map(u64::to_string)
                .or_else(|| claimed.get(&key).filter(|c| **c != id.to_string()).cloned());
            if let Some(owner_id) = owner {
                return Err(HubSpotError::UniqueValueTaken(Box::new(UniqueValueTaken {
                    portal_id: self.portal_id,
                    legacy_type: state.legacy_name(),
                    property: property.clone(),
                    value: value.clone(),
                    target_id: id.to_string(),
                    owner_id,
                })));
            }
        }
        Ok(())
    }

    /// Unique values that a write of `properties` claims (for in-batch checks).
    pub(crate) fn unique_claims(
        &self,
        object_type: &str,
        properties: &BTreeMap<String, String>,
    ) -> Vec<(String, String)> {
        self.types.get(object_type).map_or_else(Vec::new, |state| {
            state
                .config
                .unique_properties
                .iter()
                .filter_map(|p| {
                    properties
                        .get(p)
                        .filter(|v| !v.is_empty())
                        .map(|v| (p.clone(), comparable(p, v)))
                })
                .collect()
        })
    }

    /// Id the next created object will get.
    pub(crate) fn peek_next_id(&self) -> u64 {
        self.next_id
    }

    /// Stores a new object (validation already done) and returns it.
    pub(crate) fn insert(
        &mut self,
        object_type: &str,
        properties: BTreeMap<String, String>,
        now: Instant,
    ) -> Result<HubSpotObject, HubSpotError> {
        let lag = self.indexing_lag;
        let id = self.next_id;
        let state = self.type_state_mut(object_type)?;
        let timestamp = now_iso();
        let mut stored: BTreeMap<String, String> = properties
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .collect();
        stored.insert("hs_object_id".to_owned(), id.to_string());
        stored
            .entry("createdate".to_owned())
            .or_insert_with(|| timestamp.clone());
        stored.insert(state.last_modified_property().to_owned(), timestamp.clone());
        let object = HubSpotObject {
            id: id.to_string(),
            properties: stored,
            created_at: timestamp.clone(),
            updated_at: timestamp,
            archived: false,
            archived_at: None,
        };
        state.objects.insert(id, object.clone());
        state.index_unique(id);
        state.publish_to_search(id, now, lag);
        self.next_id += 1;
        Ok(object)
    }

    /// Overwrites the given properties of object `id` ("" clears one).
    pub(crate) fn apply_update(
        &mut self,
        object_type: &str,
        id: u64,
        properties: BTreeMap<String, String>,
        now: Instant,
    ) -> Result<HubSpotObject, HubSpotError> {
        let lag = self.indexing_lag;
        let state = self.type_state_mut(object_type)?;
        let last_modified = state.last_modified_property();
        let object = state.objects.get_mut(&id).ok_or(HubSpotError::NotFound)?;
        for (name, value) in properties {
            if value.is_empty() {
                object.properties.remove(&name);
            } else {
                object.properties.insert(name, value);
            }
        }
        let timestamp = now_iso();
        object
            .properties
            .insert(last_modified.to_owned(), timestamp.clone());
        object.updated_at = timestamp;
        let updated = object.clone();
        state.unindex_unique(id);
        state.index_unique(id);
        state.publish_to_search(id, now, lag);
        Ok(updated)
    }

    /// Moves object `id` to the recycling bin; false when it is not live.
    pub(crate) fn archive(
        &mut self,
        object_type: &str,
        id: u64,
        now: Instant,
    ) -> Result<bool, HubSpotError> {
        let lag = self.indexing_lag;
        let state = self.type_state_mut(object_type)?;
        let Some(object) = state.objects.get_mut(&id).filter(|o| !o.archived) else {
            return Ok(false);
        };
        let timestamp = now_iso();
        object.archived = true;
        object.archived_at = Some(timestamp.clone());
        object.updated_at = timestamp;
        state.unindex_unique(id);
        state.publish_to_search(id, now, lag);
        Ok(true)
    }

    /// All objects of one type, archived included.
    pub(crate) fn dump(&self, object_type: &str) -> Result<Vec<HubSpotObject>, HubSpotError> {
        let name = self.resolve(object_type)?;
        Ok(self.type_state(&name)?.objects.values().cloned().collect())
    }

    pub(crate) fn clear(&mut self, first_object_id: u64) {
        for state in self.types.values_mut() {
            state.objects.clear();
            state.unique.clear();
            state.indexed_under.clear();
            state.additional.clear();
            state.search.clear();
        }
        self.next_id = first_object_id;
        self.associations.clear();
    }

    pub(crate) fn snapshot(&self) -> HubSpotSnapshot {
        HubSpotSnapshot {
            next_id: self.next_id,
            objects: self
                .types
                .iter()
                .map(|(name, state)| (name.clone(), state.objects.values().cloned().collect()))
                .collect(),
            associations: self.associations.iter().cloned().collect(),
            schemas: self
                .types
                .iter()
                .map(|(name, state)| (name.clone(), state.config.clone()))
                .collect(),
        }
    }

    /// Loads persisted objects; types unknown to the configuration are skipped.
    pub(crate) fn restore(&mut self, snapshot: HubSpotSnapshot, now: Instant) {
        self.next_id = self.next_id.max(snapshot.next_id);
        self.associations.extend(snapshot.associations);
        for (name, saved) in snapshot.schemas {
            if let Some(state) = self.types.get_mut(&name) {
                restore_schema(&mut state.config, saved);
            }
        }
        for (name, objects) in snapshot.objects {
            let Some(state) = self.types.get_mut(&name) else {
                continue;
            };
            for object in objects {
                let Ok(id) = object.id.parse::<u64>() else {
                    continue;
                };
                self.next_id = self.next_id.max(id + 1);
                state.unindex_unique(id);
                state.objects.insert(id, object);
                state.index_unique(id);
                state.publish_to_search(id, now, Duration::ZERO);
            }
        }
    }
}

/// Adds to `config` what the properties API created (saved in `saved`):
/// properties, unique properties and groups the configuration lacks.
fn restore_schema(config: &mut ObjectTypeConfig, saved: ObjectTypeConfig) {
    if let Some(saved) = saved.properties {
        let properties = config.properties.get_or_insert_with(BTreeMap::new);
        for (name, property) in saved {
            properties.entry(name).or_insert(property);
        }
    }
    for unique in saved.unique_properties {
        if !config.unique_properties.contains(&unique) {
            config.unique_properties.push(unique);
        }
    }
    for group in saved.property_groups {
        if !config.property_groups.contains(&group) {
            config.property_groups.push(group);
        }
    }
}

/// Per-value checks: email format, enumeration options, numbers, booleans, dates.
fn check_value(state: &TypeState, name: &str, text: &str) -> Option<PropertyProblem> {
    if text.is_empty() {
        return None;
    }
    if name == "email" && state.name == "contacts" && !is_valid_email(text) {
        return Some(PropertyProblem {
            name: name.to_owned(),
            code: "INVALID_EMAIL",
            message: format!("Email address {text} is invalid"),
        });
    }
    let declared = state.config.properties.as_ref()?.get(name)?;
    let problem = |code: &'static str, message: String| {
        Some(PropertyProblem {
            name: name.to_owned(),
            code,
            message,
        })
    };
    match declared.kind {
        PropertyKind::String => None,
        // A multi-select (`checkbox`) holds `;`-separated options.
        PropertyKind::Enumeration if declared.field_type.as_deref() == Some("checkbox") => {
            let unknown: Vec<&str> = text
                .split(';')
                .filter(|value| !declared.options.iter().any(|o| o == value))
                .collect();
            (!unknown.is_empty()).then(|| PropertyProblem {
                name: name.to_owned(),
                code: "INVALID_OPTION",
                message: format!(
                    "{} was not one of the allowed options: [{}]",
                    unknown.join(";"),
                    declared.options.join(", ")
                ),
            })
        }
        PropertyKind::Enumeration if !declared.options.iter().any(|o| o == text) => problem(
            "INVALID_OPTION",
            format!(
                "{text} was not one of the allowed options: [{}]",
                declared.options.join(", ")
            ),
        ),
        PropertyKind::Enumeration => None,
        PropertyKind::Number if text.trim().parse::<f64>().is_err() => {
            problem("INVALID_DECIMAL", format!("{text} is not a valid decimal"))
        }
        PropertyKind::Number => None,
        PropertyKind::Bool if !matches!(text, "true" | "false") => {
            problem("INVALID_BOOLEAN", format!("{text} is not a valid boolean"))
        }
        PropertyKind::Bool => None,
        PropertyKind::Datetime
            if text.parse::<i64>().is_err()
                && chrono::DateTime::parse_from_rfc3339(text).is_err()
                && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() =>
        {
            problem("INVALID_DATE", format!("{text} is not a valid date-time"))
        }
        PropertyKind::Datetime => None,
        PropertyKind::Date if !is_day(text) => problem(
            "INVALID_DATE",
            format!("{text} is not a valid date: send midnight UTC in milliseconds or YYYY-MM-DD"),
        ),
        PropertyKind::Date => None,
    }
}

/// A date property's value: epoch milliseconds at midnight UTC, or `YYYY-MM-DD`.
fn is_day(text: &str) -> bool {
    const DAY_MS: i64 = 86_400_000;
    match text.parse::<i64>() {
        Ok(millis) => millis.rem_euclid(DAY_MS) == 0,
        Err(_) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
    }
}
