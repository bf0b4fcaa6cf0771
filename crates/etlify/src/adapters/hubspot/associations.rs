//! v4 associations (HUBSPOT-12): batch create and archive, many pairs per
//! request, at the configured API version.
//!
//! * the default type: `batch/associate/default` to create, `batch/archive`
//!   to remove (which removes every association between the pair, as
//!   HubSpot does when the unlabeled type goes);
//! * a labelled type: `batch/create` and `batch/labels/archive` with
//!   `types: [{associationCategory, associationTypeId}]`.
//!
//! A label is looked up by its name in `GET …/{from}/{to}/labels`
//! (`results: [{category, typeId, label}]`).
//!
//! Both are safe to repeat: HubSpot makes no second association for the
//! same pair and type, and removing one that is gone changes nothing; a
//! request whose response was lost is simply sent again by the HTTP
//! client. A 207 answer names the refused pairs; a pair neither in the
//! results nor in the errors of a create is refused too.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::errors::classify;
use super::HubSpotAdapter;
use crate::adapters::http::HttpRequest;
use crate::adapters::{
    AdapterError, AdapterErrorKind, AssociationAdapter, AssociationPair, AssociationRefusals,
    Throttle,
};
use crate::link::{AssociationCategory, AssociationType};

/// Pairs per request: HubSpot's batch size for objects, which its
/// association batches accept too.
pub(super) const MAX_PAIRS_PER_REQUEST: usize = 100;

#[async_trait]
impl AssociationAdapter for HubSpotAdapter {
    fn max_associations_per_request(&self) -> usize {
        MAX_PAIRS_PER_REQUEST
    }

    async fn associate(
        &self,
        from_type: &str,
        to_type: &str,
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
        throttle: &Throttle<'_>,
    ) -> Result<AssociationRefusals, AdapterError> {
        let action: &[&str] = match association {
            AssociationType::Default => &["batch", "associate", "default"],
            AssociationType::Typed { .. } => &["batch", "create"],
        };
        let inputs = inputs(pairs, association, false);
        let body = self
            .send_associations(from_type, to_type, action, inputs, throttle)
            .await?;
        Ok(refusals(pairs, &body, true))
    }

