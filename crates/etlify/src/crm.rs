//! CRM registration and its options (G-1, G-2, G-8, G-16).

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::adapters::{
    Access, Adapter, AdapterError, BatchAdapter, BatchItem, BatchUpsertResult, NewField,
    ObjectSchema, RemoteDelete, UpsertRequest,
};
use crate::adapters::{AssociationAdapter, AssociationPair, AssociationRefusals};
use crate::error::ConfigError;
use crate::link::AssociationType;
use crate::ratelimit::{CrmLimits, RateBudgets, RateLimit, Throttle};
pub use crate::schema_options::SchemaCheck;
use crate::schema_options::{SchemaMemory, SchemaOptions, Values};
use crate::values::Payload;

/// A CRM to register: a name, an adapter and options.
///
/// ```
/// # use std::{sync::Arc, time::Duration};
/// # use etlify::{Crm, RateLimit, adapters::NullAdapter};
/// let crm = Crm::new("hubspot", Arc::new(NullAdapter::new()))
///     .enabled(true)
///     .rate_limit(RateLimit::new(100, Duration::from_secs(10)).unwrap())
///     .max_sync_errors(5);
/// assert_eq!(crm.get_name(), "hubspot");
/// ```
#[derive(Clone)]
pub struct Crm {
    name: String,
    adapter: Arc<dyn Adapter>,
    enabled: bool,
    rate_limit: Option<RateLimit>,
    max_sync_errors: Option<u32>,
    /// Set by [`Crm::max_in_flight`]; else sized from the rate limit.
    max_in_flight: Option<usize>,
    /// Its schema check, rendering and what runs learnt of its schemas.
    schema: SchemaOptions,
    /// The limits every call of the adapter for this CRM counts in, built
    /// when the CRM is registered (none before).
    limits: Arc<CrmLimits>,
}

/// Requests a batch run keeps in flight per CRM by default, at least: enough to
/// reach a bound of 10 requests per second (HubSpot's 100 per 10 s) when
/// each request takes up to 400 ms. A CRM with a rate limit keeps more,
/// [`in_flight_for`] its limit.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

/// The most requests a batch run keeps in flight by default, however fast
/// the CRM's limit (each open request holds a page in memory).
const MAX_DEFAULT_IN_FLIGHT: usize = 32;

/// How many seconds a request may hold its slot with the default and the
/// CRM's bound still be reached: a slot is taken before the request waits
/// for its place in the rate window and kept until the CRM answers, so at
/// 1 s of latency a slot is held longer than a second. With 1.2 s (12
/// slots for 10 requests a second) a run at 1 s of latency reached 0.91×
/// HubSpot's 100 per 10 s, with 20 slots 0.95× (issue 26, item 5;
/// docs/BENCHMARKS.md, "Short windows, the sandbox counting arrivals").
const LATENCY_COVERED_SECONDS: f64 = 2.0;

/// Requests in flight a batch run keeps by default with a CRM whose every
/// request counts against `limits`: the tightest one's requests per second
/// times [`LATENCY_COVERED_SECONDS`] (rounded up), so that the limit, not
/// the latency, bounds the run with responses of a second and more; at
/// least [`DEFAULT_MAX_IN_FLIGHT`] (also without a limit), at most 32.
fn in_flight_for(limits: impl IntoIterator<Item = RateLimit>) -> usize {
    let per_second =
        |limit: RateLimit| f64::from(limit.get_max_requests()) / limit.get_period().as_secs_f64();
    let Some(per_second) = limits.into_iter().map(per_second).reduce(f64::min) else {
        return DEFAULT_MAX_IN_FLIGHT;
    };
    let needed = (per_second * LATENCY_COVERED_SECONDS).ceil();
    // A float in [0, MAX]: the cast is exact.
    (needed.min(MAX_DEFAULT_IN_FLIGHT as f64) as usize).max(DEFAULT_MAX_IN_FLIGHT)
}

impl fmt::Debug for Crm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The adapter may hold credentials: only its kind is shown.
        f.debug_struct("Crm")
            .field("name", &self.name)
            .field("adapter", &self.adapter.kind())
            .field("enabled", &self.enabled)
            .field("rate_limit", &self.rate_limit)
            .field("max_sync_errors", &self.max_sync_errors)
            .field("max_in_flight", &self.max_in_flight)
            .field("schema", &self.schema)
            .finish()
    }
}

