//! The adapter contract between the engine and one CRM API.
//!
//! One small core trait, [`Adapter`] (upsert and delete), plus opt-in
//! capabilities: [`BatchAdapter`] for native batch endpoints,
//! [`SchemaAdapter`] for the object types' schemas, and vendor
//! [`Budget`]s. Every call is handed the [`Throttle`] of the CRM it is made
//! for: the engine owns the limiters (G-12).

pub mod airtable;
pub mod brevo;
mod error;
pub mod http;
pub mod hubspot;
pub mod intercom;
mod null;
pub mod retry;
pub mod salesforce;
mod schema;
pub mod webhook;

use std::collections::HashMap;

use async_trait::async_trait;

pub use self::airtable::{AirtableAdapter, AirtableConfig};
pub use self::brevo::{BrevoAdapter, BrevoConfig};
pub use self::error::{AdapterError, AdapterErrorKind};
pub use self::http::{
    HttpClient, HttpConnections, HttpRequest, HttpResponse, HttpSettings, Secret,
};
pub use self::hubspot::{HubSpotAdapter, HubSpotConfig};
pub use self::intercom::{IntercomAdapter, IntercomConfig, IntercomRegion};
pub use self::null::{NullAdapter, NullAdapterCalls};
pub use self::retry::RetryPolicy;
pub use self::salesforce::{SalesforceAdapter, SalesforceConfig};
pub(crate) use self::schema::render_payload;
pub use self::schema::{CrmField, FieldKind, NewField, ObjectSchema, SchemaAdapter};
pub use self::webhook::{ResponseMapping, WebhookAdapter, WebhookConfig};
use crate::link::AssociationType;
use crate::payload::Payload;
pub use crate::ratelimit::{Budget, Counted, Throttle};
pub use crate::write_mode::WriteMode;

/// One upsert: create the object, or update it when it exists.
#[derive(Debug, Clone, Copy)]
pub struct UpsertRequest<'a> {
    /// CRM object type, e.g. `contacts` or an Airtable table.
    pub object_type: &'a str,
    /// Properties to write.
    pub payload: &'a Payload,
    /// Property that identifies the object in the CRM, e.g. `email`.
    pub id_property: &'a str,
    /// The object's CRM id when a previous sync stored one:
    /// update it directly; fall back to search-then-create on a 404.
    pub crm_id: Option<&'a str>,
    /// `id_property` is for matching only (`Binding::match_by`): write it
    /// when creating the object, never on an object that exists (an
    /// update by the known id, a match's update, a batch upsert's
    /// properties). Otherwise it is written like any property (the gem's).
    pub id_property_only_on_create: bool,
    /// What the sync may do ([`WriteMode::Upsert`]: create or update).
    /// `UpdateOnly`: no create; when nothing matches, an error marked
    /// [`AdapterError::no_object_to_update`]. `CreateOnly`: no update; a
    /// match's id is returned with nothing written. An adapter that does
    /// not honour a mode says so ([`Adapter::supports_mode`]).
    pub mode: WriteMode,
}

/// What a remote delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteDelete {
    /// The object existed and was deleted (archived).
    Deleted,
    /// The CRM answered that the object does not exist.
    NotFound,
}

/// What [`Adapter::check_access`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The CRM accepted the credentials and read the object type.
    Granted,
    /// The adapter cannot tell without writing (the default).
    NotChecked,
}

/// One CRM API.
///
/// Every call takes the [`Throttle`] of the CRM it is made for: call
/// [`Throttle::request`] before each request sent. The engine has counted
/// one request before the call, so an adapter that sends one request per
/// call may ignore it; one adapter may serve several CRMs, each call
/// counting in its own CRM's limit.
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// Short name of the adapter type for logs and `Debug` (never a credential).
    fn kind(&self) -> &'static str;

    /// Creates or updates one object and returns its CRM id, if the CRM gave one.
    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError>;

    /// Deletes (archives) one object.
    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError>;

    /// Asks the CRM, with one read request and no write, whether it
    /// accepts the credentials and knows `object_type` (`etlify check
    /// --crms`). An error says why not: `Unauthorized` for credentials
    /// refused, the CRM's own message for an unknown object type.
    async fn check_access(
        &self,
        object_type: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Access, AdapterError> {
        let _ = (object_type, throttle);
        Ok(Access::NotChecked)
    }

    /// Whether [`Adapter::upsert`] honours `mode` (only `Upsert` unless
    /// an adapter says more); a binding whose mode its CRM's adapter does
    /// not honour is refused when the engine is built.
    fn supports_mode(&self, mode: WriteMode) -> bool {
        mode == WriteMode::Upsert
    }

    /// Native batch endpoints, when the CRM has them.
    fn batch(&self) -> Option<&dyn BatchAdapter> {
        None
    }

    /// Associations between objects, when the CRM has them (HubSpot).
    /// Without them, a binding's links are payload fields holding the
    /// targets' CRM ids (Airtable's linked-record fields).
    fn associations(&self) -> Option<&dyn AssociationAdapter> {
        None
    }

    /// Reading the object types' schemas and adding fields, when the CRM
    /// can (the schema check, `etlify crm-schema`).
    fn schema(&self) -> Option<&dyn SchemaAdapter> {
        None
    }

    /// Vendor budgets this adapter's requests count against besides the
    /// CRM's rate limit (Airtable's per token, HubSpot's searches); read
    /// once, when a CRM is registered with it.
    fn budgets(&self) -> Vec<Budget> {
        Vec::new()
    }
}

