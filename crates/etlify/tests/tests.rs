//! Integration tests of the `etlify` library, compiled into one binary.
//!
//! Database tests run on SQLite, PostgreSQL and MySQL, under modules named
//! after the backend (`sync::sqlite::g3_…`, `sync::postgres::g3_…`): each
//! is declared once, in its module's `on_each_backend.rs`, a file compiled
//! once per backend (see `sync/mod.rs`). Every such module has its MySQL
//! copy, `mysql` (issue 31): alerts, archive, batch, batch_sync, brevo,
//! checkpoint, concurrency, config, crm_schema, delete, diff, e2e, finder,
//! fresh, hubspot_version, intercom, jobs, keys, leases, links,
//! lost_response, lost_updates, match_by, metrics, modes, payload,
//! pipeline, property, ratelimit, runs_history, salesforce, schema, status,
//! sync, webhook, worker. Their setup SQL is read in MySQL's words by
//! `support/mysql_words.rs`.
//! Tests proving an acceptance item (docs/BEHAVIOUR.md) carry its id as a prefix.

#![allow(clippy::unwrap_used)]
// Each module's `on_each_backend.rs` is compiled twice on purpose.
#![allow(clippy::duplicate_mod)]

mod support;

mod airtable; // the Airtable v0 adapter: exact request shapes (wiremock)
mod alerts; // alerts to webhooks: one per incident over every worker, then one recovery (issue 28)
mod archive; // records leaving the application: on_delete = archive, the delete guard
mod batch; // the batch synchronizer (G-5, G-11, X-4, X-5, X-8, X-12)
mod batch_sync; // inline batch sync over stale records (G-6, G-7, G-13, G-16, G-17, G-22, X-18)
mod brevo; // Brevo: the engine over the sandbox on each backend (MySQL too), exact requests (wiremock) (issue 30, item 4)
mod checkpoint; // runs after a complete one look only at what changed since its checkpoint
mod concurrency; // many syncs at once: small pools, several engines, batch runs (X-8, X-10, G-10)
mod config; // registry, builder validation (G-1, G-2, X-14, bad input)
mod conformance; // the adapter conformance suite: every adapter against its sandbox (issue 30)
mod crm_schema; // payloads against the CRM's schema: problems reported, bindings refused, properties created (issue 29)
mod delete; // the deleter (G-3, G-4, X-11)
mod diff; // plan --diff: what a sync would send, field by field
mod digest; // digest vectors of the original gem
mod e2e; // engine + HTTP adapters + the local sandbox, over loopback
mod finder; // the stale finder, one scenario per F-id, both plans
mod fresh; // changes within seconds: change triggers and the worker's watch (issue 28)
mod hubspot; // the HubSpot adapter: exact request shapes (wiremock), each API version
mod hubspot_version; // HubSpot's dated API over the sandbox: required properties, secondary emails
mod intercom; // Intercom: the engine over the sandbox on each backend, exact requests (wiremock)
mod interop; // taking over a database synced by the Rails gem (G-26, X-15)
mod interop_mysql; // taking over a gem-synced MySQL database (issue 31, item 4)
mod interop_typed; // taking over a gem database with typed columns (X-15, payload types)
mod jobs; // sync jobs through the queue seam: dedup, no lost request, retries, batch jobs (G-9, G-10, G-18, G-23, X-10, X-13)
mod keys; // UUID and text primary keys on each backend: first sync, changed dependency, sync by key, queued jobs, leases (issue 31, item 3)
mod leases; // leases of live and dead holders: a slow holder keeps its CRM, a dead one's is taken over after its time to live (X-10, G-10)
mod links; // links: HubSpot associations and Airtable linked records, their state in etlify_links (issue 29)
mod lost_response; // lost responses: creates not repeated, no duplicates (external_id, sandbox faults)
mod lost_updates; // no update lost, no run stopped by one CRM
mod match_by; // matching apart from the payload: the match property written on create only
mod metrics; // Prometheus metrics: counters moved by exactly what was sent, closed labels, gauges once per interval (issue 28)
mod modes; // sync modes: update_only, create_only
mod payload; // SQL payloads: column types to JSON, declared types, renderings (payload types)
mod pipeline; // the pipelined batch path: requests in flight, writes as they answer, failures
mod property; // finder plans vs the definition of stale, generated data
mod ratelimit; // separate budgets (HubSpot search, Airtable token), header-driven slow-down
mod runs_history; // the run history: one row per batch run of a CRM, its trigger, outcomes and interruption (issue 28)
mod salesforce; // Salesforce: the engine over the sandbox on each backend, exact requests (wiremock)
mod schema; // migrations, schema check, indexes (X-6, G-26)
mod sqlite_wal; // SQLite's write-ahead log copied back off the writers' path
mod status; // where each (model, CRM) stands: the counts add up to the records in scope
mod sync;
mod webhook; // the signed webhook adapter: request shape, signature, the receiver, runs to it (issue 30)
mod worker; // the worker on the built-in queue: loop, enqueued jobs, graceful shutdown // the per-record synchronizer (G-3, G-4, G-21, G-24, G-25, X-1, X-2, X-8, X-12)
