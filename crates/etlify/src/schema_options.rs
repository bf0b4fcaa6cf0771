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
    /// The schema each object type had at the last batch run's check:
    /// what values are rendered for (docs/ADAPTERS.md, "Values in the
    /// CRM's form").
    known: Mutex<HashMap<String, Arc<ObjectSchema>>>,
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
    render: bool,
    as_is: &'a [(String, String)],
    memory: &'a SchemaMemory,
}

impl Values<'_> {
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
