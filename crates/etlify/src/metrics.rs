//! The engine's Prometheus metrics (docs/OPERATIONS.md, "Metrics").
//!
//! Every [`Metrics`] owns its registry: two engines in one process (tests,
//! a service running several) count apart, and nothing is process-global.
//! The families are created when the engine is built, with a series per
//! registered CRM and per (CRM, model) binding at zero, so a counter exists
//! before it first moves and `rate()` sees its first increment.
//!
//! Labels are only names from the configuration (CRM, model) and closed
//! sets (outcome, HTTP status code, standing, job state): never a record
//! id, a CRM id or a payload value, whose number has no bound and which
//! may be personal data.
//!
//! The hot path only increments: each CRM's request series and each
//! binding's outcome series are resolved once, at build, and held as
//! handles ([`CrmMetrics`], [`BindingMetrics`]); only a request's status
//! code is looked up per request (a bounded set).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s text (OpenMetrics 1.0, which
/// Prometheus reads, as it does the older text format).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The least time between two computations of the gauges that need a query
/// (records per standing, the job queue), by default: a scrape within it
/// reads the last values ([`crate::EtlifyBuilder::metrics_min_interval`]).
pub const DEFAULT_METRICS_MIN_INTERVAL: Duration = Duration::from_secs(15);

/// Outcomes `etlify_records_synced_total` counts (`BatchStats::by_outcome`
/// names them), in the order of [`BindingMetrics::outcomes`].
const OUTCOMES: [&str; 8] = [
    "synced",
    "not_modified",
    "skipped",
    "buffered",
    "error",
    "in_doubt",
    "archived",
    "no_object_to_update",
];

/// Where a record stands, as `etlify_records` labels it (`Etlify::status`).
pub(crate) const STANDINGS: [&str; 6] = [
    "in_sync",
    "stale",
    "never_synced",
    "failing",
    "over_budget",
    "waiting",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CrmLabels {
    crm: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BindingLabels {
    crm: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    crm: String,
    model: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    crm: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StandingLabels {
    crm: String,
    model: String,
    standing: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    state: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// A CRM request's time: 10 ms to about 41 s, doubling (a request waits up
/// to the 30-second timeout).
fn request_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.01, 2.0, 13,
    ))
}

/// A CRM's batch run: 10 ms (nothing changed) to about 11 hours (a first
/// sync of millions of records at a CRM's rate limit).
fn run_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.01, 4.0, 12,
    ))
}

/// From a record's change to the CRM's answer: within a second (a
/// notified worker) to an hour (a backlog).
fn latency_buckets() -> Histogram {
    Histogram::new([
        0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
    ])
}

/// The metric families of one engine and its registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
    /// Whether syncs read their records' timestamps for
    /// `etlify_change_to_crm_seconds` ([`crate::EtlifyBuilder::metrics_change_latency`]).
    change_latency: bool,
}

struct Inner {
    registry: Registry,
    records: Family<StandingLabels, Gauge>,
    jobs: Family<JobLabels, Gauge>,
    oldest_queued_job_age: FloatGauge,
    gauges_computed_at: FloatGauge,
    gauges_computation: FloatGauge,
    crms: HashMap<String, CrmMetrics>,
    /// By CRM, then model.
    bindings: HashMap<String, HashMap<String, BindingMetrics>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("crms", &self.inner.crms.len())
            .finish()
    }
}

impl Metrics {
    /// These metrics, observing the change-to-CRM latency when `on`.
    pub(crate) fn with_change_latency(mut self, on: bool) -> Self {
        self.change_latency = on;
        self
    }

    /// Whether syncs observe the change-to-CRM latency (a read of their
    /// records' timestamps beside the payloads).
    pub(crate) fn observes_change_latency(&self) -> bool {
        self.change_latency
    }

