//! What to open and what to resolve: one pure function of what is
//! observed now and of the incidents open, so that one incident sends one
//! alert and one recovery whatever the number of evaluations.

use std::collections::HashSet;

use crate::store::alert_incidents::IncidentKey;

/// One condition looked at now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    pub(crate) key: IncidentKey,
    /// Whether the trouble is there now.
    pub(crate) firing: bool,
    /// One sentence: what is wrong (firing) or that it recovered.
    pub(crate) summary: String,
    /// More about it (the reasons, the counts).
    pub(crate) details: String,
}

/// What an evaluation does with an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The trouble is there and no incident is open: open one (alert).
    Open {
        key: IncidentKey,
        summary: String,
        details: String,
    },
    /// The trouble is gone and its incident is open: resolve it
    /// (recovery).
    Resolve { key: IncidentKey, summary: String },
}

/// Kinds whose every possible key is observed at each evaluation: an open
/// incident of such a kind that nothing observes any more (its worker's
/// heartbeat row removed, its CRM disabled, its model removed) is
/// resolved.
const FULLY_OBSERVED: [&str; 2] = ["over_budget", "worker_silent"];

/// The decisions of one evaluation. A condition not observed at all
/// (a CRM whose last run stopped for a shutdown, a run that processed
/// no record) changes nothing.
pub(crate) fn decide(observed: &[Observation], open: &[IncidentKey]) -> Vec<Decision> {
    let open: HashSet<&IncidentKey> = open.iter().collect();
    let mut decisions = Vec::new();
    for observation in observed {
        let is_open = open.contains(&observation.key);
        if observation.firing && !is_open {
            decisions.push(Decision::Open {
                key: observation.key.clone(),
                summary: observation.summary.clone(),
                details: observation.details.clone(),
            });
        } else if !observation.firing && is_open {
            decisions.push(Decision::Resolve {
                key: observation.key.clone(),
                summary: observation.summary.clone(),
            });
        }
    }
    let seen: HashSet<&IncidentKey> = observed.iter().map(|o| &o.key).collect();
    let mut gone: Vec<&IncidentKey> = open
        .iter()
        .filter(|key| FULLY_OBSERVED.contains(&key.kind.as_str()) && !seen.contains(*key))
        .copied()
        .collect();
    gone.sort();
    for key in gone {
        decisions.push(Decision::Resolve {
            key: key.clone(),
            summary: format!(
                "{}: no longer looked at (its worker, CRM or model is gone)",
                describe(key)
            ),
        });
    }
    decisions
}

/// `hubspot`, `hubspot User`, `worker w1`: what an incident is about.
pub(crate) fn describe(key: &IncidentKey) -> String {
    match (
        key.kind.as_str(),
        key.crm.is_empty(),
        key.subject.is_empty(),
    ) {
        ("worker_silent", _, _) => format!("worker {}", key.subject),
        (_, false, false) => format!("{} {}", key.crm, key.subject),
        (_, false, true) => key.crm.clone(),
        _ => key.subject.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, crm: &str, subject: &str) -> IncidentKey {
        IncidentKey {
            kind: kind.into(),
            crm: crm.into(),
            subject: subject.into(),
        }
    }

    fn seen(key: IncidentKey, firing: bool) -> Observation {
        Observation {
            key,
            firing,
            summary: "s".into(),
            details: "d".into(),
        }
    }

    /// One incident lasting many evaluations opens once, and resolves
    /// once: the open incidents are the state the decision reads.
    #[test]
    fn alert_one_decision_per_incident_over_many_evaluations() {
        let down = key("run_interrupted", "hubspot", "");
        let mut open: Vec<IncidentKey> = Vec::new();
        let mut opened = 0;
        let mut resolved = 0;
        for firing in [true, true, true, false, false, true] {
            for decision in decide(&[seen(down.clone(), firing)], &open) {
                match decision {
                    Decision::Open { key, .. } => {
                        opened += 1;
                        open.push(key);
                    }
                    Decision::Resolve { key, .. } => {
                        resolved += 1;
                        open.retain(|k| *k != key);
                    }
                }
            }
        }
        assert_eq!((opened, resolved), (2, 1), "fired, recovered, fired again");
    }

    /// What is not observed changes nothing, except for kinds observed in
    /// full: an open worker incident whose worker is gone resolves.
    #[test]
    fn alert_unobserved_conditions_change_nothing_unless_fully_observed() {
        let run = key("run_interrupted", "hubspot", "");
        let worker = key("worker_silent", "", "w1");
        let decisions = decide(&[], &[run.clone(), worker.clone()]);
        assert_eq!(decisions.len(), 1, "{decisions:?}");
        assert!(matches!(&decisions[0], Decision::Resolve { key, .. } if *key == worker));
        assert!(decide(&[seen(run.clone(), true)], &[run]).is_empty());
    }
}
