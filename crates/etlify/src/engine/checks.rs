//! What can be checked of a built engine beyond its declarations (which
//! [`EtlifyBuilder::build`](crate::EtlifyBuilder::build) checks against the
//! database): whether each enabled CRM takes its credentials and knows its
//! object types ([`Etlify::check_crm_access`]), and what the configuration
//! allows but most likely does not mean ([`Etlify::warnings`], and
//! [`Etlify::timestamp_warnings`] from the data). They answer
//! data; wording them is the caller's (the `etlify` command's `check`).

use std::time::Duration;

use super::Etlify;
use crate::adapters::{Access, AdapterError};
use crate::error::Result;
use crate::ratelimit::RateLimit;
use crate::store::timestamp_precision;

/// What one CRM answered for one object type bound to it
/// ([`Etlify::check_crm_access`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct CrmAccess {
    /// The CRM's name.
    pub crm: String,
    /// The object type asked about (an Airtable table).
    pub object_type: String,
    /// [`Access::Granted`], [`Access::NotChecked`] (the adapter has no way
    /// to ask without writing), or the CRM's refusal or the network's
    /// failure ([`AdapterError::is_retriable`] tells them apart).
    pub result: Result<Access, AdapterError>,
}

/// Something the configuration allows but most likely does not mean
/// ([`Etlify::warnings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigWarning {
    /// The CRM it is about.
    pub crm: String,
    /// What is wrong.
    pub kind: WarningKind,
    /// What to change.
    pub fix: SuggestedFix,
}

/// What a [`ConfigWarning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// An enabled CRM whose vendor limits its requests has no rate limit:
    /// nothing throttles it then (G-8, as the gem), so a run meets the
    /// vendor's 429s (Airtable's last 30 s) instead of its limit.
    NoRateLimit,
}

/// What to change to silence a [`ConfigWarning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuggestedFix {
    /// Give the CRM this rate limit: its vendor's documented one.
    RateLimit {
        /// The limit to set ([`Crm::rate_limit`](crate::Crm::rate_limit)).
        limit: RateLimit,
        /// The vendor's limit in words, e.g. "Airtable allows 5 requests
        /// per second per base".
        vendor_limit: &'static str,
    },
}

/// A model whose timestamp column holds only whole seconds in its most
/// recent rows while `commit_margin` is under a second
/// ([`Etlify::timestamp_warnings`]): a change its writer stamps in the
/// same second as a sync's read, but after it, looks older than that sync
/// and is not sent until the record changes again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WholeSecondTimestamps {
    /// The model.
    pub model: String,
    /// Its table.
    pub table: String,
    /// Its timestamp column.
    pub column: String,
    /// How many recent values were looked at, all whole seconds.
    pub sampled: usize,
    /// The margin in force: the configured one
    /// ([`Config::commit_margin`](crate::Config::commit_margin)), else the
    /// database's default ([`crate::Store::default_commit_margin`]).
    pub commit_margin: Duration,
}

/// Recent timestamps looked at per model ([`Etlify::timestamp_warnings`]).
pub const TIMESTAMP_SAMPLE: u64 = 50;

/// Fewer recent values than this say nothing of a writer's habit: a
/// writer of microseconds stamps a whole second once in a million.
const FEWEST_TIMESTAMPS_TO_JUDGE: usize = 5;

/// The margin that covers writers of whole seconds.
const WHOLE_SECOND: Duration = Duration::from_secs(1);

/// The documented request limit of the vendor behind an adapter kind
/// (`Adapter::kind`), for the adapters this crate ships; `None` for any
/// other (the null adapter, a custom one).
fn vendor_limit(adapter_kind: &str) -> Option<(u32, Duration, &'static str)> {
    match adapter_kind {
        "hubspot" => Some((
            100,
            Duration::from_secs(10),
            "HubSpot allows 100 requests per 10 s (private apps, the lowest tier)",
        )),
        "airtable" => Some((
            5,
            Duration::from_secs(1),
            "Airtable allows 5 requests per second per base",
        )),
        "brevo" => Some((
            10,
            Duration::from_secs(1),
            "Brevo allows 10 contacts requests per second (the general plans)",
        )),
        "intercom" => Some((
            1_666,
            Duration::from_secs(10),
            "Intercom allows an app 10,000 requests a minute, spread over 10-second windows",
        )),
        _ => None,
    }
}

