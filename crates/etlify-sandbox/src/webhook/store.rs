//! What the receiver holds: objects by id, the events it applied, and the
//! answer to each event key and request id it has seen, so that a key
//! sent again is answered the same and applied once.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::config::WebhookConfig;

/// One object the receiver keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookObject {
    /// Its id (`wh_<n>`), as answered.
    pub id: String,
    /// The event's `object_type`.
    pub object_type: String,
    /// The value of the event's id property, if any.
    pub id_value: Option<String>,
    /// The last `data` applied.
    pub data: Map<String, Value>,
    /// Deleted by a delete event.
    pub deleted: bool,
}

/// One event the receiver applied (events answered from a key seen
/// before, pings and rejected events are not recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The event's idempotency key.
    pub key: String,
    /// The id of the request that carried it.
    pub request: String,
    /// `upsert` or `delete`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's `object_type`.
    pub object_type: String,
    /// The object it was applied to.
    pub object_id: String,
}

#[derive(Debug, Default)]
pub(crate) struct WebhookStore {
    next_id: u64,
    objects: BTreeMap<String, WebhookObject>,
    /// The live object of each (object type, id value), so that matching
    /// an event is no scan of every object.
    live_by_value: HashMap<(String, String), String>,
    events: Vec<WebhookEvent>,
    /// The answer to each event key applied.
    answered: HashMap<String, Value>,
    /// The whole answer to each request id seen.
    requests: HashMap<String, Value>,
    /// Events answered from a key seen before.
    repeated: u64,
}

/// What the receiver keeps in the sandbox's state file: its objects, the
/// events it applied and the answers to the keys and requests it has seen
/// (so that one sent again after a restart is answered, not applied).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct WebhookSnapshot {
    next_id: u64,
    objects: Vec<WebhookObject>,
    events: Vec<WebhookEvent>,
    answered: HashMap<String, Value>,
    requests: HashMap<String, Value>,
}

/// Text of a JSON value that identifies something.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

impl WebhookStore {
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    pub(crate) fn snapshot(&self) -> WebhookSnapshot {
        WebhookSnapshot {
            next_id: self.next_id,
            objects: self.objects.values().cloned().collect(),
            events: self.events.clone(),
            answered: self.answered.clone(),
            requests: self.requests.clone(),
        }
    }

    /// The receiver as `snapshot` kept it; the index of live objects by
    /// their id value is built again.
    pub(crate) fn restore(&mut self, snapshot: WebhookSnapshot) {
        *self = Self::default();
        self.next_id = snapshot.next_id;
        for object in snapshot.objects {
            if let (false, Some(value)) = (object.deleted, &object.id_value) {
                self.live_by_value.insert(
                    (object.object_type.clone(), value.clone()),
                    object.id.clone(),
                );
            }
            self.objects.insert(object.id.clone(), object);
        }
        self.events = snapshot.events;
        self.answered = snapshot.answered;
        self.requests = snapshot.requests;
    }

    pub(crate) fn objects(&self, object_type: &str) -> Vec<WebhookObject> {
        self.objects
            .values()
            .filter(|object| object.object_type == object_type)
            .cloned()
            .collect()
    }

    pub(crate) fn events(&self) -> Vec<WebhookEvent> {
        self.events.clone()
    }

    pub(crate) fn repeated(&self) -> u64 {
        self.repeated
    }

    /// The answer to the request `body` (already verified): one entry per
    /// event, each applied once by its key.
    pub(crate) fn receive(&mut self, body: &Value, config: &WebhookConfig) -> Value {
        let request = text(body.get("id")).unwrap_or_default();
        if let Some(answer) = self.requests.get(&request).filter(|_| !request.is_empty()) {
            self.repeated += 1;
            return answer.clone();
        }
        let events = body
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let results: Vec<Value> = events
            .iter()
            .map(|event| self.event(&request, event, config))
            .collect();
        let answer = json!({"id": request, "results": results});
        if !request.is_empty() {
            self.requests.insert(request, answer.clone());
        }
        answer
    }

