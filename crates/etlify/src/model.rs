//! Model declarations and their per-CRM bindings (docs/BEHAVIOUR.md, "Words"; docs/MODELS.md).
//!
//! A [`Model`] is a table of the application declared to Etlify; a
//! [`Binding`] is its configuration for one CRM (the gem's
//! `<crm>_etlified_with`).
//!
//! Like every declaration and options type (`Crm`, `Config`, `SqlPayload`,
//! `BatchSyncOptions`, `HubSpotConfig`, `HttpSettings`, `MigrateOptions`),
//! a setter is named after its field and takes `self`;
//! the getter of that field is `get_<field>` (sqlx's connect options do the
//! same).

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::delete_policy::{DeleteLimit, Disposal, DEFAULT_DELETE_LIMIT};
use crate::dependency::{Dependency, SyncDependency};
use crate::id::KeyType;
use crate::link::Link;
use crate::payload::PayloadSource;
use crate::values::{Payload, TimestampColumn};
use crate::write_mode::WriteMode;

/// Single-table inheritance: only rows whose `column` equals `value` belong
/// to the model; its sync rows still use the declared resource type (X-7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StiFilter {
    /// Type column, usually `type`.
    pub column: String,
    /// Required value, e.g. `Admin`.
    pub value: String,
}

/// The gem's `sync_if`: which records are eligible for this CRM.
#[derive(Clone)]
pub enum SyncIf {
    /// A boolean SQL condition over the model's table, e.g. `"email IS NOT NULL"`.
    Sql(String),
    /// A predicate over the loaded payload.
    Payload(Arc<dyn Fn(&Payload) -> bool + Send + Sync>),
}

impl fmt::Debug for SyncIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncIf::Sql(sql) => f.debug_tuple("Sql").field(sql).finish(),
            SyncIf::Payload(_) => f.write_str("Payload(<closure>)"),
        }
    }
}

/// How objects are matched apart from the payload ([`Binding::match_by`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchBy {
    /// The CRM property matched on (written only when creating).
    pub property: String,
    /// The payload query's column holding the value.
    pub column: String,
}

/// A model's configuration for one CRM.
#[derive(Debug, Clone)]
pub struct Binding {
    pub(crate) object_type: String,
    pub(crate) id_property: String,
    pub(crate) payload: Option<Arc<dyn PayloadSource>>,
    pub(crate) sync_if: Option<SyncIf>,
    pub(crate) stale_scope: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) dependencies: Vec<Dependency>,
    pub(crate) sync_dependencies: Vec<SyncDependency>,
    pub(crate) links: Vec<Link>,
    pub(crate) match_by: Option<MatchBy>,
    pub(crate) mode: WriteMode,
    pub(crate) on_delete: Disposal,
    pub(crate) on_leave_scope: Disposal,
    pub(crate) max_deletes_per_run: DeleteLimit,
}

impl Binding {
    /// Records go to CRM objects of `object_type`, identified by `id_property`.
    pub fn new(object_type: impl Into<String>, id_property: impl Into<String>) -> Self {
        Self {
            object_type: object_type.into(),
            id_property: id_property.into(),
            payload: None,
            sync_if: None,
            stale_scope: None,
            external_id: None,
            dependencies: Vec::new(),
            sync_dependencies: Vec::new(),
            links: Vec::new(),
            match_by: None,
            mode: WriteMode::Upsert,
            on_delete: Disposal::Keep,
            on_leave_scope: Disposal::Keep,
            max_deletes_per_run: DEFAULT_DELETE_LIMIT,
        }
    }

    /// Where payloads come from (required).
    pub fn payload(mut self, source: impl PayloadSource + 'static) -> Self {
        self.payload = Some(Arc::new(source));
        self
    }

    /// Eligibility condition; ineligible records are stamped, not sent.
    pub fn sync_if(mut self, condition: SyncIf) -> Self {
        self.sync_if = Some(condition);
        self
    }

    /// SQL condition over the model's table restricting which records the
    /// stale finder considers (G-17).
    pub fn stale_scope(mut self, condition: impl Into<String>) -> Self {
        self.stale_scope = Some(condition.into());
        self
    }

