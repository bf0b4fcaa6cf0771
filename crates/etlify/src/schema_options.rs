//! A CRM's options about its schema ([`SchemaCheck`], the property group,
//! values in the CRM's form) and what its batch runs learnt of its object
//! types' schemas, shared by every clone of the registered [`Crm`]
//! (`crm.rs` holds them; `crm_schema/` reads and checks the schemas).
//!
//! [`Crm`]: crate::Crm

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::adapters::{Adapter, ObjectSchema};
use crate::values::Payload;

/// Whether a batch run checks the payloads of a CRM's bindings against
/// the object types' schemas first ([`Crm::schema_check`](crate::Crm::schema_check)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SchemaCheck {
    /// Checked when the adapter can read the schema: a binding with a
    /// problem is not run; a schema the CRM does not let the token read
    /// (or that cannot be reached) is said in a warning, and the binding
    /// runs unchecked; a refusal is not asked again by this process.
    #[default]
    Auto,
    /// As `Auto`, but a schema that cannot be read stops the binding too.
    Require,
    /// Never read: bindings run unchecked.
    Skip,
}

/// The object types whose schema a CRM refused to show (a token without
/// the schema scope): [`SchemaCheck::Auto`] does not ask again for them in
/// this process, so each run neither pays the read nor repeats the warning.
#[derive(Debug, Default)]
pub(crate) struct SchemaMemory {
    unreadable: Mutex<HashSet<String>>,
    /// The schema each object type had at the last batch run's check (or
    /// the first per-record sync's read): what values are rendered for
    /// (docs/CONFIGURATION.md, `render_values`).
    known: Mutex<HashMap<String, Arc<ObjectSchema>>>,
    /// The object types whose schema a per-record sync could not read
    /// (the CRM was unreachable): per-record syncs do not ask again until
    /// a batch run has read it, so an outage costs one read, not one per
    /// record.
    unread_by_records: Mutex<HashSet<String>>,
    /// One per-record read at a time: the records synced at once while
    /// the schema is unknown wait for one read instead of each sending it.
    reading: tokio::sync::Mutex<()>,
}

impl SchemaMemory {
    /// Remembers `object_type`'s schema, as a batch run's check read it.
    pub(crate) fn remember_schema(&self, object_type: &str, schema: ObjectSchema) {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(object_type.to_owned(), Arc::new(schema));
    }

    /// The schema `object_type` had at the last check, if one was read.
    pub(crate) fn schema(&self, object_type: &str) -> Option<Arc<ObjectSchema>> {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(object_type)
            .cloned()
    }

    fn unreadable(&self) -> MutexGuard<'_, HashSet<String>> {
        // The set stays whole if a holder panicked: an insert or a lookup.
        self.unreadable
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the CRM refused to show `object_type`'s schema before.
    pub(crate) fn refused(&self, object_type: &str) -> bool {
        self.unreadable().contains(object_type)
    }

    /// Remembers that the CRM refused to show `object_type`'s schema.
    pub(crate) fn remember_refusal(&self, object_type: &str) {
        self.unreadable().insert(object_type.to_owned());
    }

    fn unread_by_records(&self) -> MutexGuard<'_, HashSet<String>> {
        self.unread_by_records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The schema options of one CRM.
#[derive(Debug, Clone)]
pub(crate) struct SchemaOptions {
    pub(crate) check: SchemaCheck,
    pub(crate) property_group: Option<String>,
    pub(crate) render_values: bool,
    /// (object type, property) sent as the payload has them.
    pub(crate) values_as_is: Vec<(String, String)>,
    /// What batch runs learnt of the CRM's schemas, shared by the clones.
    pub(crate) memory: Arc<SchemaMemory>,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        Self {
            check: SchemaCheck::Auto,
            property_group: None,
            render_values: true,
            values_as_is: Vec::new(),
            memory: Arc::default(),
        }
    }
}

impl SchemaOptions {
    /// How the CRM's values are sent, for its adapter calls.
    pub(crate) fn values(&self) -> Values<'_> {
        Values {
            check: self.check,
            render: self.render_values,
            as_is: &self.values_as_is,
            memory: &self.memory,
        }
    }
}

/// How a CRM's values are sent: in its fields' form where the schema is
/// known ([`Crm::render_values`](crate::Crm::render_values)).
#[derive(Clone, Copy)]
pub(crate) struct Values<'a> {
    check: SchemaCheck,
    render: bool,
    as_is: &'a [(String, String)],
    memory: &'a SchemaMemory,
}

impl Values<'_> {
    /// Whether a per-record sync should read `object_type`'s schema before
    /// it renders: values are rendered, the schema is checked (not
    /// [`SchemaCheck::Skip`]), and neither known nor refused nor unread
    /// already.
    fn wants_schema(&self, object_type: &str) -> bool {
        self.render
            && self.check != SchemaCheck::Skip
            && self.memory.schema(object_type).is_none()
            && !self.memory.refused(object_type)
            && !self.memory.unread_by_records().contains(object_type)
    }

    /// Before a per-record sync renders `object_type`'s values, reads its
    /// schema once if no batch run has (`read`: the CRM's throttled read;
    /// `None` when its adapter reads no schema). A refusal is remembered
    /// as a batch run's check remembers it; an outage stops per-record
    /// reads until a batch run reads the schema. Either way the record is
    /// sent, as it is.
    pub(crate) async fn learn_schema<F, Fut>(&self, object_type: &str, read: F)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<
            Output = Option<Result<ObjectSchema, crate::adapters::AdapterError>>,
        >,
    {
        if !self.wants_schema(object_type) {
            return;
        }
        let _reading = self.memory.reading.lock().await;
        if !self.wants_schema(object_type) {
            return;
        }
        match read().await {
            Some(Ok(schema)) => self.memory.remember_schema(object_type, schema),
            Some(Err(error)) => {
                tracing::warn!(
                    message = "The CRM's schema could not be read: values are sent as the payload has them.",
                    object_type,
                    %error
                );
                if error.is_retriable() {
                    self.memory
                        .unread_by_records()
                        .insert(object_type.to_owned());
                } else {
                    self.memory.remember_refusal(object_type);
                }
            }
            None => {}
        }
    }

    /// `payload` rendered for `object_type`, but its match property
    /// (`id_property`: the engine reconciles answers by its value); `None`
    /// when it is sent as it is.
    pub(crate) fn rendered(
        &self,
        adapter: &dyn Adapter,
        object_type: &str,
        payload: &Payload,
        id_property: &str,
    ) -> Option<Payload> {
        if !self.render {
            return None;
        }
        let schema = self.memory.schema(object_type)?;
        let keep = |property: &str| {
            property == id_property
                || self
                    .as_is
                    .iter()
                    .any(|(t, p)| t == object_type && p == property)
        };
        Some(crate::adapters::render_payload(
            adapter.schema()?,
            &schema,
            payload,
            keep,
        ))
    }
}