    async fn label_type(
        &self,
        from_type: &str,
        to_type: &str,
        label: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Option<AssociationType>, AdapterError> {
        let path = self
            .api_version
            .associations_path(from_type, to_type, &["labels"]);
        let body = self
            .http
            .send(&HttpRequest::new(Method::GET, path), classify, throttle)
            .await?
            .body;
        let found = array(&body, "results").find_map(|definition| {
            if definition.get("label").and_then(Value::as_str) != Some(label) {
                return None;
            }
            let category = definition.get("category").and_then(Value::as_str)?;
            Some(AssociationType::Typed {
                category: AssociationCategory::parse(category)?,
                type_id: u32::try_from(definition.get("typeId")?.as_u64()?).ok()?,
            })
        });
        Ok(found)
    }

    async fn dissociate(
        &self,
        from_type: &str,
        to_type: &str,
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
        throttle: &Throttle<'_>,
    ) -> Result<AssociationRefusals, AdapterError> {
        let action: &[&str] = match association {
            AssociationType::Default => &["batch", "archive"],
            AssociationType::Typed { .. } => &["batch", "labels", "archive"],
        };
        let inputs = inputs(pairs, association, true);
        let body = self
            .send_associations(from_type, to_type, action, inputs, throttle)
            .await?;
        Ok(refusals(pairs, &body, false))
    }
}

/// The request's inputs: `{from: {id}, to: {id}}`, with the types of a
/// typed association; the default one's archive names its targets as a
/// list (`to: [{id}]`).
fn inputs(
    pairs: &[AssociationPair<'_>],
    association: AssociationType,
    archive: bool,
) -> Vec<Value> {
    pairs
        .iter()
        .map(|p| match association {
            AssociationType::Default if archive => {
                json!({ "from": { "id": p.from }, "to": [{ "id": p.to }] })
            }
            AssociationType::Default => json!({ "from": { "id": p.from }, "to": { "id": p.to } }),
            AssociationType::Typed { category, type_id } => json!({
                "from": { "id": p.from },
                "to": { "id": p.to },
                "types": [{
                    "associationCategory": category.as_str(),
                    "associationTypeId": type_id,
                }],
            }),
        })
        .collect()
}

impl HubSpotAdapter {
    async fn send_associations(
        &self,
        from_type: &str,
        to_type: &str,
        action: &[&str],
        inputs: Vec<Value>,
        throttle: &Throttle<'_>,
    ) -> Result<Value, AdapterError> {
        let path = self
            .api_version
            .associations_path(from_type, to_type, action);
        // Not marked as a create: repeating it makes nothing twice.
        let request = HttpRequest::new(Method::POST, path).json(json!({ "inputs": inputs }));
        Ok(self.http.send(&request, classify, throttle).await?.body)
    }
}

/// The refused pairs of an answer: those an error names (its context's
/// `fromObjectId`/`toObjectId`), and, of a create (`expects_results`),
/// those neither in the results nor named (given the first error's message).
fn refusals(
    pairs: &[AssociationPair<'_>],
    body: &Value,
    expects_results: bool,
) -> AssociationRefusals {
    let done: Vec<(String, String)> = array(body, "results").filter_map(result_pair).collect();
    let errors: Vec<(AdapterError, Vec<String>)> = array(body, "errors")
        .map(|error| {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("HubSpot refused this association");
            let kind = match error.get("category").and_then(Value::as_str) {
                Some("OBJECT_NOT_FOUND") => AdapterErrorKind::NotFound,
                _ => AdapterErrorKind::ValidationFailed,
            };
            let named: Vec<String> = ["fromObjectId", "ids"]
                .iter()
                .filter_map(|key| error.get("context")?.get(*key)?.as_array())
                .flatten()
                .filter_map(id_text)
                .collect();
            (AdapterError::new(kind, message).status(207), named)
        })
        .collect();
    let mut out = AssociationRefusals::default();
    for (index, pair) in pairs.iter().enumerate() {
        let named = errors
            .iter()
            .find(|(_, ids)| ids.iter().any(|id| id == pair.from || id == pair.to));
        if let Some((error, _)) = named {
            out.refused.push((index, error.clone()));
            continue;
        }
        let answered = done
            .iter()
            .any(|(from, to)| from == pair.from && to == pair.to);
        if expects_results && !answered {
            let error = match errors.first() {
                Some((error, _)) => error.clone(),
                None => AdapterError::new(
                    AdapterErrorKind::Other,
                    format!(
                        "HubSpot's association response has no result for {} → {}",
                        pair.from, pair.to
                    ),
                ),
            };
            out.refused.push((index, error));
        }
    }
    out
}

fn array<'a>(body: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    body.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `(from, to)` of a result: `{from: {id}, to: {id}}` (default) or
/// `{fromObjectId, toObjectId}` (labelled).
fn result_pair(result: &Value) -> Option<(String, String)> {
    let from = result
        .get("from")
        .and_then(|f| f.get("id"))
        .or_else(|| result.get("fromObjectId"))
        .and_then(id_text)?;
    let to = result
        .get("to")
        .and_then(|t| t.get("id"))
        .or_else(|| result.get("toObjectId"))
        .and_then(id_text)?;
    Some((from, to))
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs() -> Vec<AssociationPair<'static>> {
        vec![
            AssociationPair {
                from: "1",
                to: "10",
            },
            AssociationPair {
                from: "2",
                to: "20",
            },
            AssociationPair {
                from: "3",
                to: "30",
            },
        ]
    }

    #[test]
    fn association_refusals_name_the_pairs_a_207_refused_and_those_without_a_result() {
        let body = json!({
            "status": "COMPLETE",
            "results": [{ "fromObjectId": 1, "toObjectId": 10, "labels": [] }],
            "numErrors": 1,
            "errors": [{
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "No company with id 20",
                "context": { "fromObjectId": ["2"] }
            }]
        });
        let refused = refusals(&pairs(), &body, true).refused;
        let indices: Vec<usize> = refused.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, [1, 2]);
        assert_eq!(refused[0].1.kind(), AdapterErrorKind::NotFound);
        assert!(
            refused[1].1.message().contains("No company"),
            "{}",
            refused[1].1
        );
    }

    #[test]
    fn association_archives_without_results_refuse_nothing() {
        assert!(refusals(&pairs(), &Value::Null, false).refused.is_empty());
    }
}