    /// Writes `property` = `"<ResourceType>:<id>"` on every object sent and
    /// matches objects by it instead of `id_property` (search, batch
    /// upsert). For object types without a unique id property (HubSpot
    /// deals, Airtable tables without a unique field): declare `property`
    /// unique in the CRM (HubSpot `hasUniqueValue`), and a create whose
    /// response was lost meets the CRM's duplicate check instead of making
    /// a second object. Not part of the digest.
    pub fn external_id(mut self, property: impl Into<String>) -> Self {
        self.external_id = Some(property.into());
        self
    }

    /// A table whose changes make the record stale.
    pub fn dependency(mut self, dependency: Dependency) -> Self {
        self.dependencies.push(dependency);
        self
    }

    /// A record that must have a CRM id before this one is sent (G-18).
    pub fn sync_dependency(mut self, dependency: SyncDependency) -> Self {
        self.sync_dependencies.push(dependency);
        self
    }

    /// Links the record's CRM object to its targets' (docs/MODELS.md,
    /// "Links"): once both have CRM ids, an association (HubSpot) or a
    /// linked-record field (Airtable); a record waits for targets not yet
    /// in the CRM, as for a sync dependency.
    pub fn link(mut self, link: Link) -> Self {
        self.links.push(link);
        self
    }

    /// Declared links.
    pub fn get_links(&self) -> &[Link] {
        &self.links
    }

    /// Matches objects by `property`, with the value of the payload
    /// query's `column`, apart from what is written: the property is sent
    /// only when an object is created, never written on an object that
    /// exists (HubSpot's `batch/upsert` by `email` also matches a contact's
    /// secondary emails, and writing `email` would make the app's address
    /// its primary one). A record with no CRM object and a blank value
    /// fails instead of being created without a match. Instead of the
    /// gem's `id_property` (leave it empty), which is written every time.
    pub fn match_by(mut self, property: impl Into<String>, column: impl Into<String>) -> Self {
        self.match_by = Some(MatchBy {
            property: property.into(),
            column: column.into(),
        });
        self
    }

    /// The match declared by [`Binding::match_by`].
    pub fn get_match_by(&self) -> Option<&MatchBy> {
        self.match_by.as_ref()
    }

    /// What a sync may do to the CRM's objects ([`WriteMode::Upsert`] by
    /// default: create or update, as the gem).
    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }

    /// What a sync may do to the CRM's objects.
    pub fn get_mode(&self) -> WriteMode {
        self.mode
    }

    /// What happens to a record's CRM object once its application row is
    /// deleted ([`Disposal::Keep`] by default, as the gem).
    pub fn on_delete(mut self, on_delete: Disposal) -> Self {
        self.on_delete = on_delete;
        self
    }

    /// What happens to a record's CRM object once the record leaves the
    /// binding's scope: its `stale_scope` or `sync_if` no longer holds
    /// ([`Disposal::Keep`] by default: the object stays, as the gem).
    /// Archived records that come back are synced again (created anew).
    pub fn on_leave_scope(mut self, on_leave_scope: Disposal) -> Self {
        self.on_leave_scope = on_leave_scope;
        self
    }

    /// What happens to the object of a record that left the scope.
    pub fn get_on_leave_scope(&self) -> Disposal {
        self.on_leave_scope
    }

    /// The most records one run may archive for this binding
    /// ([`DEFAULT_DELETE_LIMIT`]: 10% of its synced records); above it the
    /// run archives none and reports them held
    /// ([`crate::RunStats::deletes_held`]).
    pub fn max_deletes_per_run(mut self, limit: DeleteLimit) -> Self {
        self.max_deletes_per_run = limit;
        self
    }

    /// What happens to a deleted record's CRM object.
    pub fn get_on_delete(&self) -> Disposal {
        self.on_delete
    }

    /// The most records one run may archive.
    pub fn get_max_deletes_per_run(&self) -> DeleteLimit {
        self.max_deletes_per_run
    }

    /// CRM object type.
    pub fn get_object_type(&self) -> &str {
        &self.object_type
    }

    /// Property identifying the object in the CRM.
    pub fn get_id_property(&self) -> &str {
        &self.id_property
    }

    /// The payload source, if set.
    pub fn get_payload(&self) -> Option<&Arc<dyn PayloadSource>> {
        self.payload.as_ref()
    }

    /// The eligibility condition, if set.
    pub fn get_sync_if(&self) -> Option<&SyncIf> {
        self.sync_if.as_ref()
    }

    /// The `stale_scope` condition, if set.
    pub fn get_stale_scope(&self) -> Option<&str> {
        self.stale_scope.as_deref()
    }

    /// The external-id property, if set.
    pub fn get_external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    /// Declared dependencies.
    pub fn get_dependencies(&self) -> &[Dependency] {
        &self.dependencies
    }

    /// Declared sync dependencies.
    pub fn get_sync_dependencies(&self) -> &[SyncDependency] {
        &self.sync_dependencies
    }
}