    fn event(&mut self, request: &str, event: &Value, config: &WebhookConfig) -> Value {
        let Some(key) = text(event.get("key")) else {
            return json!({"status": 400, "error": "the event has no key"});
        };
        if let Some(answer) = self.answered.get(&key) {
            self.repeated += 1;
            return answer.clone();
        }
        let object_type = text(event.get("object_type")).unwrap_or_default();
        let answer = match event.get("type").and_then(Value::as_str) {
            Some("ping") => json!({"key": key, "status": 200}),
            Some("upsert") => self.upsert(&key, &object_type, event, config),
            Some("delete") => self.delete(&key, &object_type, event),
            _ => json!({"key": key, "status": 400, "error": "unknown event type"}),
        };
        let applied = matches!(answer["status"].as_u64(), Some(200 | 201));
        if applied && event.get("type").and_then(Value::as_str) != Some("ping") {
            self.events.push(WebhookEvent {
                key: key.clone(),
                request: request.to_owned(),
                kind: event["type"].as_str().unwrap_or_default().to_owned(),
                object_type,
                object_id: answer["id"].as_str().unwrap_or_default().to_owned(),
            });
            self.answered.insert(key, answer.clone());
        }
        answer
    }

    fn upsert(
        &mut self,
        key: &str,
        object_type: &str,
        event: &Value,
        config: &WebhookConfig,
    ) -> Value {
        let data = event
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(problem) = rejected(&data, config) {
            return json!({"key": key, "status": 422, "error": problem});
        }
        let live = |object: &&WebhookObject| object.object_type == object_type && !object.deleted;
        let id_value = text(event.get("id_value"));
        let by_id =
            text(event.get("crm_id")).filter(|id| self.objects.get(id).filter(live).is_some());
        let by_value = || {
            let key = (object_type.to_owned(), id_value.clone()?);
            self.live_by_value.get(&key).cloned()
        };
        let (id, status) = match by_id.or_else(by_value) {
            Some(id) => (id, 200),
            None => {
                self.next_id += 1;
                (format!("wh_{}", self.next_id), 201)
            }
        };
        let replaced = self.objects.insert(
            id.clone(),
            WebhookObject {
                id: id.clone(),
                object_type: object_type.to_owned(),
                id_value: id_value.clone(),
                data,
                deleted: false,
            },
        );
        if let Some(old) = replaced.and_then(|old| old.id_value) {
            self.live_by_value.remove(&(object_type.to_owned(), old));
        }
        if let Some(value) = id_value {
            self.live_by_value
                .insert((object_type.to_owned(), value), id.clone());
        }
        json!({"key": key, "status": status, "id": id})
    }

    fn delete(&mut self, key: &str, object_type: &str, event: &Value) -> Value {
        let crm_id = text(event.get("crm_id")).unwrap_or_default();
        match self.objects.get_mut(&crm_id) {
            Some(object) if object.object_type == object_type && !object.deleted => {
                object.deleted = true;
                if let Some(value) = object.id_value.clone() {
                    self.live_by_value.remove(&(object_type.to_owned(), value));
                }
                json!({"key": key, "status": 200, "id": crm_id})
            }
            _ => {
                json!({"key": key, "status": 404, "error": format!("no {object_type} object {crm_id}")})
            }
        }
    }
}

/// Why the receiver refuses `data`, by its configured rules.
fn rejected(data: &Map<String, Value>, config: &WebhookConfig) -> Option<String> {
    for field in &config.required_fields {
        match data.get(field) {
            None | Some(Value::Null) => return Some(format!("{field} is required")),
            Some(Value::String(text)) if text.is_empty() => {
                return Some(format!("{field} is required"))
            }
            Some(_) => {}
        }
    }
    config
        .number_fields
        .iter()
        .find(|field| matches!(data.get(*field), Some(value) if !value.is_number() && !value.is_null()))
        .map(|field| format!("{field} must be a number"))
}
