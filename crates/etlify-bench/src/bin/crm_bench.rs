//! Benchmark of the engine's batch sync against the local sandbox of the
//! HubSpot and Airtable APIs (`etlify-sandbox`), over real loopback HTTP.
//!
//! Each run generates its own SQLite database (`companies`, `users` with a
//! `belongs_to` company), starts a fresh sandbox whose rate limits are the
//! real ones (HubSpot 100 requests / 10 s per app, search 5 / s; Airtable
//! 5 requests / s per base) with `--latency-ms` added before every
//! response, registers the CRM(s) with the same limits on the engine side
//! (`Crm::rate_limit`) and times one first full `batch_sync`. It prints a
//! table and one JSON line per run: wall time, records synced, records/s,
//! the ratio to the bound the rate limits allow, the 429 responses the
//! sandbox sent, the most requests the sandbox saw in one window of each
//! limit, and the peak RSS of the process (the sandbox runs in-process and
//! keeps what it received in memory: its share is included).
//!
//! Scenarios:
//! * `hubspot-batch`: contacts by email through the batch upsert endpoint,
//!   100 records per request.
//! * `hubspot-single`: the per-record path. The engine sends a record on
//!   its own when the adapter has no batch endpoint or the record has no
//!   value for the binding's id property (`sync/batch.rs`,
//!   `plan_requests`). `--single-via no-batch-endpoint` (default) wraps
//!   the HubSpot adapter so that it offers no batch endpoint: each new
//!   record costs a search (5 / s) and a create; `--single-via
//!   no-id-property` binds with an empty id property: one create each.
//! * `hubspot-associations`: companies, then contacts by email each linked
//!   to its company (`Link::belongs_to`): a batch upsert per 100 records and
//!   one v4 association batch per 100 contacts, all in the app's limit.
//! * `airtable`: `performUpsert` on `Email`, 10 records per request.
//! * `salesforce`: Contacts upserted by the external id `Etlify_Id__c`
//!   through sObject Collections, 200 records per request. Salesforce has
//!   no per-window limit (its limits are a daily allocation and 25
//!   requests in flight): the run gives the CRM a `rate_limit` of 10
//!   requests per second (`--limit` to change it), the bound it is
//!   measured against, and counts the sandbox's arrivals per window.
//! * `intercom`: contacts created by `external_id`, one request each
//!   (Intercom has no batch endpoint), in the app's window of 167 requests
//!   per 10 s (Intercom's 1,000 a minute spread over its 10-second
//!   windows; `--limit` to change it) on the sandbox and the engine alike.
//! * `two-crms`: HubSpot (batch) and Airtable bound to the same model,
//!   synced in one `batch_sync`; then each CRM alone, and the wall time of
//!   the run with both against the slower alone.
//!
//! Usage: `crm-bench --scenario hubspot-batch|hubspot-single|hubspot-associations|airtable|salesforce|two-crms|intercom
//! [--users N] [--latency-ms MS] [--jitter-ms MS] [--limit N/Ss]
//! [--max-in-flight N] [--page-size N]
//! [--single-via no-batch-endpoint|no-id-property] [--dir DIR]
//! [--dump-arrivals FILE]`. `--jitter-ms` adds up to that many
//! milliseconds more to each request's latency (drawn from the sandbox's
//! seeded random source, before the request is counted in its windows).
//! `--limit 10/1s` replaces the CRMs' limits (HubSpot's per app,
//! Airtable's per base) with N requests per S seconds, on the sandbox and
//! on the engine alike: the short windows of issue 26, item 5.
//! `--dump-arrivals` writes every request the
//! sandbox logged (arrival ms since its start, API, method, route, status),
//! one a line, a file per run (`FILE.<run>`), to see how requests spread
//! over the windows.
//!
//! The sandbox runs in this process but on its own tokio runtime (one
//! worker thread), as a remote server would not share the engine's
//! workers; `--shared-runtime` starts it on the engine's runtime instead,
//! as the integration tests do (its latency timers then wait whenever the
//! engine's workers are busy, which shows as arrival jitter).

use etlify_bench::{peak_rss_mib, reset_peak_rss, SandboxThread};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use etlify::adapters::{
    Adapter, AdapterError, AirtableAdapter, AirtableConfig, Budget, HubSpotAdapter, HubSpotConfig,
    RemoteDelete, SalesforceAdapter, SalesforceConfig, Throttle, UpsertRequest,
};
use etlify::adapters::{IntercomAdapter, IntercomConfig};
use etlify::{
    BatchSyncOptions, Binding, Crm, Dependency, Etlify, Link, MigrateOptions, Model, RateLimit,
    RunStats, SqlPayload, Store, DEFAULT_MAX_IN_FLIGHT,
};
use etlify_sandbox::DEFAULT_INTERCOM_TOKEN;
use etlify_sandbox::{
    Api, FaultConfig, RequestLogSnapshot, Sandbox, SandboxConfig, DEFAULT_AIRTABLE_TOKEN,
    DEFAULT_HUBSPOT_TOKEN, DEFAULT_SALESFORCE_CLIENT_ID, DEFAULT_SALESFORCE_CLIENT_SECRET,
};
use serde_json::{json, Value};
use sqlx::AssertSqlSafe;

type BoxError = Box<dyn std::error::Error>;

