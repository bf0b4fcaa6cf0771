//! The configuration file (`etlify.toml`) as written: serde types, unknown
//! keys rejected. `settings.rs` turns it into the engine's declarations.

use std::collections::BTreeMap;

use indexmap_free::OrderedMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// Declaration order matters (models sync in the order declared), so maps
/// keep the file's order.
pub(crate) mod indexmap_free {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    /// A map that keeps its keys in file order.
    #[derive(Debug, Clone)]
    pub(crate) struct OrderedMap<V>(pub Vec<(String, V)>);

    impl<V: schemars::JsonSchema> schemars::JsonSchema for OrderedMap<V> {
        fn schema_name() -> String {
            format!("Map_of_{}", V::schema_name())
        }

        fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
            <std::collections::BTreeMap<String, V>>::json_schema(generator)
        }
    }

    impl<V> Default for OrderedMap<V> {
        fn default() -> Self {
            Self(Vec::new())
        }
    }

    impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Entries<V>(PhantomData<V>);
            impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
                type Value = OrderedMap<V>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a table")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut entries = Vec::new();
                    while let Some((key, value)) = map.next_entry::<String, V>()? {
                        entries.push((key, value));
                    }
                    Ok(OrderedMap(entries))
                }
            }
            deserializer.deserialize_map(Entries(PhantomData))
        }
    }
}