impl Crm {
    /// A CRM named `name` talking through `adapter`; enabled, unthrottled.
    pub fn new(name: impl Into<String>, adapter: Arc<dyn Adapter>) -> Self {
        Self {
            name: name.into(),
            adapter,
            enabled: true,
            rate_limit: None,
            max_sync_errors: None,
            max_in_flight: None,
            schema: SchemaOptions::default(),
            limits: Arc::default(),
        }
    }

    /// Whether batch runs check payloads against the CRM's schema first
    /// ([`SchemaCheck::Auto`] by default).
    pub fn schema_check(mut self, check: SchemaCheck) -> Self {
        self.schema.check = check;
        self
    }

    /// Whether batch runs check payloads against the CRM's schema first.
    pub fn get_schema_check(&self) -> SchemaCheck {
        self.schema.check
    }

    /// The group fields created for missing payload properties go in,
    /// where the CRM groups them (HubSpot; `etlify` when unset).
    pub fn property_group(mut self, group: impl Into<String>) -> Self {
        self.schema.property_group = Some(group.into());
        self
    }

    /// The group created fields go in, if set.
    pub fn get_property_group(&self) -> Option<&str> {
        self.schema.property_group.as_deref()
    }

    /// What batch runs learnt of the CRM's schemas.
    pub(crate) fn schema_memory(&self) -> &SchemaMemory {
        &self.schema.memory
    }

    /// Whether values are sent in the form the CRM's fields want (`true`
    /// by default) once a batch run's check (or, before any, the first
    /// per-record sync) has read the object type's schema: HubSpot dates as midnight-UTC milliseconds, datetimes as
    /// milliseconds, booleans as `"true"`/`"false"`, multi-selects joined
    /// by `;`; Airtable numbers, checkboxes, dates, multi-selects and text
    /// as their field types take them. Rendering comes after the digest:
    /// turning it on or off re-sends nothing (a full sync does).
    pub fn render_values(mut self, render: bool) -> Self {
        self.schema.render_values = render;
        self
    }

    /// Sends `property` of `object_type` as the payload has it, whatever
    /// [`Crm::render_values`] says.
    pub fn value_as_is(
        mut self,
        object_type: impl Into<String>,
        property: impl Into<String>,
    ) -> Self {
        self.schema
            .values_as_is
            .push((object_type.into(), property.into()));
        self
    }

    /// Turns the CRM into a no-op when `false` (G-1, default `true`).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Throttles every request of this CRM (G-8).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Error budget of this CRM, overriding the global one (G-16).
    pub fn max_sync_errors(mut self, max: u32) -> Self {
        self.max_sync_errors = Some(max);
        self
    }

    /// Requests a batch run keeps in flight at once with this CRM (at
    /// least 1): while they wait on the CRM, the next page is found,
    /// loaded and digested. The rate limit still caps every request. By
    /// default [`DEFAULT_MAX_IN_FLIGHT`], or with a rate limit its requests
    /// per second × 2 (at most 32): 20 for 10 requests a second, so a CRM
    /// answering in 1 s or more is still sent its limit (a request holds
    /// its slot while it waits for its place in the rate window, too).
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = Some(requests.max(1));
        self
    }

    /// Requests kept in flight at once by a batch run (set, or sized from
    /// the rate limit).
    pub fn get_max_in_flight(&self) -> usize {
        self.max_in_flight.unwrap_or_else(|| {
            let budgets = self.adapter.budgets().into_iter();
            let every_request = budgets.filter(|budget| budget.counts_every_request());
            in_flight_for(
                self.rate_limit
                    .into_iter()
                    .chain(every_request.map(|b| b.limit())),
            )
        })
    }

    /// Registered name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// Whether the CRM is active.
    pub fn get_enabled(&self) -> bool {
        self.enabled
    }

    /// The adapter itself; call it through [`Crm::adapter`] to count the
    /// calls in this CRM's limits.
    pub fn get_adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    /// The adapter as the engine calls it: every call counted in this
    /// CRM's limits (once registered), whether the adapter throttles its
    /// requests or not.
    pub fn adapter(&self) -> ThrottledAdapter<'_> {
        ThrottledAdapter {
            adapter: self.adapter.as_ref(),
            limits: &self.limits,
            values: self.schema.values(),
        }
    }

    /// The limits this CRM's calls count in: its own rate limit and its
    /// adapter's vendor budgets (empty until the CRM is registered).
    pub fn limits(&self) -> &CrmLimits {
        &self.limits
    }

    /// Configured rate limit, if any.
    pub fn get_rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// This CRM's own error budget, if set (else the global one applies).
    pub fn get_max_sync_errors(&self) -> Option<u32> {
        self.max_sync_errors
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let location = format!("crms.{}", self.name);
        if self.name.trim().is_empty() {
            return Err(ConfigError::new("crms", "name", "must not be empty"));
        }
        if self.max_sync_errors == Some(0) {
            return Err(ConfigError::new(
                location,
                "max_sync_errors",
                "must be a positive integer",
            ));
        }
        Ok(())
    }
}

