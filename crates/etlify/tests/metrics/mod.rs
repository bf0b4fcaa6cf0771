//! The engine's Prometheus metrics (issue 28, item 2): a scrape after a
//! sync shows the counters moved by exactly what was sent (the sandbox's
//! request log, the run's statistics); no label carries a record value;
//! 429s and the time waited on the rate limit are counted; the gauges
//! that need a query equal `status()` and are computed at most once per
//! interval.

use std::collections::BTreeMap;
use std::time::Duration;

use etlify::{
    BatchSyncOptions, Binding, Crm, Model, RateLimit, SqlPayload, SyncDispatch, SyncOutcome,
};
use etlify_sandbox::{Sandbox, SandboxConfig};

use crate::support::sandbox::quick_retrying_hubspot;
use crate::support::{builder, engine, user_model, TestDb};

/// `User` as HubSpot deals with no id property: one create per record.
fn deals_model() -> Model {
    Model::new("User", "users").bind(
        "hubspot",
        Binding::new("deals", "")
            .payload(SqlPayload::new("SELECT id, email AS dealname FROM users")),
    )
}

/// `User` on `hubspot`, stale when its company changes too.
fn users_of_companies() -> Model {
    Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new(crate::support::USER_PAYLOAD_SQL))
            .dependency(etlify::Dependency::belongs_to("companies", "company_id")),
    )
}

/// One sample of an exposition: its name, its labels, its value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of an OpenMetrics text (label values here hold no `,` or
/// escaped quote: the test checks every one against a closed set).
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').expect("label=value");
                (key.to_owned(), value.trim_matches('"').to_owned())
            })
            .collect();
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value: value.parse().expect("a number"),
        });
    }
    samples
}

/// The sum of the samples named `name` whose labels include `with`.
fn value(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// The outcomes `etlify_records_synced_total` may name, spelled out here
/// rather than read from the library: a new one must be added on purpose.
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

/// The standings `etlify_records` may name, in the order of
/// `StatusEntry`'s counts.
const STANDINGS: [&str; 6] = [
    "in_sync",
    "stale",
    "never_synced",
    "failing",
    "over_budget",
    "waiting",
];

/// Every label of `samples` is one of the closed set of keys, and its
/// value one of what that key may hold: a configured name, an outcome, a
/// status code, a standing, a job state, the version, a bucket bound.
fn assert_labels_are_closed(samples: &[Sample], crms: &[&str], models: &[&str]) {
    for sample in samples {
        for (key, value) in &sample.labels {
            let allowed = match key.as_str() {
                "crm" => crms.contains(&value.as_str()),
                "model" => models.contains(&value.as_str()),
                "outcome" => OUTCOMES.contains(&value.as_str()),
                "standing" => STANDINGS.contains(&value.as_str()),
                "state" => ["queued", "running"].contains(&value.as_str()),
                "status" => {
                    value == "error"
                        || value == "other"
                        || (value.len() == 3 && value.parse::<u16>().is_ok())
                }
                "version" => value == env!("CARGO_PKG_VERSION"),
                "le" => value == "+Inf" || value.parse::<f64>().is_ok(),
                _ => false,
            };
            assert!(allowed, "label {key}={value:?} of {sample:?}");
        }
    }
}

#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
