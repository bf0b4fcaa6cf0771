//! What is true now, for the alerts: per enabled CRM its last run that
//! ended (interrupted or failed; its share of record errors), per (model,
//! CRM) its records over the error budget, and per worker beating through
//! a heartbeat lease, how long since its last heartbeat. Each a few index
//! reads.

use super::decide::{describe, Observation};
use super::AlertOptions;
use crate::context::Context;
use crate::error::Result;
use crate::store::alert_incidents::{self, IncidentKey};
use crate::store::run_history;

/// The statuses of runs that say something of a CRM's health (a run
/// stopped by a shutdown, or still running, says nothing).
const TELLING: [&str; 3] = ["succeeded", "interrupted", "failed"];

fn key(kind: super::AlertKind, crm: &str, subject: &str) -> IncidentKey {
    IncidentKey {
        kind: kind.as_str().to_owned(),
        crm: crm.to_owned(),
        subject: subject.to_owned(),
    }
}

/// Everything the alerts look at now.
pub(crate) async fn observe(ctx: &Context, options: &AlertOptions) -> Result<Vec<Observation>> {
    let store = ctx.store();
    let catalog = ctx.catalog();
    let mut observed = Vec::new();
    for crm in catalog.resolved_crms().filter(|crm| crm.enabled) {
        let Some(run) = run_history::latest_ended(store, &crm.name, &TELLING).await? else {
            continue;
        };
        let stopped_short = run.status != "succeeded";
        let reason = run.interruption.clone().unwrap_or_default();
        let incident = key(super::AlertKind::RunInterrupted, &crm.name, "");
        observed.push(Observation {
            summary: if stopped_short {
                format!("{}: the last batch run stopped short", describe(&incident))
            } else {
                format!("{}: batch runs go to the end again", describe(&incident))
            },
            details: reason,
            firing: stopped_short,
            key: incident,
        });
        if let (Some(threshold), true) = (options.error_share, run.records > 0) {
            let share = run.errors as f64 / run.records as f64;
            let limit = f64::from(threshold) / 10_000.0;
            let incident = key(super::AlertKind::ErrorShare, &crm.name, "");
            let firing = share > limit;
            observed.push(Observation {
                summary: format!(
                    "{}: {:.0}% of the records of the last run failed ({} of {}; alert above {:.0}%)",
                    describe(&incident),
                    share * 100.0,
                    run.errors,
                    run.records,
                    limit * 100.0
                ),
                details: run.interruption.clone().unwrap_or_default(),
                firing,
                key: incident,
            });
        }
    }
    for model in catalog.models() {
        for crm_name in model.bindings.keys() {
            if !catalog.crm_enabled(crm_name) {
                continue;
            }
            let budget = catalog.crm(crm_name)?.max_sync_errors;
            let over =
                alert_incidents::over_budget(store, crm_name, &model.resource_type, budget).await?;
            let incident = key(super::AlertKind::OverBudget, crm_name, &model.resource_type);
            observed.push(Observation {
                summary: if over > 0 {
                    format!(
                        "{}: {over} records reached the error budget ({budget} failures) and are left alone until `etlify errors reset`",
                        describe(&incident)
                    )
                } else {
                    format!("{}: no record over the error budget", describe(&incident))
                },
                details: format!("over budget: {over}"),
                firing: over > 0,
                key: incident,
            });
        }
    }
    if let Some(silent) = options.worker_silent {
        for (worker, since_beat, _live) in alert_incidents::workers(store).await? {
            let incident = key(super::AlertKind::WorkerSilent, "", &worker);
            let firing = since_beat > silent;
            let seconds = std::time::Duration::from_secs(since_beat.as_secs());
            observed.push(Observation {
                summary: if firing {
                    format!(
                        "{}: no heartbeat for {} (alert after {})",
                        describe(&incident),
                        humanised(seconds),
                        humanised(silent)
                    )
                } else {
                    format!("{}: beating again", describe(&incident))
                },
                details: String::new(),
                firing,
                key: incident,
            });
        }
    }
    Ok(observed)
}

/// `2m 10s`.
fn humanised(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match (secs / 3_600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}