/// The registered CRMs, in registration order (as in the gem), and
/// the limiters of their calls.
#[derive(Debug, Clone, Default)]
pub struct CrmRegistry {
    crms: IndexMap<String, Crm>,
    budgets: RateBudgets,
}

impl CrmRegistry {
    /// No CRM, and vendor budgets of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// No CRM; vendor budgets kept in `budgets`, shared with whatever else
    /// holds a clone of it (another engine on the same tokens).
    pub fn with_budgets(budgets: RateBudgets) -> Self {
        Self {
            crms: IndexMap::new(),
            budgets,
        }
    }

    /// Registers `crm`, replacing an earlier one of the same name (as in the gem),
    /// with limits of its own: a limiter for its rate limit (G-8) and its
    /// adapter's vendor budgets from this registry's. Limits a copy of
    /// `crm` carried from another registration are not kept.
    pub fn register(&mut self, mut crm: Crm) -> Result<(), ConfigError> {
        crm.validate()?;
        crm.limits = Arc::new(CrmLimits::new(
            crm.rate_limit,
            &crm.adapter.budgets(),
            &self.budgets,
        ));
        self.crms.insert(crm.name.clone(), crm);
        Ok(())
    }

    /// The CRM named `name`.
    pub fn get(&self, name: &str) -> Option<&Crm> {
        self.crms.get(name)
    }

    /// Registered names in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.crms.keys().map(String::as_str)
    }

    /// All registered CRMs.
    pub fn iter(&self) -> impl Iterator<Item = &Crm> {
        self.crms.values()
    }

    /// Whether `name` is enabled; `true` for unknown names on purpose (G-2).
    pub fn enabled(&self, name: &str) -> bool {
        self.crms.get(name).is_none_or(|crm| crm.enabled)
    }
}

/// A CRM's adapter as the engine calls it ([`Crm::adapter`]): each call
/// counts its first request in the CRM's limit before the adapter runs,
/// and hands the adapter the CRM's [`Throttle`] for its other requests.
#[derive(Clone, Copy)]
pub struct ThrottledAdapter<'a> {
    adapter: &'a dyn Adapter,
    limits: &'a CrmLimits,
    values: Values<'a>,
}

impl fmt::Debug for ThrottledAdapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottledAdapter")
            .field("adapter", &self.adapter.kind())
            .field("limits", self.limits)
            .finish()
    }
}