/// HubSpot: requests per app in the rolling window, and the window
/// (unless `--limit` says otherwise).
const HUBSPOT_MAX: u32 = 100;
const HUBSPOT_WINDOW: Duration = Duration::from_secs(10);
/// HubSpot search: requests per account per second.
const HUBSPOT_SEARCH_MAX: u32 = 5;
const HUBSPOT_SEARCH_WINDOW: Duration = Duration::from_secs(1);
/// HubSpot batch inputs per request.
const HUBSPOT_BATCH: usize = 100;
/// Users per company of the generated database.
const USERS_PER_COMPANY: u64 = 10;
/// Airtable: requests per base per second (unless `--limit` says
/// otherwise), records per request.
const AIRTABLE_MAX: u32 = 5;
const AIRTABLE_WINDOW: Duration = Duration::from_secs(1);
const AIRTABLE_BATCH: usize = 10;
/// Salesforce: the CRM's rate limit the run sets (Salesforce has none per
/// window), records per request (SALESFORCE-3).
const SALESFORCE_MAX: u32 = 10;
const SALESFORCE_WINDOW: Duration = Duration::from_secs(1);
const SALESFORCE_BATCH: usize = 200;
/// Intercom: requests per app in one fixed window (unless `--limit` says
/// otherwise), one record per request (INTERCOM-6).
const INTERCOM_MAX: u32 = 167;
const INTERCOM_WINDOW: Duration = Duration::from_secs(10);
/// The Airtable base and table the runs write to.
const AIRTABLE_BASE: &str = "appBench000000001";
const AIRTABLE_TABLE: &str = "Contacts";

/// The rate limits of a run, the same on the sandbox and on the engine.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// HubSpot's per-app window.
    hubspot: (u32, Duration),
    /// Airtable's per-base window.
    airtable: (u32, Duration),
    /// The rate limit given to Salesforce on the engine's side.
    salesforce: (u32, Duration),
    /// Intercom's per-app window.
    intercom: (u32, Duration),
}

impl Limits {
    /// The real ones, or `limit` for both CRMs (`--limit`).
    fn new(limit: Option<(u32, Duration)>) -> Self {
        Self {
            hubspot: limit.unwrap_or((HUBSPOT_MAX, HUBSPOT_WINDOW)),
            airtable: limit.unwrap_or((AIRTABLE_MAX, AIRTABLE_WINDOW)),
            salesforce: limit.unwrap_or((SALESFORCE_MAX, SALESFORCE_WINDOW)),
            intercom: limit.unwrap_or((INTERCOM_MAX, INTERCOM_WINDOW)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    HubspotBatch,
    HubspotSingle,
    HubspotAssociations,
    Airtable,
    Salesforce,
    TwoCrms,
    Intercom,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::HubspotBatch => "hubspot-batch",
            Self::HubspotSingle => "hubspot-single",
            Self::HubspotAssociations => "hubspot-associations",
            Self::Airtable => "airtable",
            Self::Salesforce => "salesforce",
            Self::TwoCrms => "two-crms",
            Self::Intercom => "intercom",
        }
    }
}

/// How the per-record path is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SingleVia {
    /// The HubSpot adapter wrapped so that it has no batch endpoint: a
    /// search by email, then a create (or update) per record.
    NoBatchEndpoint,
    /// A binding without id property: records have no id value, one
    /// create per record and no search.
    NoIdProperty,
}

impl SingleVia {
    fn name(self) -> &'static str {
        match self {
            Self::NoBatchEndpoint => "no-batch-endpoint",
            Self::NoIdProperty => "no-id-property",
        }
    }
}

/// One CRM of a run, and the path its records take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrmKind {
    HubspotBatch,
    HubspotSingle(SingleVia),
    /// Batch upserts, and each contact linked to its company.
    HubspotAssociations,
    Airtable,
    Salesforce,
    Intercom,
}