    /// The families of an engine with the CRMs `crms` and the (CRM, model)
    /// bindings `bindings`, every series at zero.
    pub(crate) fn new<'a>(
        crms: impl IntoIterator<Item = &'a str>,
        bindings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut registry = Registry::with_prefix("etlify");
        registry.register(
            "build",
            "The engine's version (always 1).",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let synced = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "records_synced",
            "Records handled by syncs, by outcome (batch runs and one-record syncs).",
            synced.clone(),
        );
        let requests = Family::<StatusLabels, Counter>::default();
        registry.register(
            "crm_requests",
            "HTTP requests sent to a CRM, retries included, by response status code (`error`: no response).",
            requests.clone(),
        );
        let durations: Histograms<CrmLabels> = Family::new_with_constructor(request_buckets);
        registry.register(
            "crm_request_duration_seconds",
            "Time from sending a CRM request to its whole response (or its failure).",
            durations.clone(),
        );
        let rate_limited = Family::<CrmLabels, Counter>::default();
        registry.register(
            "crm_rate_limited",
            "CRM responses 429 (too many requests).",
            rate_limited.clone(),
        );
        let waits = Family::<CrmLabels, FloatCounter>::default();
        registry.register(
            "rate_limit_wait_seconds",
            "Time CRM calls spent waiting for the CRM's rate limit and vendor budgets (a 429's pause included).",
            waits.clone(),
        );
        let in_flight = Family::<CrmLabels, Gauge>::default();
        registry.register(
            "crm_requests_in_flight",
            "CRM requests sent and not answered yet.",
            in_flight.clone(),
        );
        let runs: Histograms<CrmLabels> = Family::new_with_constructor(run_buckets);
        registry.register(
            "run_duration_seconds",
            "Time a batch run spent on one CRM (all its models), whatever its end.",
            runs.clone(),
        );
        let last_success = Family::<CrmLabels, FloatGauge>::default();
        registry.register(
            "last_successful_run_timestamp_seconds",
            "When a batch run last went to the end for every model of the CRM (Unix time).",
            last_success.clone(),
        );
        let model_success = Family::<BindingLabels, FloatGauge>::default();
        registry.register(
            "model_last_successful_run_timestamp_seconds",
            "When a batch run last went to the end for the (CRM, model) and left its checkpoint (Unix time).",
            model_success.clone(),
        );
        let change_to_crm: Histograms<BindingLabels> =
            Family::new_with_constructor(latency_buckets);
        registry.register(
            "change_to_crm_seconds",
            "Time from a record's change (its timestamp column) to the CRM accepting it, for records sent because they changed.",
            change_to_crm.clone(),
        );
        let records = Family::<StandingLabels, Gauge>::default();
        registry.register(
            "records",
            "Records in scope by where they stand with the CRM (as `etlify status` counts them), computed at most once per interval: from the last batch run's checkpoint, only what changed since it is classed and the other records are in sync, as the next run takes them; without a checkpoint that applies, the whole table.",
            records.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "jobs",
            "Sync jobs requested and not ended, queued or running, over every worker.",
            jobs.clone(),
        );
        let oldest_queued_job_age = FloatGauge::default();
        registry.register(
            "oldest_queued_job_age_seconds",
            "Age of the oldest job queued and not started (0 when none).",
            oldest_queued_job_age.clone(),
        );
        let gauges_computed_at = FloatGauge::default();
        registry.register(
            "status_computed_timestamp_seconds",
            "When the records and jobs gauges were last computed (Unix time).",
            gauges_computed_at.clone(),
        );
        let gauges_computation = FloatGauge::default();
        registry.register(
            "status_computation_seconds",
            "How long the last computation of the records and jobs gauges took.",
            gauges_computation.clone(),
        );