/// A table of the application declared to Etlify.
///
/// ```
/// # use etlify::{Binding, Model, SqlPayload};
/// let users = Model::new("User", "users").bind(
///     "hubspot",
///     Binding::new("contacts", "email")
///         .payload(SqlPayload::new("SELECT id, email FROM users")),
/// );
/// assert_eq!(users.get_resource_type(), "User");
/// ```
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) resource_type: String,
    pub(crate) table: String,
    pub(crate) primary_key: String,
    pub(crate) key_type: KeyType,
    pub(crate) timestamp: TimestampColumn,
    pub(crate) sti: Option<StiFilter>,
    pub(crate) soft_delete_column: Option<String>,
    pub(crate) bindings: IndexMap<String, Binding>,
}

impl Model {
    /// Rows of `table`, stored in sync rows as `resource_type`.
    pub fn new(resource_type: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            resource_type: resource_type.into(),
            table: table.into(),
            primary_key: "id".to_owned(),
            key_type: KeyType::Integer,
            timestamp: TimestampColumn::Auto,
            sti: None,
            soft_delete_column: None,
            bindings: IndexMap::new(),
        }
    }

    /// Primary key column (default `id`).
    pub fn primary_key(mut self, column: impl Into<String>) -> Self {
        self.primary_key = column.into();
        self
    }

    /// Kind of the primary key (default [`KeyType::Integer`]): how a key
    /// typed by a user (`etlify sync-record User 3f…`) is read. Keys read
    /// from the database take their column's type whatever is declared.
    pub fn key_type(mut self, key_type: KeyType) -> Self {
        self.key_type = key_type;
        self
    }

    /// Timestamp column (default: `updated_at`, else `created_at`, else none).
    pub fn timestamp(mut self, timestamp: TimestampColumn) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Restricts the model to STI rows with `column = value`.
    pub fn sti(mut self, column: impl Into<String>, value: impl Into<String>) -> Self {
        self.sti = Some(StiFilter {
            column: column.into(),
            value: value.into(),
        });
        self
    }

    /// The column the application marks a row deleted in (`deleted_at`):
    /// a row where it is not NULL counts as deleted. Such rows are never
    /// synced, and bindings with `on_delete = archive` archive their
    /// objects in the next ordinary run (found through the column, as
    /// cheaply as any change: index it). A row whose column is cleared
    /// again is synced again (created, or matched and adopted).
    pub fn soft_delete_column(mut self, column: impl Into<String>) -> Self {
        self.soft_delete_column = Some(column.into());
        self
    }

    /// The column marking a row deleted, if declared.
    pub fn get_soft_delete_column(&self) -> Option<&str> {
        self.soft_delete_column.as_deref()
    }

    /// Binds the model to the CRM `crm_name` (replacing an earlier binding).
    pub fn bind(mut self, crm_name: impl Into<String>, binding: Binding) -> Self {
        self.bindings.insert(crm_name.into(), binding);
        self
    }

    /// Declared resource type.
    pub fn get_resource_type(&self) -> &str {
        &self.resource_type
    }

    /// Table name.
    pub fn get_table(&self) -> &str {
        &self.table
    }

    /// Primary key column.
    pub fn get_primary_key(&self) -> &str {
        &self.primary_key
    }

    /// Kind of the primary key.
    pub fn get_key_type(&self) -> KeyType {
        self.key_type
    }

    /// Timestamp column, as declared.
    pub fn get_timestamp(&self) -> &TimestampColumn {
        &self.timestamp
    }

    /// STI filter, if any.
    pub fn get_sti(&self) -> Option<&StiFilter> {
        self.sti.as_ref()
    }

    /// Binding for `crm_name`.
    pub fn get_binding(&self, crm_name: &str) -> Option<&Binding> {
        self.bindings.get(crm_name)
    }

    /// Names of the CRMs the model is bound to, in binding order.
    pub fn get_crm_names(&self) -> impl Iterator<Item = &str> {
        self.bindings.keys().map(String::as_str)
    }
}