impl CrmKind {
    fn crm_name(self) -> &'static str {
        match self {
            Self::HubspotBatch | Self::HubspotSingle(_) | Self::HubspotAssociations => "hubspot",
            Self::Airtable => "airtable",
            Self::Salesforce => "salesforce",
            Self::Intercom => "intercom",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::HubspotBatch => "batch upsert x100",
            Self::HubspotSingle(SingleVia::NoBatchEndpoint) => "search + create",
            Self::HubspotSingle(SingleVia::NoIdProperty) => "create (no id)",
            Self::HubspotAssociations => "upsert x100 + associate x100",
            Self::Airtable => "performUpsert x10",
            Self::Salesforce => "collections x200",
            Self::Intercom => "create by ext. id",
        }
    }

    fn api(self) -> Api {
        match self {
            Self::Airtable => Api::Airtable,
            Self::Salesforce => Api::Salesforce,
            Self::Intercom => Api::Intercom,
            _ => Api::Hubspot,
        }
    }

    /// The rate-limit buckets the records of this CRM go through.
    fn buckets(self, limits: &Limits) -> Vec<Bucket> {
        let (hubspot_max, hubspot_window) = limits.hubspot;
        let app = |requests_per_record: f64| Bucket {
            name: "hubspot.per_app",
            max: hubspot_max,
            window: hubspot_window,
            requests_per_record,
        };
        match self {
            Self::HubspotBatch => vec![app(1.0 / HUBSPOT_BATCH as f64)],
            // Per user: its upsert and its association (100 a request
            // each), and a tenth of a company's upsert (`generate`).
            Self::HubspotAssociations => vec![app(
                (2.0 + 1.0 / USERS_PER_COMPANY as f64) / HUBSPOT_BATCH as f64
            )],
            Self::HubspotSingle(SingleVia::NoBatchEndpoint) => vec![
                Bucket {
                    name: "hubspot.search",
                    max: HUBSPOT_SEARCH_MAX,
                    window: HUBSPOT_SEARCH_WINDOW,
                    requests_per_record: 1.0,
                },
                // The sandbox's app bucket counts the create only.
                app(1.0),
                // The engine's one limiter counts the search and the create.
                Bucket {
                    name: "engine limiter (search + create)",
                    max: hubspot_max,
                    window: hubspot_window,
                    requests_per_record: 2.0,
                },
            ],
            Self::HubspotSingle(SingleVia::NoIdProperty) => vec![app(1.0)],
            Self::Airtable => vec![Bucket {
                name: "airtable.per_base",
                max: limits.airtable.0,
                window: limits.airtable.1,
                requests_per_record: 1.0 / AIRTABLE_BATCH as f64,
            }],
            Self::Salesforce => vec![Bucket {
                name: "salesforce.rate_limit",
                max: limits.salesforce.0,
                window: limits.salesforce.1,
                requests_per_record: 1.0 / SALESFORCE_BATCH as f64,
            }],
            Self::Intercom => vec![Bucket {
                name: "intercom.per_app",
                max: limits.intercom.0,
                window: limits.intercom.1,
                requests_per_record: 1.0,
            }],
        }
    }

    /// Records per second the limits allow in the steady state.
    fn bound(self, limits: &Limits) -> f64 {
        self.buckets(limits)
            .iter()
            .map(Bucket::records_per_second)
            .fold(f64::INFINITY, f64::min)
    }

    /// The least time the limits allow for `records` (the first window's
    /// burst included): the last request may leave as soon as all windows
    /// before it are full.
    fn least_seconds(self, records: u64, limits: &Limits) -> f64 {
        self.buckets(limits)
            .iter()
            .map(|b| b.least_seconds(records))
            .fold(0.0, f64::max)
    }

    /// Requests of one record, or of one batch, made one after the other.
    fn sequential_requests(self) -> f64 {
        match self {
            Self::HubspotSingle(SingleVia::NoBatchEndpoint) | Self::HubspotAssociations => 2.0,
            _ => 1.0,
        }
    }

    fn records_per_request(self) -> f64 {
        match self {
            Self::HubspotBatch | Self::HubspotAssociations => HUBSPOT_BATCH as f64,
            Self::Airtable => AIRTABLE_BATCH as f64,
            Self::Salesforce => SALESFORCE_BATCH as f64,
            Self::HubspotSingle(_) | Self::Intercom => 1.0,
        }
    }

    /// What latency alone allows with `in_flight` requests waiting at once.
    fn latency_cap(self, in_flight: usize, latency_ms: u64) -> Option<f64> {
        (latency_ms > 0).then(|| {
            in_flight as f64 * self.records_per_request()
                / (self.sequential_requests() * latency_ms as f64 / 1000.0)
        })
    }

    fn assumption(self, limits: &Limits) -> String {
        let limits = self
            .buckets(limits)
            .iter()
            .map(|b| {
                format!(
                    "{} {}/{}s at {} request(s)/record => {:.1} records/s",
                    b.name,
                    b.max,
                    b.window.as_secs_f64(),
                    b.requests_per_record,
                    b.records_per_second()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let path = match self {
            Self::HubspotBatch => "first sync, every record new: one batch/upsert per 100 records",
            Self::HubspotAssociations => {
                "first sync, every record new: companies first, then contacts, one batch/upsert \
                 per 100 records and one batch/associate/default per 100 contacts"
            }
            Self::HubspotSingle(SingleVia::NoBatchEndpoint) => {
                "first sync, every record new: one search (finds nothing) then one create per \
                 record; the sandbox counts searches in the search bucket only, the engine's \
                 limiter counts both"
            }
            Self::HubspotSingle(SingleVia::NoIdProperty) => {
                "records without id value: one create per record, no search"
            }
            Self::Airtable => {
                "first sync, every record new: one performUpsert (PATCH) per 10 records"
            }
            Self::Salesforce => {
                "first sync, every record new: one collections upsert (PATCH) per 200 records, \
                 after one login; Salesforce has no per-window limit, the CRM's rate_limit is \
                 the run's"
            }
            Self::Intercom => {
                "first sync, every record new: one create (POST /contacts) per record, matched \
                 by external_id; the sandbox counts fixed 10-second windows per app, the \
                 engine's limiter a sliding one"
            }
        };
        format!("{path}; {limits}; bound = the smallest")
    }
}

/// One rate limit a CRM's records go through.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    name: &'static str,
    max: u32,
    window: Duration,
    requests_per_record: f64,
}

impl Bucket {
    fn records_per_second(&self) -> f64 {
        f64::from(self.max) / self.window.as_secs_f64() / self.requests_per_record
    }

    fn least_seconds(&self, records: u64) -> f64 {
        let requests = (records as f64 * self.requests_per_record).ceil();
        let windows = (requests / f64::from(self.max)).ceil();
        (windows - 1.0).max(0.0) * self.window.as_secs_f64()
    }
}

#[derive(Debug)]
struct Args {
    scenario: Scenario,
    users: u64,
    latency_ms: u64,
    jitter_ms: u64,
    limits: Limits,
    max_in_flight: Option<usize>,
    page_size: usize,
    single_via: SingleVia,
    dir: std::path::PathBuf,
    dump_arrivals: Option<std::path::PathBuf>,
    shared_runtime: bool,
}

const USAGE: &str = "usage: crm-bench --scenario hubspot-batch|hubspot-single|hubspot-associations|airtable|salesforce|two-crms|intercom \
[--users N] [--latency-ms MS] [--jitter-ms MS] [--limit N/Ss] [--max-in-flight N] [--page-size N] \
[--single-via no-batch-endpoint|no-id-property] [--dir DIR] [--dump-arrivals FILE] [--shared-runtime]";

fn parse_args() -> Result<Args, String> {
    let mut scenario = None;
    let mut args = Args {
        scenario: Scenario::HubspotBatch,
        users: 2_000,
        latency_ms: 0,
        jitter_ms: 0,
        limits: Limits::new(None),
        max_in_flight: None,
        page_size: 1_000,
        single_via: SingleVia::NoBatchEndpoint,
        dir: std::env::temp_dir(),
        dump_arrivals: None,
        shared_runtime: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scenario" => {
                scenario = Some(match value()?.as_str() {
                    "hubspot-batch" => Scenario::HubspotBatch,
                    "hubspot-single" => Scenario::HubspotSingle,
                    "hubspot-associations" => Scenario::HubspotAssociations,
                    "airtable" => Scenario::Airtable,
                    "salesforce" => Scenario::Salesforce,
                    "two-crms" => Scenario::TwoCrms,
                    "intercom" => Scenario::Intercom,
                    other => return Err(format!("unknown scenario {other}")),
                })
            }
            "--users" => args.users = number(&flag, &value()?)?,
            "--latency-ms" => args.latency_ms = number(&flag, &value()?)?,
            "--jitter-ms" => args.jitter_ms = number(&flag, &value()?)?,
            "--limit" => args.limits = Limits::new(Some(limit(&value()?)?)),
            "--max-in-flight" => args.max_in_flight = Some(number(&flag, &value()?)?),
            "--page-size" => args.page_size = number(&flag, &value()?)?,
            "--single-via" => {
                args.single_via = match value()?.as_str() {
                    "no-batch-endpoint" => SingleVia::NoBatchEndpoint,
                    "no-id-property" => SingleVia::NoIdProperty,
                    other => return Err(format!("unknown --single-via {other}")),
                }
            }
            "--dir" => args.dir = value()?.into(),
            "--dump-arrivals" => args.dump_arrivals = Some(value()?.into()),
            "--shared-runtime" => args.shared_runtime = true,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    args.scenario = scenario.ok_or_else(|| format!("--scenario is required\n{USAGE}"))?;
    if args.users == 0 {
        return Err("--users must be at least 1".into());
    }
    if args.page_size == 0 {
        return Err("--page-size must be at least 1".into());
    }
    if args.max_in_flight == Some(0) {
        return Err("--max-in-flight must be at least 1".into());
    }
    Ok(args)
}

/// `N/Ss` (`10/1s`, `100/10s`): N requests per S seconds.
fn limit(value: &str) -> Result<(u32, Duration), String> {
    let parsed = value.split_once('/').and_then(|(max, window)| {
        let max: u32 = max.parse().ok()?;
        let seconds: u64 = window.strip_suffix('s')?.parse().ok()?;
        (max > 0 && seconds > 0).then(|| (max, Duration::from_secs(seconds)))
    });
    parsed.ok_or_else(|| format!("--limit {value}: expected N/Ss, e.g. 10/1s"))
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| format!("{flag}: {e}"))
}