        let crms = crms
            .into_iter()
            .map(|crm| {
                let labels = CrmLabels {
                    crm: crm.to_owned(),
                };
                let handle = CrmMetrics {
                    crm: crm.to_owned(),
                    requests: requests.clone(),
                    duration: durations.get_or_create_owned(&labels),
                    rate_limited: rate_limited.get_or_create_owned(&labels),
                    waited: waits.get_or_create_owned(&labels),
                    in_flight: in_flight.get_or_create_owned(&labels),
                    run_duration: runs.get_or_create_owned(&labels),
                    last_success: last_success.get_or_create_owned(&labels),
                };
                (crm.to_owned(), handle)
            })
            .collect();
        let mut by_crm: HashMap<String, HashMap<String, BindingMetrics>> = HashMap::new();
        for (crm, model) in bindings {
            let outcomes = OUTCOMES.map(|outcome| {
                synced.get_or_create_owned(&OutcomeLabels {
                    crm: crm.to_owned(),
                    model: model.to_owned(),
                    outcome,
                })
            });
            let labels = BindingLabels {
                crm: crm.to_owned(),
                model: model.to_owned(),
            };
            let handle = BindingMetrics {
                outcomes,
                change_to_crm: change_to_crm.get_or_create_owned(&labels),
                last_success: model_success.get_or_create_owned(&labels),
            };
            by_crm
                .entry(crm.to_owned())
                .or_default()
                .insert(model.to_owned(), handle);
        }
        Self {
            inner: Arc::new(Inner {
                registry,
                records,
                jobs,
                oldest_queued_job_age,
                gauges_computed_at,
                gauges_computation,
                crms,
                bindings: by_crm,
            }),
            change_latency: false,
        }
    }

    /// Every family's current values, in the OpenMetrics text format
    /// ([`METRICS_CONTENT_TYPE`]). The gauges that need a query hold their
    /// last computed values: [`crate::Etlify::encode_metrics`] refreshes
    /// them first when they are older than the interval.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; a label value the encoder
        // refused would leave the text cut short, which a scrape reports.
        if let Err(error) =
            prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
        {
            tracing::warn!(message = "Encoding the metrics failed.", %error);
        }
        text
    }

    /// The request and run series of the CRM `crm`, if registered.
    pub(crate) fn crm(&self, crm: &str) -> Option<&CrmMetrics> {
        self.inner.crms.get(crm)
    }

    /// The series of the (CRM, model) binding, if declared.
    pub(crate) fn binding(&self, crm: &str, model: &str) -> Option<&BindingMetrics> {
        self.inner.bindings.get(crm)?.get(model)
    }

    /// Counts outcomes of `model` with `crm`: records by outcome name
    /// (`BatchStats::by_outcome`).
    pub(crate) fn count_outcomes(&self, crm: &str, model: &str, counts: &[(&str, usize)]) {
        if let Some(binding) = self.binding(crm, model) {
            binding.count(counts);
        }
    }

    /// Sets the records of (`crm`, `model`) standing where each of
    /// [`STANDINGS`] says, in that order.
    pub(crate) fn set_standing(&self, crm: &str, model: &str, counts: [u64; 6]) {
        for (standing, count) in STANDINGS.into_iter().zip(counts) {
            self.inner
                .records
                .get_or_create(&StandingLabels {
                    crm: crm.to_owned(),
                    model: model.to_owned(),
                    standing,
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Sets the job queue's gauges.
    pub(crate) fn set_jobs(&self, queued: u64, running: u64, oldest_queued_age: Duration) {
        for (state, count) in [("queued", queued), ("running", running)] {
            self.inner
                .jobs
                .get_or_create(&JobLabels { state })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        self.inner
            .oldest_queued_job_age
            .set(oldest_queued_age.as_secs_f64());
    }

    /// The gauges that need a query were computed at `at` (Unix time, in
    /// seconds) in `took`.
    pub(crate) fn set_computed(&self, at: f64, took: Duration) {
        self.inner.gauges_computed_at.set(at);
        self.inner.gauges_computation.set(took.as_secs_f64());
    }

    /// The status code label of `status`: its code when it is one (a
    /// bounded set), else `other`.
    fn status_label(status: u16) -> &'static str {
        STATUS_CODES
            .binary_search_by_key(&status, |(code, _)| *code)
            .map_or("other", |index| STATUS_CODES[index].1)
    }
}

/// The status codes labelled by their number; any other is `other`.
const STATUS_CODES: [(u16, &str); 23] = [
    (200, "200"),
    (201, "201"),
    (202, "202"),
    (204, "204"),
    (207, "207"),
    (301, "301"),
    (302, "302"),
    (304, "304"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (409, "409"),
    (413, "413"),
    (422, "422"),
    (423, "423"),
    (429, "429"),
    (500, "500"),
    (501, "501"),
    (502, "502"),
    (503, "503"),
    (504, "504"),
];

/// The series of one CRM: its requests (by status), their time, 429s, the
/// time waited on its limits, requests in flight, its runs.
#[derive(Clone)]
pub(crate) struct CrmMetrics {
    crm: String,
    requests: Family<StatusLabels, Counter>,
    duration: Histogram,
    rate_limited: Counter,
    waited: FloatCounter,
    in_flight: Gauge,
    run_duration: Histogram,
    last_success: FloatGauge,
}

impl fmt::Debug for CrmMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrmMetrics")
            .field("crm", &self.crm)
            .finish()
    }
}

impl CrmMetrics {
    /// A request is sent: in flight until the guard is dropped.
    pub(crate) fn sending(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// A request got a response with `status` after `latency`.
    pub(crate) fn answered(&self, status: u16, latency: Duration) {
        self.count_request(Metrics::status_label(status), latency);
        if status == 429 {
            self.rate_limited.inc();
        }
    }

    /// A request got no response (refused, dropped, timed out) after `latency`.
    pub(crate) fn failed(&self, latency: Duration) {
        self.count_request("error", latency);
    }

    fn count_request(&self, status: &'static str, latency: Duration) {
        self.requests
            .get_or_create(&StatusLabels {
                crm: self.crm.clone(),
                status,
            })
            .inc();
        self.duration.observe(latency.as_secs_f64());
    }

    /// A call waited `wait` for the CRM's limits.
    pub(crate) fn waited(&self, wait: Duration) {
        if !wait.is_zero() {
            self.waited.inc_by(wait.as_secs_f64());
        }
    }

    /// A batch run of the CRM took `took`; `complete`: every model went to
    /// the end, at Unix time `now`.
    pub(crate) fn ran(&self, took: Duration, complete: bool, now: f64) {
        self.run_duration.observe(took.as_secs_f64());
        if complete {
            self.last_success.set(now);
        }
    }
}

/// A request in flight (`etlify_crm_requests_in_flight`) until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The series of one (CRM, model) binding.
#[derive(Clone)]
pub(crate) struct BindingMetrics {
    /// By outcome, in the order of [`OUTCOMES`].
    outcomes: [Counter; 8],
    change_to_crm: Histogram,
    last_success: FloatGauge,
}

impl fmt::Debug for BindingMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BindingMetrics")
    }
}

impl BindingMetrics {
    fn count(&self, counts: &[(&str, usize)]) {
        for (outcome, count) in counts {
            let index = OUTCOMES.iter().position(|known| known == outcome);
            if let (Some(index), true) = (index, *count > 0) {
                self.outcomes[index].inc_by(*count as u64);
            }
        }
    }

    /// A record changed `seconds` before the CRM accepted it (a clock
    /// behind the application's counts as no time).
    pub(crate) fn changed_to_crm(&self, seconds: f64) {
        self.change_to_crm.observe(seconds.max(0.0));
    }

    /// A batch run of the binding went to the end at Unix time `now`.
    pub(crate) fn ran_to_the_end(&self, now: f64) {
        self.last_success.set(now);
    }
}

/// Seconds since the Unix epoch, now (for the `_timestamp_seconds` gauges).
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_a_fresh_engine_shows_every_series_at_zero_with_its_names() {
        let metrics = Metrics::new(["hubspot"], [("hubspot", "User")]);
        let text = metrics.encode();
        for line in [
            "etlify_build_info{version=\"",
            "etlify_records_synced_total{crm=\"hubspot\",model=\"User\",outcome=\"synced\"} 0",
            "etlify_records_synced_total{crm=\"hubspot\",model=\"User\",outcome=\"in_doubt\"} 0",
            "etlify_crm_rate_limited_total{crm=\"hubspot\"} 0",
            "etlify_rate_limit_wait_seconds_total{crm=\"hubspot\"} 0",
            "etlify_crm_requests_in_flight{crm=\"hubspot\"} 0",
            "etlify_run_duration_seconds_count{crm=\"hubspot\"} 0",
            "etlify_crm_request_duration_seconds_count{crm=\"hubspot\"} 0",
            "etlify_change_to_crm_seconds_count{crm=\"hubspot\",model=\"User\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn metrics_status_codes_are_a_closed_set() {
        assert_eq!(Metrics::status_label(200), "200");
        assert_eq!(Metrics::status_label(429), "429");
        assert_eq!(Metrics::status_label(599), "other");
        assert_eq!(Metrics::status_label(418), "other");
        assert_eq!(Metrics::status_label(0), "other");
        assert!(STATUS_CODES.windows(2).all(|pair| pair[0].0 < pair[1].0));
        for (code, label) in STATUS_CODES {
            assert_eq!(code.to_string(), label);
        }
    }

    #[test]
    fn metrics_outcomes_are_counted_by_name() {
        let metrics = Metrics::new(["hubspot"], [("hubspot", "User")]);
        metrics.count_outcomes("hubspot", "User", &[("synced", 3), ("in_doubt", 1)]);
        metrics.count_outcomes("hubspot", "User", &[("synced", 1), ("skipped", 0)]);
        metrics.count_outcomes("hubspot", "Unbound", &[("synced", 1)]);
        let text = metrics.encode();
        assert!(text.contains("outcome=\"synced\"} 4"), "{text}");
        assert!(text.contains("outcome=\"in_doubt\"} 1"), "{text}");
        assert!(text.contains("outcome=\"skipped\"} 0"), "{text}");
        assert!(!text.contains("Unbound"), "{text}");
    }
}