impl Etlify {
    /// Asks each enabled CRM, once per object type bound to it, whether it
    /// takes the credentials and reads the type ([`Adapter::check_access`]:
    /// one read request, nothing written), in declaration order.
    ///
    /// [`Adapter::check_access`]: crate::adapters::Adapter::check_access
    pub async fn check_crm_access(&self) -> Vec<CrmAccess> {
        let mut asked: Vec<(&str, &str)> = Vec::new();
        for model in self.models() {
            for crm in model.get_crm_names() {
                let Some(binding) = model.get_binding(crm) else {
                    continue;
                };
                let pair = (crm, binding.get_object_type());
                if self.crm_enabled(crm) && !asked.contains(&pair) {
                    asked.push(pair);
                }
            }
        }
        let mut answers = Vec::with_capacity(asked.len());
        for (crm, object_type) in asked {
            // A binding to an unregistered CRM is refused by the builder.
            let Some(registered) = self.crms().get(crm) else {
                continue;
            };
            let result = registered.adapter().check_access(object_type).await;
            answers.push(CrmAccess {
                crm: crm.to_owned(),
                object_type: object_type.to_owned(),
                result,
            });
        }
        answers
    }

    /// The models whose writers seem to store whole-second timestamps
    /// while `commit_margin` is under a second: the latest
    /// [`TIMESTAMP_SAMPLE`] values of the timestamp column (at least 5)
    /// have no fraction of a second. Reads each model's table once (a
    /// sort on the timestamp column: for `etlify check`, not every run).
    pub async fn timestamp_warnings(&self) -> Result<Vec<WholeSecondTimestamps>> {
        let commit_margin = self.ctx.catalog().settings().commit_margin;
        if commit_margin >= WHOLE_SECOND {
            return Ok(Vec::new());
        }
        let mut warnings = Vec::new();
        for model in self.ctx.catalog().models() {
            let Some(column) = model.timestamp_column.as_deref() else {
                continue;
            };
            let recent =
                timestamp_precision::recent(self.store(), &model.table, column, TIMESTAMP_SAMPLE)
                    .await?;
            if recent.sampled >= FEWEST_TIMESTAMPS_TO_JUDGE && recent.with_fraction == 0 {
                warnings.push(WholeSecondTimestamps {
                    model: model.resource_type.clone(),
                    table: model.table.clone(),
                    column: column.to_owned(),
                    sampled: recent.sampled,
                    commit_margin,
                });
            }
        }
        Ok(warnings)
    }