/// The per-record path: the HubSpot adapter without its batch endpoint
/// (`batch()` keeps the trait's default, `None`). Every request still goes
/// through the CRM's limits, handed to each call.
#[derive(Debug)]
struct WithoutBatchEndpoint(HubSpotAdapter);

#[async_trait]
impl Adapter for WithoutBatchEndpoint {
    fn kind(&self) -> &'static str {
        "hubspot (no batch endpoint)"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        self.0.upsert(request, throttle).await
    }

    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
        self.0.delete(object_type, crm_id, throttle).await
    }

    fn budgets(&self) -> Vec<Budget> {
        self.0.budgets()
    }
}

/// A fresh SQLite database at `path` with `users` users and `users / 10`
/// companies, every row last updated a day ago.
async fn generate(path: &std::path::Path, users: u64) -> Result<Store, BoxError> {
    remove_database(path);
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await?;
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            url.parse::<sqlx::sqlite::SqliteConnectOptions>()?
                .create_if_missing(true),
        )
        .await?;
    let companies = (users / USERS_PER_COMPANY).max(1);
    let day_ago = "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-1 day')";
    let statements = [
        "CREATE TABLE companies (id integer PRIMARY KEY, name varchar, domain varchar, \
         created_at datetime(6), updated_at datetime(6))"
            .to_owned(),
        "CREATE TABLE users (id integer PRIMARY KEY, email varchar, full_name varchar, \
         company_id bigint, created_at datetime(6), updated_at datetime(6))"
            .to_owned(),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {companies}) \
             INSERT INTO companies (id, name, domain, created_at, updated_at) \
             SELECT i, 'Company ' || i, 'company' || i || '.example', {day_ago}, {day_ago} FROM n"
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {users}) \
             INSERT INTO users (id, email, full_name, company_id, created_at, updated_at) \
             SELECT i, 'user' || i || '@example.com', 'User ' || i, (i % {companies}) + 1, \
             {day_ago}, {day_ago} FROM n"
        ),
        "CREATE INDEX idx_users_company ON users (company_id)".to_owned(),
        "CREATE INDEX idx_users_updated ON users (updated_at)".to_owned(),
        "CREATE INDEX idx_companies_updated ON companies (updated_at)".to_owned(),
    ];
    for sql in statements {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&pool).await?;
    }
    pool.close().await;
    etlify::migrate(&store, &MigrateOptions::default()).await?;
    Ok(store)
}