/// The whole file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    /// Where the application's tables and the sync state are.
    pub database: Database,
    /// Settings of the engine.
    #[serde(default)]
    pub etlify: Option<Engine>,
    /// The CRMs, by name.
    pub crms: OrderedMap<CrmFile>,
    /// The models, by resource type (`User`, as the Rails gem names them).
    #[serde(default)]
    pub models: OrderedMap<ModelFile>,
    /// The job queue, in the application's database. Present: `sync-record`
    /// enqueues and `etlify worker` runs the jobs.
    pub queue: Option<QueueFile>,
    /// How `etlify worker` runs.
    pub worker: Option<WorkerFile>,
    /// `etlify serve`: the status page and its admin actions.
    pub serve: Option<ServeFile>,
    /// How long the run history (`etlify runs`) keeps runs.
    pub history: Option<HistoryFile>,
    /// Alerts `etlify worker` posts to webhooks.
    pub alerts: Option<AlertsFile>,
    /// The metrics served on `GET /metrics`.
    pub metrics: Option<MetricsFile>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsFile {
    /// Where alerts go (`[[alerts.webhooks]]`), at least one.
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
    /// Alert when more than this share (0 to 1) of the records a CRM's
    /// last run processed failed, e.g. `0.2` (default: off).
    pub error_share: Option<f64>,
    /// Alert when a worker has not beaten for this long, e.g. `"2m"`
    /// (default: off).
    pub worker_silent: Option<String>,
    /// Alert when no batch run of a CRM has gone to the end for this
    /// long, e.g. `"1h"` (default: off).
    pub oldest_stale: Option<String>,
    /// Time between two evaluations by each worker, e.g. `"30s"` (the
    /// default); each worker also evaluates after every batch run.
    pub check_interval: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookFile {
    /// The webhook's URL (a secret: prefer `url_env`, or `${ENV}`).
    pub url: Option<String>,
    /// The environment variable holding the URL, e.g. `"SLACK_WEBHOOK_URL"`.
    pub url_env: Option<String>,
    /// `"slack"` (`{"text": …}`, the default) or `"json"`.
    pub format: Option<WebhookFormat>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WebhookFormat {
    Slack,
    Json,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryFile {
    /// Age of the oldest run kept, e.g. `"30d"` (the default).
    pub keep_runs: Option<String>,
    /// Most runs kept per CRM (default 10000).
    #[schemars(range(min = 1))]
    pub keep_runs_per_crm: Option<u32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsFile {
    /// Least time between two computations of the metrics that need a
    /// query (records per standing, the job queue), e.g. `"15s"` (the
    /// default); a scrape within it reads the last values.
    pub min_interval: Option<String>,
    /// Observe `etlify_change_to_crm_seconds` (default false): each page
    /// then reads its records' timestamps too, about a tenth of a first
    /// sync's rate.
    pub change_latency: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueFile {
    /// The queue's name (default `etlify`).
    pub name: Option<String>,
    /// Runs of a job before it gives up (default 5).
    #[schemars(range(min = 1))]
    pub max_attempts: Option<u32>,
    /// Delay before a job's first retry, doubled at each retry, e.g.
    /// `"10s"` (the default).
    pub retry_delay: Option<String>,
    /// How often a worker tells the queue it is alive, at least `"1s"`
    /// (default `"3s"`).
    pub heartbeat: Option<String>,
    /// Heartbeats a worker may miss before its jobs go to others (default 3).
    #[schemars(range(min = 1))]
    pub missed_heartbeats: Option<u32>,
    /// How often a worker asks the queue for jobs, at least `"10ms"`
    /// (default `"200ms"`): longer costs an idle worker fewer queries and
    /// a queued job that much more wait.
    pub poll_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerFile {
    /// Jobs one worker runs at once (default 4).
    #[schemars(range(min = 1))]
    pub concurrency: Option<u32>,
    /// Time between two requests of every enabled CRM's batch job, e.g.
    /// `"30s"` (the default); `"off"`: no loop, only enqueued jobs run.
    pub interval: Option<String>,
    /// Longest wait for running jobs at shutdown (default `"30s"`).
    pub shutdown_timeout: Option<String>,
    /// Address for `GET /health`, e.g. `"127.0.0.1:9187"` (default: none).
    pub health_listen: Option<String>,
    /// How the worker learns of changes between intervals: `"auto"` (the
    /// default: listen where `etlify migrate --triggers` installed change
    /// triggers), `"off"`, or a duration such as `"1s"` (listen where
    /// triggers are installed, else poll that often).
    pub watch: Option<String>,
    /// Serves the status page at `/` on `health_listen` too (default false).
    pub page: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServeFile {
    /// Address `etlify serve` listens on, e.g. `"127.0.0.1:9188"` (the
    /// default).
    pub listen: Option<String>,
    /// The name of the environment variable holding the admin token, e.g.
    /// `"ETLIFY_ADMIN_TOKEN"` (never the token itself). Unset: the page is
    /// read-only.
    pub admin_token_env: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Database {
    /// `sqlite://path` or `postgres://…`; `${ENV}` allowed.
    pub url: String,
    /// Connections in the pool.
    pub max_connections: Option<u32>,
    /// How long the locks of a process that died (a killed worker) hold
    /// before others take its work over, e.g. `"15s"` (the default; at
    /// least `"3s"`).
    pub lease_ttl: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Engine {
    /// Consecutive failures after which a record is left alone (default 3).
    pub max_sync_errors: Option<u32>,
    /// How far before the read `last_synced_at` is put, e.g. `"1s"`.
    pub commit_margin: Option<String>,
    /// Longest time between two batch runs that read a whole table, e.g.
    /// `"1h"` (the default); `"0s"`: every run does.
    pub complete_check_interval: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AdapterKind {
    Hubspot,
    Airtable,
    Null,
    Webhook,
    Salesforce,
    Brevo,
    Intercom,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CrmFile {
    /// `hubspot`, `airtable`, `salesforce`, `brevo`, `intercom`, `webhook` or `null`.
    pub adapter: AdapterKind,
    /// Access token; `${ENV}` (never written in the file itself).
    pub token: Option<String>,
    /// Another API base URL (a proxy, the sandbox).
    pub base_url: Option<String>,
    /// Airtable base id (`app…`).
    pub base_id: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
    pub rate_limit: Option<RateLimitFile>,
    pub max_sync_errors: Option<u32>,
    /// Requests a batch run keeps waiting on this CRM at once (default 4).
    #[schemars(range(min = 1))]
    pub max_in_flight: Option<u32>,
    /// HubSpot only: search requests per second (default 5, HubSpot's
    /// limit per account).
    #[schemars(range(min = 1))]
    pub search_requests_per_second: Option<u32>,
    /// The API version. HubSpot: the one every path follows, `"v3"` (the
    /// legacy `/crm/v3/objects` paths, what a file without the key calls),
    /// `"2026-03"` or `"2026-09"` (`/crm/objects/2026-09/…`; HubSpot then
    /// enforces the portal's required properties); `etlify init` writes
    /// `"2026-09"`. Salesforce: `"vXX.X"` (default `"v62.0"`). Intercom: the
    /// `Intercom-Version` header, `"2.N"` (default `"2.11"`).
    #[schemars(with = "Option<AnyApiVersion>")]
    pub api_version: Option<String>,
    /// Webhook only: the URL events are POSTed to; `${ENV}` when it holds
    /// a secret of its own.
    pub url: Option<String>,
    /// Webhook only: the secret signing each request (`Etlify-Signature`);
    /// `${ENV}` (never written in the file itself).
    pub signing_secret: Option<String>,
    /// Webhook only: events per request (1 to 1,000; default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub batch_size: Option<u32>,
    /// Webhook only: where the receiver's answer gives each event's
    /// outcome; without it, a 2xx accepts every event.
    pub response: Option<ResponseFile>,
    /// Whether a sync checks each binding's payload against the CRM's
    /// schema first (HubSpot's properties, Airtable's base schema):
    /// `"auto"` (the default: checked when the token may read the schema;
    /// a binding with a problem is not run, an unreadable schema is a
    /// warning), `"require"` (an unreadable schema stops the binding too)
    /// or `"skip"`.
    #[schemars(with = "Option<SchemaCheckName>")]
    pub schema_check: Option<String>,
    /// The group `etlify crm-schema create` puts new HubSpot properties in
    /// (default `"etlify"`, created when missing).
    pub property_group: Option<String>,
    /// Send values in the form the CRM's fields want once a sync's schema
    /// check read the object type (default `true`); after the digest, so
    /// changing it re-sends nothing.
    pub render_values: Option<bool>,
    /// Properties sent as the payload has them, by object type:
    /// `{ contacts = ["birthday"] }`.
    #[serde(default)]
    pub values_as_is: BTreeMap<String, Vec<String>>,
    /// Salesforce only: where the connected app logs in (default
    /// `https://login.salesforce.com`; `https://test.salesforce.com`, the
    /// org's My Domain URL).
    pub login_url: Option<String>,
    /// Salesforce only: the connected app's consumer key; `${ENV}`.
    pub client_id: Option<String>,
    /// Salesforce only: the connected app's consumer secret; `${ENV}`
    /// (never written in the file itself).
    pub client_secret: Option<String>,
    /// Salesforce only: percent of the org's daily API allocation left
    /// unused; the run stops before it (0 to 50, default 5).
    #[schemars(range(max = 50))]
    pub daily_reserve_percent: Option<u8>,
    /// Salesforce only: requests in flight at once, at most (default 25,
    /// the org's limit of long-running requests).
    #[schemars(range(min = 1))]
    pub max_concurrent_requests: Option<u32>,
    /// Brevo only: the account's API key (the `api-key` header); `${ENV}`
    /// (never written in the file itself).
    pub api_key: Option<String>,
    /// Brevo only: lists every contact written joins, by id (`listIds`).
    pub list_ids: Option<Vec<u64>>,
    /// Brevo only: lists every contact updated leaves, by id
    /// (`unlinkListIds`); none of `list_ids`.
    pub unlink_list_ids: Option<Vec<u64>>,
    /// Intercom only: where the workspace is hosted, `"us"` (the default),
    /// `"eu"` or `"au"` (its API host); `base_url` overrides it.
    #[schemars(with = "Option<IntercomRegionName>")]
    pub region: Option<String>,
}

/// `[crms.<name>.response]`: JSON pointers (RFC 6901) into the webhook's
/// answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResponseFile {
    /// The array with one entry per event, in the order sent, e.g. `"/results"`.
    pub items: String,
    /// In an entry: the object's id, e.g. `"/id"`.
    pub id: Option<String>,
    /// In an entry: an HTTP-like status (2xx applied, 404 not found, 4xx
    /// the record's error), e.g. `"/status"`.
    pub status: Option<String>,
    /// In an entry: an error message (the event failed), e.g. `"/error"`.
    pub error: Option<String>,
}

/// When a sync checks payloads against the CRM's schema.
/// Where an Intercom workspace is hosted.
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
#[schemars(rename_all = "lowercase")]
enum IntercomRegionName {
    Us,
    Eu,
    Au,
}

#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
#[schemars(rename_all = "lowercase")]
enum SchemaCheckName {
    Auto,
    Require,
    Skip,
}

/// An API version of any adapter: HubSpot's names, Salesforce's `vXX.X`,
/// Intercom's `2.N`.
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
#[serde(untagged)]
enum AnyApiVersion {
    HubSpot(ApiVersionName),
    Salesforce(#[schemars(regex(pattern = r"^v[0-9]+\.[0-9]+$"))] String),
    Intercom(#[schemars(regex(pattern = r"^[0-9]+\.[0-9]+$"))] String),
}

/// A HubSpot API version: `v3` (the legacy paths), `2026-03` or `2026-09`.
// Only the schema lists them: the loader reads the text, so that its
// refusal names the key and the accepted values (settings.rs).
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
enum ApiVersionName {
    #[schemars(rename = "v3")]
    V3,
    #[schemars(rename = "2026-03")]
    V2026_03,
    #[schemars(rename = "2026-09")]
    V2026_09,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitFile {
    pub max_requests: u32,
    /// A duration, e.g. `"10s"`.
    pub period: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelFile {
    pub table: String,
    pub primary_key: Option<String>,
    /// Kind of the primary key: `integer` (default), `uuid` (PostgreSQL
    /// `uuid`, MySQL `CHAR(36)`, SQLite text), `uuid_binary` (MySQL
    /// `BINARY(16)`) or `text`.
    pub key_type: Option<KeyTypeFile>,
    /// Timestamp column; `"none"` for none; default `updated_at`, else `created_at`.
    pub timestamp: Option<String>,
    pub sti: Option<StiFile>,
    /// The column the application marks rows deleted in (`deleted_at`):
    /// rows where it is not NULL are never synced, and bindings with
    /// `on_delete = "archive"` archive their objects.
    pub soft_delete_column: Option<String>,
    /// The model's binding per CRM.
    pub crms: OrderedMap<BindingFile>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StiFile {
    pub column: String,
    pub value: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BindingFile {
    pub object_type: String,
    #[serde(default)]
    pub id_property: String,
    /// The payload query: its columns are the CRM properties.
    pub payload: String,
    pub key_column: Option<String>,
    /// Column types the database cannot tell: `"boolean"`, or
    /// `{ type = "timestamp", rendering = "rails" }`.
    #[serde(default)]
    pub types: BTreeMap<String, ColumnFile>,
    /// `iso8601` (default) or `rails`.
    pub rendering: Option<RenderingFile>,
    #[serde(default)]
    pub dependencies: Vec<DependencyFile>,
    #[serde(default)]
    pub sync_dependencies: Vec<SyncDependencyFile>,
    /// Links to records of other models, kept in the CRM as associations
    /// (HubSpot) or linked-record fields (Airtable).
    #[serde(default)]
    pub links: Vec<LinkFile>,
    pub stale_scope: Option<String>,
    pub sync_if: Option<String>,
    pub external_id: Option<String>,
    /// Matches objects by `property` with the value of the payload's
    /// `column`, written only when creating (instead of `id_property`).
    pub match_by: Option<MatchByFile>,
    /// What a sync may do to the CRM's objects: `upsert` (default: create
    /// or update), `update_only` (never create) or `create_only` (never
    /// update).
    pub mode: Option<WriteModeFile>,
    /// What happens to a record's CRM object once its row is deleted:
    /// `keep` (default, as the gem) or `archive`.
    pub on_delete: Option<DisposalFile>,
    /// What happens to a record's CRM object once it leaves the binding's
    /// scope (`stale_scope` or `sync_if` no longer holds): `keep` (default)
    /// or `archive`.
    pub on_leave_scope: Option<DisposalFile>,
    /// The most records one run may archive: a number (`500`) or a
    /// percentage of the binding's synced records (`"10%"`, the default).
    pub max_deletes_per_run: Option<DeleteLimitFile>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchByFile {
    /// The CRM property objects are matched on (`email`).
    pub property: String,
    /// The payload query's column holding the value (`email`).
    pub column: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WriteModeFile {
    Upsert,
    UpdateOnly,
    CreateOnly,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DisposalFile {
    Keep,
    Archive,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(
    untagged,
    expecting = "a number of records (500) or a percentage of the synced records (\"10%\")"
)]
pub(crate) enum DeleteLimitFile {
    Records(u64),
    Text(String),
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TypeFile {
    Boolean,
    Integer,
    Float,
    Decimal,
    String,
    Json,
    Date,
    Timestamp,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RenderingFile {
    Iso8601,
    Rails,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a column type (boolean, integer, float, decimal, string, json, date, timestamp) or { type = \"…\", rendering = \"iso8601\" | \"rails\" }"
)]
pub(crate) enum ColumnFile {
    Type(TypeFile),
    Detailed(ColumnDetail),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ColumnDetail {
    #[serde(rename = "type")]
    pub column_type: Option<TypeFile>,
    pub rendering: Option<RenderingFile>,
}

/// One dependency: exactly one of the association keys.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DependencyFile {
    pub belongs_to: Option<String>,
    pub has_many: Option<String>,
    pub has_one: Option<String>,
    /// `habtm = "tags"` with `join_table`, `foreign_key`, `association_foreign_key`.
    pub habtm: Option<String>,
    pub join_table: Option<String>,
    pub association_foreign_key: Option<String>,
    /// A chain of hops, each a `belongs_to`/`has_many`/`has_one` table.
    pub through: Option<Vec<DependencyFile>>,
    /// `polymorphic_belongs_to = "subject_id"` with `type_column` and `targets`.
    pub polymorphic_belongs_to: Option<String>,
    pub type_column: Option<String>,
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
    pub foreign_key: Option<String>,
    /// The referenced key of a belongs_to (Rails' `primary_key:`).
    pub primary_key: Option<String>,
    /// Polymorphic `as:` of a has_one/has_many: `{ column = "notable_type", value = "User" }`.
    #[serde(rename = "as")]
    pub polymorphic_as: Option<StiFile>,
    pub timestamp: Option<String>,
}

/// A link: the target `model`, found by exactly one of `belongs_to`,
/// `has_many`, `join_table` or `polymorphic`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkFile {
    /// The target's declared model (`Company`).
    pub model: String,
    /// The column of this model's table holding the target's key.
    pub belongs_to: Option<String>,
    /// The column of the target's table holding this model's key.
    pub has_many: Option<String>,
    /// A join table pairing this model's records with the target's.
    pub join_table: Option<JoinTableFile>,
    /// A type and id pair of this model's table pointing at the target.
    pub polymorphic: Option<PolymorphicFile>,
    /// The link's name (default: the foreign key, join table or id column);
    /// on Airtable, the linked-record field it fills.
    pub name: Option<String>,
    /// HubSpot's association type: the default one when absent.
    pub association: Option<AssociationFile>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinTableFile {
    pub table: String,
    /// The column holding this model's key.
    pub owner_column: String,
    /// The column holding the target's key.
    pub target_column: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolymorphicFile {
    pub type_column: String,
    pub id_column: String,
    /// The type column's value meaning the target (default: its model name).
    pub type_value: Option<String>,
}

/// A labelled (or specific) association type: by its category and id, or
/// by its label's name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssociationFile {
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED` (with `type_id`).
    pub category: Option<AssociationCategoryFile>,
    /// HubSpot's `associationTypeId` (with `category`).
    pub type_id: Option<u32>,
    /// The label's name in HubSpot (instead of `category` and `type_id`).
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
// HubSpot's own names, which all end so.
#[allow(clippy::enum_variant_names)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum AssociationCategoryFile {
    HubspotDefined,
    UserDefined,
    IntegratorDefined,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncDependencyFile {
    pub model: String,
    pub foreign_key: String,
}

/// `key_type` of a model.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KeyTypeFile {
    Integer,
    Uuid,
    UuidBinary,
    Text,
}

impl From<KeyTypeFile> for etlify::KeyType {
    fn from(file: KeyTypeFile) -> Self {
        match file {
            KeyTypeFile::Integer => etlify::KeyType::Integer,
            KeyTypeFile::Uuid => etlify::KeyType::Uuid,
            KeyTypeFile::UuidBinary => etlify::KeyType::UuidBinary,
            KeyTypeFile::Text => etlify::KeyType::Text,
        }
    }
}