/// The answer of an update-only upsert ([`WriteMode::UpdateOnly`]) that
/// matched no object of `object_type` by `id_property`: nothing created.
pub(crate) fn no_object_to_update(object_type: &str, id_property: &str) -> AdapterError {
    let by = match id_property {
        "" => "it has no id property to match by".to_owned(),
        property => format!("none matches its {property}"),
    };
    AdapterError::new(
        AdapterErrorKind::NotFound,
        format!("no {object_type} object to update ({by}); mode update_only creates none"),
    )
    .no_object_to_update()
}

/// Result of a batch upsert, reconciled per input by the engine.
#[derive(Debug, Default)]
pub struct BatchUpsertResult {
    /// `id property value -> crm id` for every input the CRM accepted.
    pub crm_ids: HashMap<String, String>,
    /// Inputs the CRM rejected, by their id property value.
    pub errors: Vec<BatchItemError>,
}

/// One rejected input of a batch.
#[derive(Debug)]
pub struct BatchItemError {
    /// The input's id property value, when the CRM said which input it was.
    pub id_value: Option<String>,
    /// Why it was rejected.
    pub error: AdapterError,
}

/// One record of a batch upsert.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// Properties to write.
    pub payload: &'a Payload,
    /// The object's CRM id when known: the adapter may update it by id
    /// instead of matching on the id property.
    pub crm_id: Option<&'a str>,
    /// The id property is for matching only: written on create, never on an
    /// object that exists ([`UpsertRequest::id_property_only_on_create`]).
    pub id_property_only_on_create: bool,
}

/// Native batch endpoints of a CRM (G-11, G-12, G-14).
#[async_trait]
pub trait BatchAdapter: Send + Sync {
    /// Most records one request accepts (HubSpot 100, Airtable 10); the
    /// adapter slices larger inputs itself.
    fn max_batch_size(&self) -> usize;

    /// Creates or updates many objects identified by `id_property`. An
    /// `Err` of kind [`AdapterErrorKind::ValidationFailed`] means the CRM
    /// rejected the request as a whole; the engine then splits it to find
    /// the offending records.
    async fn batch_upsert(
        &self,
        object_type: &str,
        records: &[BatchItem<'_>],
        id_property: &str,
        throttle: &Throttle<'_>,
    ) -> Result<BatchUpsertResult, AdapterError>;

    /// Deletes many objects by CRM id.
    async fn batch_delete(
        &self,
        object_type: &str,
        crm_ids: &[String],
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError>;
}

/// One pair of CRM objects to link or unlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssociationPair<'a> {
    /// The record's object.
    pub from: &'a str,
    /// The target's object.
    pub to: &'a str,
}

/// Pairs of a request the CRM refused, by index into the request's pairs;
/// the others were done.
#[derive(Debug, Default)]
pub struct AssociationRefusals {
    /// Index into the pairs, and why.
    pub refused: Vec<(usize, AdapterError)>,
}

/// A CRM's associations between objects (docs/ADAPTERS.md, "Links").
/// Both calls must be safe to repeat: making an association that exists,
/// or removing one that does not, changes nothing.
#[async_trait]
pub trait AssociationAdapter: Send + Sync {
    /// Most pairs one request accepts; the engine sends no more.
    fn max_associations_per_request(&self) -> usize;

    /// Links each pair, from objects of `from_type` to objects of `to_type`,
    /// with `association`, in one request.
    async fn associate(
        &self,
        from_type: &str,
        to_type: &str,
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
        throttle: &Throttle<'_>,
    ) -> Result<AssociationRefusals, AdapterError>;

    /// The association type from `from_type` to `to_type` labelled
    /// `label` in the CRM, with one read at most (an adapter may keep
    /// the answer). `None` when the CRM has no such label; the default:
    /// labels are not supported.
    async fn label_type(
        &self,
        from_type: &str,
        to_type: &str,
        label: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Option<AssociationType>, AdapterError> {
        let _ = (from_type, to_type, label, throttle);
        Ok(None)
    }

    /// Removes the `association` between each pair, in one request.
    async fn dissociate(
        &self,
        from_type: &str,
        to_type: &str,
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
        throttle: &Throttle<'_>,
    ) -> Result<AssociationRefusals, AdapterError>;
}

/// The value of `id_property` in `payload`, as the string a CRM compares.
pub fn id_value(payload: &Payload, id_property: &str) -> Option<String> {
    match payload.get(id_property)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.is_empty() => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