fn remove_database(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

fn sandbox_config(args: &Args) -> SandboxConfig {
    let mut config = SandboxConfig {
        seed: Some(1),
        // Every request kept, for the peaks computed from the log.
        request_log_capacity: 1_000_000,
        ..SandboxConfig::default()
    };
    let hubspot = &mut config.hubspot.rate_limits;
    hubspot.enabled = true;
    hubspot.per_app_max = u64::from(args.limits.hubspot.0);
    hubspot.per_app_window_ms = millis(args.limits.hubspot.1);
    hubspot.search_max = u64::from(HUBSPOT_SEARCH_MAX);
    hubspot.search_window_ms = millis(HUBSPOT_SEARCH_WINDOW);
    config.hubspot.max_batch_inputs = HUBSPOT_BATCH;
    let airtable = &mut config.airtable.rate_limits;
    airtable.enabled = true;
    airtable.per_base_max = u64::from(args.limits.airtable.0);
    airtable.window_ms = millis(args.limits.airtable.1);
    config.airtable.max_records_per_request = AIRTABLE_BATCH;
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        latency_jitter_ms: args.jitter_ms,
        ..FaultConfig::default()
    };
    config.hubspot.faults = faults.clone();
    config.airtable.faults = faults.clone();
    config.salesforce.faults = faults.clone();
    config.intercom.faults = faults;
    let intercom = &mut config.intercom.limits;
    intercom.per_app_max = u64::from(args.limits.intercom.0);
    intercom.per_workspace_max = intercom.per_workspace_max.max(intercom.per_app_max);
    intercom.window_ms = millis(args.limits.intercom.1);
    // The run measures the rate, not the daily allocation.
    config.salesforce.limits.daily_max = u64::MAX;
    config
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The CRM registration of `kind`, talking to the sandbox at `base_url`.
fn crm(
    kind: CrmKind,
    base_url: &str,
    max_in_flight: Option<usize>,
    limits: &Limits,
) -> Result<Crm, BoxError> {
    let hubspot = || {
        HubSpotAdapter::new(
            HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                .base_url(base_url)
                .batch_size(HUBSPOT_BATCH),
        )
    };
    let (adapter, limit): (Arc<dyn Adapter>, RateLimit) = match kind {
        CrmKind::HubspotBatch
        | CrmKind::HubspotSingle(SingleVia::NoIdProperty)
        | CrmKind::HubspotAssociations => (
            Arc::new(hubspot()?),
            RateLimit::new(limits.hubspot.0, limits.hubspot.1)?,
        ),
        CrmKind::HubspotSingle(SingleVia::NoBatchEndpoint) => (
            Arc::new(WithoutBatchEndpoint(hubspot()?)),
            RateLimit::new(limits.hubspot.0, limits.hubspot.1)?,
        ),
        CrmKind::Airtable => (
            Arc::new(AirtableAdapter::new(
                AirtableConfig::new(DEFAULT_AIRTABLE_TOKEN, AIRTABLE_BASE)
                    .base_url(base_url)
                    .batch_size(AIRTABLE_BATCH),
            )?),
            RateLimit::new(limits.airtable.0, limits.airtable.1)?,
        ),
        CrmKind::Salesforce => (
            Arc::new(SalesforceAdapter::new(
                SalesforceConfig::new(
                    DEFAULT_SALESFORCE_CLIENT_ID,
                    DEFAULT_SALESFORCE_CLIENT_SECRET,
                )
                .login_url(base_url)
                .batch_size(SALESFORCE_BATCH),
            )?),
            RateLimit::new(limits.salesforce.0, limits.salesforce.1)?,
        ),
        CrmKind::Intercom => (
            Arc::new(IntercomAdapter::new(
                IntercomConfig::new(DEFAULT_INTERCOM_TOKEN)
                    .base_url(format!("{base_url}/intercom")),
            )?),
            RateLimit::new(limits.intercom.0, limits.intercom.1)?,
        ),
    };
    let crm = Crm::new(kind.crm_name(), adapter).rate_limit(limit);
    Ok(match max_in_flight {
        Some(n) => crm.max_in_flight(n),
        None => crm,
    })
}

/// `User` bound to each CRM of `kinds`.
fn model(kinds: &[CrmKind]) -> Model {
    let mut model = Model::new("User", "users");
    for kind in kinds {
        let binding = match kind {
            CrmKind::HubspotBatch | CrmKind::HubspotSingle(SingleVia::NoBatchEndpoint) => {
                Binding::new("contacts", "email").payload(SqlPayload::new(
                    "SELECT users.id, users.email, users.full_name AS firstname, \
                     companies.name AS company \
                     FROM users LEFT JOIN companies ON companies.id = users.company_id",
                ))
            }
            CrmKind::HubspotAssociations => Binding::new("contacts", "email")
                .payload(SqlPayload::new(
                    "SELECT users.id, users.email, users.full_name AS firstname FROM users",
                ))
                .link(Link::belongs_to("Company", "company_id")),
            CrmKind::HubspotSingle(SingleVia::NoIdProperty) => Binding::new("contacts", "")
                .payload(SqlPayload::new(
                    "SELECT users.id, users.email, users.full_name AS firstname, \
                     companies.name AS company \
                     FROM users LEFT JOIN companies ON companies.id = users.company_id",
                )),
            CrmKind::Airtable => Binding::new(AIRTABLE_TABLE, "Email").payload(SqlPayload::new(
                "SELECT users.id, users.email AS \"Email\", users.full_name AS \"Name\", \
                 companies.name AS \"Company\" \
                 FROM users LEFT JOIN companies ON companies.id = users.company_id",
            )),
            CrmKind::Salesforce => {
                Binding::new("Contact", "Etlify_Id__c").payload(SqlPayload::new(
                    "SELECT users.id, 'user-' || users.id AS \"Etlify_Id__c\", \
                 users.email AS \"Email\", users.full_name AS \"LastName\", \
                 companies.name AS \"Title\" \
                 FROM users LEFT JOIN companies ON companies.id = users.company_id",
                ))
            }
            CrmKind::Intercom => Binding::new("contacts", "external_id").payload(SqlPayload::new(
                "SELECT users.id, 'user-' || users.id AS external_id, users.email, \
                 users.full_name AS name, companies.name AS company \
                 FROM users LEFT JOIN companies ON companies.id = users.company_id",
            )),
        };
        model = model.bind(
            kind.crm_name(),
            binding.dependency(Dependency::belongs_to("companies", "company_id")),
        );
    }
    model
}

/// What one run measured.
#[derive(Debug)]
struct Measured {
    label: String,
    kinds: Vec<CrmKind>,
    max_in_flight: usize,
    seconds: f64,
    stats: RunStats,
    log: RequestLogSnapshot,
    objects: BTreeMap<&'static str, usize>,
    peak_rss_mib: f64,
}

/// A started sandbox, on the engine's runtime or on a thread of its own.
#[derive(Debug)]
enum SandboxRun {
    SharedRuntime(etlify_sandbox::RunningSandbox),
    OwnRuntime(SandboxThread),
}

impl SandboxRun {
    async fn start(config: SandboxConfig, shared_runtime: bool) -> Result<Self, BoxError> {
        Ok(if shared_runtime {
            Self::SharedRuntime(Sandbox::start(config).await?)
        } else {
            Self::OwnRuntime(SandboxThread::start(config).await?)
        })
    }

    fn sandbox(&self) -> &etlify_sandbox::RunningSandbox {
        match self {
            Self::SharedRuntime(sandbox) => sandbox,
            Self::OwnRuntime(thread) => &thread.sandbox,
        }
    }

    async fn shutdown(self) -> Result<(), BoxError> {
        match self {
            Self::SharedRuntime(sandbox) => Ok(sandbox.shutdown().await?),
            Self::OwnRuntime(thread) => thread.shutdown().await,
        }
    }
}

/// Generates the database, starts the sandbox, syncs once, measures.
async fn run_once(args: &Args, label: &str, kinds: &[CrmKind]) -> Result<Measured, BoxError> {
    let path = args.dir.join(format!("etlify-crm-bench-{label}.sqlite3"));
    let store = generate(&path, args.users).await?;
    let sandbox = SandboxRun::start(sandbox_config(args), args.shared_runtime).await?;
    let base_url = sandbox.sandbox().base_url();
    let mut builder = Etlify::builder(store);
    let mut max_in_flight = DEFAULT_MAX_IN_FLIGHT;
    for kind in kinds {
        let crm = crm(*kind, &base_url, args.max_in_flight, &args.limits)?;
        max_in_flight = crm.get_max_in_flight();
        builder = builder.crm(crm);
    }
    if kinds.contains(&CrmKind::HubspotAssociations) {
        builder = builder.model(
            Model::new("Company", "companies").bind(
                "hubspot",
                Binding::new("companies", "domain")
                    .payload(SqlPayload::new("SELECT id, domain, name FROM companies")),
            ),
        );
    }
    let etlify = builder.model(model(kinds)).build().await?;
    let options = BatchSyncOptions::new().batch_size(args.page_size);

    reset_peak_rss();
    let started = Instant::now();
    let stats = etlify.batch_sync(&options).await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mib = peak_rss_mib();

    let admin = sandbox.sandbox().admin();
    let log = admin.request_log();
    if let Some(file) = &args.dump_arrivals {
        dump_arrivals(file, label, &log)?;
    }
    if kinds.contains(&CrmKind::HubspotAssociations) {
        println!(
            "{label}: {} associations in the sandbox, {} association requests",
            admin.hubspot_associations().len(),
            log.count(
                "POST",
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default"
            )
        );
    }
    let mut objects = BTreeMap::new();
    for kind in kinds {
        let count = match kind {
            CrmKind::Airtable => admin
                .airtable_records(AIRTABLE_BASE, AIRTABLE_TABLE)
                .map_or(0, |r| r.len()),
            CrmKind::Salesforce => admin
                .salesforce_records("Contact")
                .iter()
                .filter(|r| !r.deleted)
                .count(),
            CrmKind::Intercom => admin.intercom_contacts().len(),
            _ => admin
                .hubspot_objects("contacts")
                .map_or(0, |o| o.iter().filter(|c| !c.archived).count()),
        };
        objects.insert(kind.crm_name(), count);
    }
    drop(etlify);
    sandbox.shutdown().await?;
    remove_database(&path);
    Ok(Measured {
        label: label.to_owned(),
        kinds: kinds.to_vec(),
        max_in_flight,
        seconds,
        stats,
        log,
        objects,
        peak_rss_mib,
    })
}

/// Writes the logged requests of one run, by arrival, to `file.<label>`.
fn dump_arrivals(
    file: &std::path::Path,
    label: &str,
    log: &RequestLogSnapshot,
) -> Result<(), BoxError> {
    let mut entries: Vec<_> = log.recent.iter().collect();
    entries.sort_by_key(|e| e.at_ms);
    let mut text = String::new();
    for e in entries {
        let status = e
            .status
            .map_or_else(|| "dropped".to_owned(), |s| s.to_string());
        text.push_str(&format!(
            "{} {:?} {} {} {}\n",
            e.at_ms, e.api, e.method, e.route, status
        ));
    }
    let mut path = file.as_os_str().to_owned();
    path.push(format!(".{label}"));
    std::fs::write(&path, text)?;
    Ok(())
}

/// Responses with `status` sent by one API.
fn status_count(log: &RequestLogSnapshot, api: Api, status: u16) -> u64 {
    let key = status.to_string();
    log.endpoints
        .iter()
        .filter(|e| e.api == api)
        .filter_map(|e| e.statuses.get(&key))
        .sum()
}

/// Most arrivals within any `window` among the logged requests `keep`
/// selects (arrival times in ms, so a window of W ms holds the requests
/// whose times differ by less than W); `None` when the log is incomplete.
fn peak_from_log(
    log: &RequestLogSnapshot,
    window: Duration,
    keep: impl Fn(&etlify_sandbox::RequestEntry) -> bool,
) -> Option<u64> {
    if log.recent.len() as u64 != log.total {
        return None;
    }
    let mut times: Vec<u64> = log
        .recent
        .iter()
        .filter(|e| keep(e))
        .map(|e| e.at_ms)
        .collect();
    times.sort_unstable();
    let window = millis(window);
    let mut start = 0;
    let mut peak = 0;
    for (end, &at) in times.iter().enumerate() {
        while at - times[start] >= window {
            start += 1;
        }
        peak = peak.max(end + 1 - start);
    }
    Some(peak as u64)
}

/// The sandbox's peaks relevant to `kind`, with their limits and the same
/// figure computed from the request log.
fn peaks(log: &RequestLogSnapshot, kind: CrmKind, limits: &Limits) -> Vec<Value> {
    let is_search = |e: &etlify_sandbox::RequestEntry| e.route.ends_with("/search");
    let mut out = Vec::new();
    if kind == CrmKind::Salesforce {
        // No bucket on the sandbox: the arrivals of data requests per
        // window of the CRM's own limit, from the log.
        let (limit, window) = limits.salesforce;
        let from_log = peak_from_log(log, window, |e| {
            e.api == Api::Salesforce && e.route.starts_with("/services/data/")
        });
        return vec![json!({
            "policy": "salesforce.rate_limit",
            "key": "engine",
            "window_ms": millis(window),
            "limit": limit,
            "peak": from_log,
            "peak_from_log": from_log,
        })];
    }
    let buckets: Vec<(&str, String, u32, Duration)> = match kind {
        CrmKind::Intercom => vec![(
            "intercom.per_app",
            "app-0".to_owned(),
            limits.intercom.0,
            limits.intercom.1,
        )],
        CrmKind::Airtable => vec![
            (
                "airtable.per_base",
                AIRTABLE_BASE.to_owned(),
                limits.airtable.0,
                limits.airtable.1,
            ),
            (
                "airtable.per_token",
                "token-0".to_owned(),
                50,
                AIRTABLE_WINDOW,
            ),
        ],
        _ => vec![
            (
                "hubspot.per_app",
                "app-0".to_owned(),
                limits.hubspot.0,
                limits.hubspot.1,
            ),
            (
                "hubspot.search",
                "account".to_owned(),
                HUBSPOT_SEARCH_MAX,
                HUBSPOT_SEARCH_WINDOW,
            ),
        ],
    };
    for (policy, key, limit, window) in buckets {
        let from_log = match policy {
            "hubspot.per_app" => {
                peak_from_log(log, window, |e| e.api == Api::Hubspot && !is_search(e))
            }
            "hubspot.search" => {
                peak_from_log(log, window, |e| e.api == Api::Hubspot && is_search(e))
            }
            "intercom.per_app" => peak_from_log(log, window, |e| e.api == Api::Intercom),
            _ => peak_from_log(log, window, |e| e.api == Api::Airtable),
        };
        out.push(json!({
            "policy": policy,
            "key": key,
            "window_ms": millis(window),
            "limit": limit,
            "peak": log.peak(policy, &key),
            "peak_from_log": from_log,
        }));
    }
    out
}

/// Requests per endpoint and status, of one API.
fn endpoints(log: &RequestLogSnapshot, api: Api) -> Value {
    let mut out = serde_json::Map::new();
    for e in log.endpoints.iter().filter(|e| e.api == api) {
        out.insert(format!("{} {}", e.method, e.route), json!(e.statuses));
    }
    Value::Object(out)
}

/// The limits of the run: HubSpot's per app, Airtable's per base,
/// Salesforce's on the engine's side, Intercom's per app.
fn limit_text(args: &Args) -> String {
    let (hubspot, airtable) = (args.limits.hubspot, args.limits.airtable);
    let (salesforce, intercom) = (args.limits.salesforce, args.limits.intercom);
    format!(
        "hubspot {}/{}s, airtable {}/{}s, salesforce {}/{}s, intercom {}/{}s",
        hubspot.0,
        hubspot.1.as_secs(),
        airtable.0,
        airtable.1.as_secs(),
        salesforce.0,
        salesforce.1.as_secs(),
        intercom.0,
        intercom.1.as_secs()
    )
}

fn sandbox_runtime(args: &Args) -> &'static str {
    if args.shared_runtime {
        "shared"
    } else {
        "own"
    }
}