    /// What the configuration allows but most likely does not mean, in
    /// CRM declaration order: an enabled HubSpot, Airtable or Intercom CRM
    /// without a rate limit ([`WarningKind::NoRateLimit`]).
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        self.crms()
            .iter()
            .filter(|crm| crm.get_enabled() && crm.get_rate_limit().is_none())
            .filter_map(|crm| {
                let (max_requests, period, vendor_limit) = vendor_limit(crm.get_adapter().kind())?;
                // The vendors' limits are positive: `RateLimit::new` accepts them.
                let limit = RateLimit::new(max_requests, period).ok()?;
                Some(ConfigWarning {
                    crm: crm.get_name().to_owned(),
                    kind: WarningKind::NoRateLimit,
                    fix: SuggestedFix::RateLimit {
                        limit,
                        vendor_limit,
                    },
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::*;
    use crate::adapters::{Adapter, NullAdapter};
    use crate::adapters::{
        AirtableAdapter, AirtableConfig, HubSpotAdapter, HubSpotConfig, IntercomAdapter,
        IntercomConfig,
    };
    use crate::{Binding, Crm, MigrateOptions, Model, SqlPayload, Store};

    async fn engine(crms: Vec<Crm>, models: Vec<Model>) -> Etlify {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        crate::migrate(&store, &MigrateOptions::default())
            .await
            .unwrap();
        let pool = store.sqlite_pool().unwrap();
        sqlx::query(
            "CREATE TABLE users (id integer PRIMARY KEY, email varchar, updated_at datetime)",
        )
        .execute(pool)
        .await
        .unwrap();
        let mut builder = Etlify::builder(store);
        for crm in crms {
            builder = builder.crm(crm);
        }
        for model in models {
            builder = builder.model(model);
        }
        builder.build().await.unwrap()
    }

    fn hubspot() -> Arc<dyn Adapter> {
        Arc::new(HubSpotAdapter::new(HubSpotConfig::new("pat-test")).unwrap())
    }

    fn airtable() -> Arc<dyn Adapter> {
        Arc::new(
            AirtableAdapter::new(AirtableConfig::new("pat-test", "appAbCdEf01234567")).unwrap(),
        )
    }

    fn intercom() -> Arc<dyn Adapter> {
        Arc::new(IntercomAdapter::new(IntercomConfig::new("tok-test")).unwrap())
    }

    fn binding(object_type: &str) -> Binding {
        Binding::new(object_type, "email").payload(SqlPayload::new("SELECT id, email FROM users"))
    }

    #[tokio::test]
    async fn warnings_name_each_enabled_vendor_crm_without_a_rate_limit_with_its_vendors_limit() {
        let limited = RateLimit::new(10, Duration::from_secs(1)).unwrap();
        let etlify = engine(
            vec![
                Crm::new("hubspot", hubspot()),
                Crm::new("airtable", airtable()),
                Crm::new("throttled", hubspot()).rate_limit(limited),
                Crm::new("off", airtable()).enabled(false),
                Crm::new("null", Arc::new(NullAdapter::new())),
                Crm::new("intercom", intercom()),
            ],
            Vec::new(),
        )
        .await;
        let warnings = etlify.warnings();
        let fixes: Vec<(&str, u32, Duration)> = warnings
            .iter()
            .map(|w| {
                assert_eq!(w.kind, WarningKind::NoRateLimit);
                let SuggestedFix::RateLimit { limit, .. } = w.fix;
                (w.crm.as_str(), limit.get_max_requests(), limit.get_period())
            })
            .collect();
        assert_eq!(
            fixes,
            [
                ("hubspot", 100, Duration::from_secs(10)),
                ("airtable", 5, Duration::from_secs(1)),
                ("intercom", 1_666, Duration::from_secs(10)),
            ]
        );
    }

    #[tokio::test]
    async fn check_crm_access_asks_each_enabled_crm_once_per_object_type() {
        let null = || Arc::new(NullAdapter::new()) as Arc<dyn Adapter>;
        let etlify = engine(
            vec![
                Crm::new("a", null()),
                Crm::new("b", null()),
                Crm::new("off", null()).enabled(false),
            ],
            vec![
                Model::new("User", "users")
                    .bind("a", binding("contacts"))
                    .bind("b", binding("people"))
                    .bind("off", binding("contacts")),
                Model::new("Member", "users").bind("a", binding("contacts")),
            ],
        )
        .await;
        let asked: Vec<(String, String, bool)> = etlify
            .check_crm_access()
            .await
            .into_iter()
            .map(|a| {
                let not_checked = matches!(a.result, Ok(Access::NotChecked));
                (a.crm, a.object_type, not_checked)
            })
            .collect();
        assert_eq!(
            asked,
            [
                ("a".to_owned(), "contacts".to_owned(), true),
                ("b".to_owned(), "people".to_owned(), true),
            ]
        );
    }
}