impl<'a> ThrottledAdapter<'a> {
    /// Short name of the adapter type.
    pub fn kind(&self) -> &'static str {
        self.adapter.kind()
    }

    /// [`Adapter::upsert`], counted in the CRM's limits.
    pub async fn upsert(&self, request: UpsertRequest<'_>) -> Result<Option<String>, AdapterError> {
        let rendered = self.values.rendered(
            self.adapter,
            request.object_type,
            request.payload,
            request.id_property,
        );
        let request = match &rendered {
            Some(payload) => UpsertRequest { payload, ..request },
            None => request,
        };
        let throttle = Throttle::for_call(self.limits).await;
        self.adapter.upsert(request, &throttle).await
    }

    /// `payload` as [`ThrottledAdapter::upsert`] sends it to
    /// `object_type`: in the form of the CRM's fields where their schema is
    /// known, read once first when no batch run has read it (a read, never
    /// a write); `None` when it is sent as it is.
    pub(crate) async fn rendered(
        &self,
        object_type: &str,
        payload: &Payload,
        id_property: &str,
    ) -> Option<Payload> {
        self.learn_schema(object_type).await;
        self.values
            .rendered(self.adapter, object_type, payload, id_property)
    }

    /// Reads `object_type`'s schema once, if values are rendered and no
    /// batch run of this process has read it: what a per-record sync
    /// outside a batch run renders for (`Etlify::learn_crm_schema`).
    pub(crate) async fn learn_schema(&self, object_type: &str) {
        self.values
            .learn_schema(object_type, || self.read_schema(object_type))
            .await;
    }

    /// [`Adapter::delete`], counted in the CRM's limits.
    pub async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
    ) -> Result<RemoteDelete, AdapterError> {
        let throttle = Throttle::for_call(self.limits).await;
        self.adapter.delete(object_type, crm_id, &throttle).await
    }

    /// [`Adapter::check_access`], counted in the CRM's limits.
    pub async fn check_access(&self, object_type: &str) -> Result<Access, AdapterError> {
        let throttle = Throttle::for_call(self.limits).await;
        self.adapter.check_access(object_type, &throttle).await
    }

    /// The adapter's associations, counted in the CRM's limits.
    pub fn associations(&self) -> Option<ThrottledAssociations<'a>> {
        Some(ThrottledAssociations {
            associations: self.adapter.associations()?,
            limits: self.limits,
        })
    }

    /// Whether the adapter can read schemas ([`Adapter::schema`]).
    pub fn reads_schemas(&self) -> bool {
        self.adapter.schema().is_some()
    }

    /// [`SchemaAdapter::read_schema`](crate::adapters::SchemaAdapter::read_schema),
    /// counted in the CRM's limits; `None` when the adapter cannot.
    pub async fn read_schema(
        &self,
        object_type: &str,
    ) -> Option<Result<ObjectSchema, AdapterError>> {
        let schema = self.adapter.schema()?;
        let throttle = Throttle::for_call(self.limits).await;
        Some(schema.read_schema(object_type, &throttle).await)
    }

    /// [`SchemaAdapter::create_field`](crate::adapters::SchemaAdapter::create_field),
    /// counted in the CRM's limits; `None` when the adapter cannot.
    pub async fn create_field(
        &self,
        object_type: &str,
        field: &NewField,
    ) -> Option<Result<(), AdapterError>> {
        let schema = self.adapter.schema()?;
        let throttle = Throttle::for_call(self.limits).await;
        Some(schema.create_field(object_type, field, &throttle).await)
    }

    /// The adapter's batch endpoints, counted in the CRM's limits.
    pub fn batch(&self) -> Option<ThrottledBatch<'a>> {
        Some(ThrottledBatch {
            batch: self.adapter.batch()?,
            limits: self.limits,
            adapter: self.adapter,
            values: self.values,
        })
    }
}

/// A CRM's batch endpoints as the engine calls them (see [`ThrottledAdapter`]).
#[derive(Clone, Copy)]
pub struct ThrottledBatch<'a> {
    batch: &'a dyn BatchAdapter,
    limits: &'a CrmLimits,
    adapter: &'a dyn Adapter,
    values: Values<'a>,
}

impl fmt::Debug for ThrottledBatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottledBatch")
            .field("max_batch_size", &self.batch.max_batch_size())
            .field("limits", self.limits)
            .finish()
    }
}