/// Prints the table and the JSON line of one run; returns the JSON.
fn report(args: &Args, m: &Measured) -> Value {
    let records = m.stats.outcomes.synced;
    let rate = records as f64 / m.seconds.max(f64::EPSILON);
    let users = args.users;
    // The limits of different CRMs are independent: the run cannot be
    // faster than its slowest CRM at that CRM's bound.
    let bound_seconds = m
        .kinds
        .iter()
        .map(|k| users as f64 / k.bound(&args.limits))
        .fold(0.0, f64::max);
    let bound = records.max(1) as f64 / bound_seconds.max(f64::EPSILON);
    let least_seconds = m
        .kinds
        .iter()
        .map(|k| k.least_seconds(users, &args.limits))
        .fold(0.0, f64::max);
    let status_429: u64 = m
        .kinds
        .iter()
        .map(|k| status_count(&m.log, k.api(), 429))
        .sum();

    println!(
        "crm-bench scenario={} run={} users={} latency_ms={} jitter_ms={} limit={} max_in_flight={} page_size={} sandbox_runtime={}",
        args.scenario.name(),
        m.label,
        users,
        args.latency_ms,
        args.jitter_ms,
        limit_text(args),
        m.max_in_flight,
        args.page_size,
        sandbox_runtime(args)
    );
    println!(
        "  {:<9} {:<18} {:>7} {:>6} {:>8} {:>5} {:>8} {:>11} {:>11}  peaks seen by the sandbox (limit)",
        "crm", "path", "synced", "errors", "requests", "429", "objects", "bound rec/s", "lat. rec/s"
    );
    let mut crms = Vec::new();
    for kind in &m.kinds {
        let name = kind.crm_name();
        let per_crm = m.stats.per_crm.get(name).cloned().unwrap_or_default();
        let requests = m.log.count_api(kind.api());
        let rejected = status_count(&m.log, kind.api(), 429);
        let peaks = peaks(&m.log, *kind, &args.limits);
        let peaks_text = peaks
            .iter()
            .map(|p| {
                format!(
                    "{} {}/{} per {}s (log {})",
                    p["policy"].as_str().unwrap_or_default(),
                    p["peak"].as_u64().map_or("-".to_owned(), |v| v.to_string()),
                    p["limit"],
                    p["window_ms"].as_u64().unwrap_or_default() as f64 / 1000.0,
                    p["peak_from_log"]
                        .as_u64()
                        .map_or("-".to_owned(), |v| v.to_string()),
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let latency_cap = kind.latency_cap(m.max_in_flight, args.latency_ms);
        println!(
            "  {:<9} {:<18} {:>7} {:>6} {:>8} {:>5} {:>8} {:>11.1} {:>11}  {}",
            name,
            kind.path(),
            per_crm.synced,
            per_crm.errors,
            requests,
            rejected,
            m.objects.get(name).copied().unwrap_or_default(),
            kind.bound(&args.limits),
            latency_cap.map_or("-".to_owned(), |c| format!("{c:.1}")),
            peaks_text
        );
        crms.push(json!({
            "crm": name,
            "path": kind.path(),
            "synced": per_crm.synced,
            "errors": per_crm.errors,
            "not_modified": per_crm.not_modified,
            "requests": requests,
            "status_429": rejected,
            "crm_objects": m.objects.get(name),
            "bound_records_per_second": kind.bound(&args.limits),
            "bound_assumption": kind.assumption(&args.limits),
            "least_seconds": kind.least_seconds(users, &args.limits),
            "latency_cap_records_per_second": latency_cap,
            "peaks": peaks,
            "endpoints": endpoints(&m.log, kind.api()),
        }));
    }
    for kind in &m.kinds {
        println!(
            "  bound of {}: {}",
            kind.crm_name(),
            kind.assumption(&args.limits)
        );
    }
    for interruption in &m.stats.interrupted {
        println!(
            "  INTERRUPTED {} / {}: {}",
            interruption.crm, interruption.model, interruption.message
        );
    }
    println!(
        "  {:>9} {:>9} {:>11} {:>11} {:>8} {:>13} {:>6} {:>10}",
        "seconds",
        "synced",
        "records/s",
        "bound rec/s",
        "ratio",
        "least s (lim)",
        "429",
        "peak MiB"
    );
    println!(
        "  {:>9.2} {:>9} {:>11.1} {:>11.1} {:>8.3} {:>13.2} {:>6} {:>10.1}",
        m.seconds,
        records,
        rate,
        bound,
        rate / bound,
        least_seconds,
        status_429,
        m.peak_rss_mib
    );
    let line = json!({
        "scenario": args.scenario.name(),
        "run": m.label,
        "users": users,
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "limit": limit_text(args),
        "max_in_flight": m.max_in_flight,
        "page_size": args.page_size,
        "sandbox_runtime": sandbox_runtime(args),
        "seconds": m.seconds,
        "records_synced": records,
        "records_per_second": rate,
        "bound_records_per_second": bound,
        "ratio_to_bound": rate / bound,
        "least_seconds_the_limits_allow": least_seconds,
        "errors": m.stats.errors,
        "interrupted": m.stats.interrupted.iter().map(|i| json!({"crm": i.crm, "model": i.model, "message": i.message})).collect::<Vec<_>>(),
        "sandbox_requests": m.log.total,
        "status_429": status_429,
        "peak_rss_mib": m.peak_rss_mib,
        "crms": crms,
    });
    println!("{line}");
    line
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("crm-bench: {message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(&args).await {
        eprintln!("crm-bench: {error}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), BoxError> {
    match args.scenario {
        Scenario::HubspotBatch => {
            let m = run_once(args, "hubspot-batch", &[CrmKind::HubspotBatch]).await?;
            report(args, &m);
        }
        Scenario::HubspotSingle => {
            let kind = CrmKind::HubspotSingle(args.single_via);
            let label = format!("hubspot-single-{}", args.single_via.name());
            let m = run_once(args, &label, &[kind]).await?;
            report(args, &m);
        }
        Scenario::HubspotAssociations => {
            let kinds = [CrmKind::HubspotAssociations];
            let m = run_once(args, "hubspot-associations", &kinds).await?;
            report(args, &m);
        }
        Scenario::Airtable => {
            let m = run_once(args, "airtable", &[CrmKind::Airtable]).await?;
            report(args, &m);
        }
        Scenario::Salesforce => {
            let m = run_once(args, "salesforce", &[CrmKind::Salesforce]).await?;
            report(args, &m);
        }
        Scenario::Intercom => {
            let m = run_once(args, "intercom", &[CrmKind::Intercom]).await?;
            report(args, &m);
        }
        Scenario::TwoCrms => {
            let both = run_once(args, "both", &[CrmKind::HubspotBatch, CrmKind::Airtable]).await?;
            report(args, &both);
            let hubspot = run_once(args, "hubspot-alone", &[CrmKind::HubspotBatch]).await?;
            report(args, &hubspot);
            let airtable = run_once(args, "airtable-alone", &[CrmKind::Airtable]).await?;
            report(args, &airtable);
            let (slower, slower_seconds) = if hubspot.seconds >= airtable.seconds {
                ("hubspot", hubspot.seconds)
            } else {
                ("airtable", airtable.seconds)
            };
            let sum = hubspot.seconds + airtable.seconds;
            let ratio = both.seconds / slower_seconds.max(f64::EPSILON);
            println!(
                "two-crms: both in one run {:.2} s; hubspot alone {:.2} s; airtable alone {:.2} s; \
                 slower alone ({slower}) {:.2} s; both / slower alone = {ratio:.3} \
                 (1.0 = side by side, {:.3} = one after the other)",
                both.seconds,
                hubspot.seconds,
                airtable.seconds,
                slower_seconds,
                sum / slower_seconds.max(f64::EPSILON),
            );
            println!(
                "{}",
                json!({
                    "scenario": args.scenario.name(),
                    "run": "summary",
                    "users": args.users,
                    "latency_ms": args.latency_ms,
                    "max_in_flight": both.max_in_flight,
                    "both_seconds": both.seconds,
                    "hubspot_alone_seconds": hubspot.seconds,
                    "airtable_alone_seconds": airtable.seconds,
                    "slower_alone": slower,
                    "slower_alone_seconds": slower_seconds,
                    "both_over_slower_alone": ratio,
                    "sum_alone_over_slower_alone": sum / slower_seconds.max(f64::EPSILON),
                })
            );
        }
    }
    Ok(())
}
