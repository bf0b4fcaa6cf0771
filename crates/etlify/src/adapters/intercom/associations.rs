//! A contact attached to a company (INTERCOM-3): `POST
//! /contacts/{id}/companies` with the company's id, and `DELETE
//! /contacts/{id}/companies/{company_id}` to detach it; one pair per
//! request. Both are safe to repeat: a company attached twice is attached
//! once, and detaching one that is not attached changes nothing.
//!
//! Intercom has one kind of attachment, from contacts to companies: a
//! labelled association type, or a link between other object types, is
//! refused for each pair.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;

use super::IntercomAdapter;
use crate::adapters::{
    AdapterError, AdapterErrorKind, AssociationAdapter, AssociationPair, AssociationRefusals,
    Throttle,
};
use crate::link::AssociationType;

#[async_trait]
impl AssociationAdapter for IntercomAdapter {
    fn max_associations_per_request(&self) -> usize {
        1
    }

    async fn associate(
        &self,
        from_type: &str,
        to_type: &str,
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
        throttle: &Throttle<'_>,
    ) -> Result<AssociationRefusals, AdapterError> {
        self.each_pair(from_type, to_type, association, pairs, throttle, true)
            .await
    }

    async fn dissociate(
        &self,
        from_type: &str,
        to_type: &str,
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
        throttle: &Throttle<'_>,
    ) -> Result<AssociationRefusals, AdapterError> {
        self.each_pair(from_type, to_type, association, pairs, throttle, false)
            .await
    }
}

impl IntercomAdapter {
    /// Attaches (or detaches) each pair in turn; a pair Intercom refuses
    /// (an id it does not know) is refused alone, a failure of the request
    /// itself (throttling, the server) ends the call.
    async fn each_pair(
        &self,
        from_type: &str,
        to_type: &str,
        association: AssociationType,
        pairs: &[AssociationPair<'_>],
        throttle: &Throttle<'_>,
        attach: bool,
    ) -> Result<AssociationRefusals, AdapterError> {
        let mut out = AssociationRefusals::default();
        if let Some(refusal) = unsupported(from_type, to_type, association) {
            out.refused = (0..pairs.len()).map(|i| (i, refusal.clone())).collect();
            return Ok(out);
        }
        for (index, pair) in pairs.iter().enumerate() {
            if !super::is_object_id(pair.from) || !super::is_object_id(pair.to) {
                let error = AdapterError::new(
                    AdapterErrorKind::NotFound,
                    format!(
                        "{:?} → {:?} names no Intercom contact and company",
                        pair.from, pair.to
                    ),
                );
                out.refused.push((index, error));
                continue;
            }
            let request = if attach {
                self.request(Method::POST, &["contacts", pair.from, "companies"])
                    .json(json!({ "id": pair.to }))
            } else {
                self.request(
                    Method::DELETE,
                    &["contacts", pair.from, "companies", pair.to],
                )
            };
            match self.send(&request, throttle).await {
                Ok(_) => {}
                // Detached already, or the contact is gone: nothing to undo.
                Err(error) if !attach && error.kind() == AdapterErrorKind::NotFound => {}
                Err(error) if error.is_record_error() => out.refused.push((index, error)),
                Err(error) => return Err(error),
            }
        }
        Ok(out)
    }
}

/// Why `from_type` → `to_type` with `association` cannot be made, if so.
fn unsupported(
    from_type: &str,
    to_type: &str,
    association: AssociationType,
) -> Option<AdapterError> {
    let reason = if (from_type, to_type) != ("contacts", "companies") {
        format!("Intercom attaches contacts to companies only, not {from_type} to {to_type}")
    } else if association != AssociationType::Default {
        format!("Intercom has no association types: {association} cannot be made")
    } else {
        return None;
    };
    Some(AdapterError::new(
        AdapterErrorKind::ValidationFailed,
        reason,
    ))
}