impl ThrottledBatch<'_> {
    /// [`BatchAdapter::max_batch_size`].
    pub fn max_batch_size(&self) -> usize {
        self.batch.max_batch_size()
    }

    /// [`BatchAdapter::batch_upsert`], counted in the CRM's limits.
    pub async fn batch_upsert(
        &self,
        object_type: &str,
        records: &[BatchItem<'_>],
        id_property: &str,
    ) -> Result<BatchUpsertResult, AdapterError> {
        let rendered: Option<Vec<Payload>> = records
            .iter()
            .map(|r| {
                self.values
                    .rendered(self.adapter, object_type, r.payload, id_property)
            })
            .collect();
        let items: Vec<BatchItem<'_>> = match &rendered {
            Some(payloads) => records
                .iter()
                .zip(payloads)
                .map(|(record, payload)| BatchItem { payload, ..*record })
                .collect(),
            None => records.to_vec(),
        };
        let throttle = Throttle::for_call(self.limits).await;
        self.batch
            .batch_upsert(object_type, &items, id_property, &throttle)
            .await
    }

    /// [`BatchAdapter::batch_delete`], counted in the CRM's limits.
    pub async fn batch_delete(
        &self,
        object_type: &str,
        crm_ids: &[String],
    ) -> Result<(), AdapterError> {
        let throttle = Throttle::for_call(self.limits).await;
        self.batch
            .batch_delete(object_type, crm_ids, &throttle)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limit(requests: u32, seconds: u64) -> RateLimit {
        RateLimit::new(requests, Duration::from_secs(seconds)).expect("a valid limit")
    }

    #[test]
    fn in_flight_covers_two_seconds_a_slot_at_the_tightest_limit() {
        assert_eq!(in_flight_for([]), DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(in_flight_for([limit(10, 1)]), 20);
        assert_eq!(in_flight_for([limit(100, 10)]), 20);
        assert_eq!(in_flight_for([limit(5, 1)]), 10);
        assert_eq!(
            in_flight_for([limit(50, 1), limit(5, 1)]),
            10,
            "the tightest"
        );
        assert_eq!(
            in_flight_for([limit(1, 1)]),
            DEFAULT_MAX_IN_FLIGHT,
            "at least"
        );
        assert_eq!(
            in_flight_for([limit(1000, 1)]),
            MAX_DEFAULT_IN_FLIGHT,
            "at most"
        );
    }

    #[test]
    fn in_flight_set_by_the_user_wins_over_the_limit() {
        let adapter: Arc<dyn Adapter> = Arc::new(crate::adapters::NullAdapter::new());
        let sized = Crm::new("hubspot", adapter.clone()).rate_limit(limit(10, 1));
        assert_eq!(sized.get_max_in_flight(), 20);
        assert_eq!(sized.max_in_flight(3).get_max_in_flight(), 3);
        assert_eq!(Crm::new("hubspot", adapter).get_max_in_flight(), 4);
    }
}

/// A CRM's associations as the engine calls them: every request counted
/// in the CRM's limits ([`ThrottledAdapter::associations`]).
#[derive(Clone, Copy)]
pub struct ThrottledAssociations<'a> {
    associations: &'a dyn AssociationAdapter,
    limits: &'a CrmLimits,
}

impl fmt::Debug for ThrottledAssociations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottledAssociations")
            .finish_non_exhaustive()
    }
}

impl ThrottledAssociations<'_> {
    /// [`AssociationAdapter::max_associations_per_request`].
    pub fn max_per_request(&self) -> usize {
        self.associations.max_associations_per_request().max(1)
    }

    /// [`AssociationAdapter::associate`], counted in the CRM's limits.
    pub async fn associate(
        &self,
        (from_type, to_type): (&str, &str),
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
    ) -> Result<AssociationRefusals, AdapterError> {
        let throttle = Throttle::for_call(self.limits).await;
        self.associations
            .associate(from_type, to_type, association, pairs, &throttle)
            .await
    }

    /// [`AssociationAdapter::label_type`], counted in the CRM's limits.
    pub async fn label_type(
        &self,
        (from_type, to_type): (&str, &str),
        label: &str,
    ) -> Result<Option<AssociationType>, AdapterError> {
        let throttle = Throttle::for_call(self.limits).await;
        self.associations
            .label_type(from_type, to_type, label, &throttle)
            .await
    }

    /// [`AssociationAdapter::dissociate`], counted in the CRM's limits.
    pub async fn dissociate(
        &self,
        (from_type, to_type): (&str, &str),
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
    ) -> Result<AssociationRefusals, AdapterError> {
        let throttle = Throttle::for_call(self.limits).await;
        self.associations
            .dissociate(from_type, to_type, association, pairs, &throttle)
            .await
    }
}
