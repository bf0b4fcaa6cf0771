//! The receiver's answer: a whole-request failure classified by its
//! status, and each event's outcome read through the [`ResponseMapping`].

use serde_json::Value;

use super::config::ResponseMapping;
use crate::adapters::http::{kind_of_status, HttpResponse};
use crate::adapters::{AdapterError, AdapterErrorKind};

/// What the receiver said of one event.
#[derive(Debug)]
pub(super) struct Outcome {
    /// The object's id, when the answer gives one.
    pub id: Option<String>,
    /// Why the event was not applied.
    pub error: Option<AdapterError>,
}

/// Most characters of an answer quoted in an error.
const QUOTED: usize = 300;

/// A non-2xx answer to a whole request.
pub(super) fn classify(response: &HttpResponse) -> AdapterError {
    let said = ["/error", "/message", "/error/message"]
        .iter()
        .find_map(|pointer| response.body.pointer(pointer).and_then(Value::as_str))
        .map_or_else(
            || response.text.chars().take(QUOTED).collect::<String>(),
            str::to_owned,
        );
    let mut error = AdapterError::new(
        kind_of_status(response.status),
        format!("the webhook answered {}: {said}", response.status),
    )
    .status(response.status);
    if let Some(delay) = response.retry_after() {
        error = error.retry_after(delay);
    }
    error
}

/// The outcome of each of `events` events from the answer's `body`.
pub(super) fn outcomes(
    mapping: Option<&ResponseMapping>,
    body: &Value,
    events: usize,
) -> Result<Vec<Outcome>, AdapterError> {
    let Some(mapping) = mapping else {
        return Ok((0..events)
            .map(|_| Outcome {
                id: None,
                error: None,
            })
            .collect());
    };
    let items = body
        .pointer(&mapping.items)
        .and_then(Value::as_array)
        .filter(|items| items.len() == events)
        .ok_or_else(|| {
            AdapterError::new(
                AdapterErrorKind::Other,
                format!(
                    "the webhook's answer has no array of {events} entries at {:?} \
                     (response.items): one entry per event, in the order sent",
                    mapping.items
                ),
            )
        })?;
    Ok(items.iter().map(|item| outcome(mapping, item)).collect())
}

fn outcome(mapping: &ResponseMapping, item: &Value) -> Outcome {
    let at = |pointer: &Option<String>| {
        pointer
            .as_deref()
            .and_then(|pointer| item.pointer(pointer))
            .filter(|value| !value.is_null())
    };
    let status = at(&mapping.status).and_then(|status| match status {
        Value::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    });
    let said = at(&mapping.error).map(|error| match error {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    let failed_status = status.filter(|status| !(200..300).contains(status));
    let error = match (failed_status, said) {
        (None, None) => None,
        (Some(status), said) => Some(
            AdapterError::new(
                kind_of_status(status),
                said.unwrap_or_else(|| format!("the webhook answered {status} for the event")),
            )
            .status(status),
        ),
        (None, Some(said)) => Some(AdapterError::new(AdapterErrorKind::ValidationFailed, said)),
    };
    let id = at(&mapping.id).and_then(|id| match id {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    });
    Outcome { id, error }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping() -> ResponseMapping {
        ResponseMapping::new("/results")
            .id("/id")
            .status("/status")
            .error("/error")
    }

    #[test]
    fn each_entry_gives_its_event_an_id_or_an_error_of_its_kind() {
        let body = json!({"results": [
            {"id": "wh_1", "status": 201},
            {"status": "422", "error": "email is missing"},
            {"status": 404},
            {"id": 7, "error": "rejected"},
        ]});
        let outcomes = outcomes(Some(&mapping()), &body, 4).unwrap();
        assert_eq!(outcomes[0].id.as_deref(), Some("wh_1"));
        assert!(outcomes[0].error.is_none());
        let invalid = outcomes[1].error.as_ref().unwrap();
        assert_eq!(invalid.kind(), AdapterErrorKind::ValidationFailed);
        assert_eq!(invalid.message(), "email is missing");
        let missing = outcomes[2].error.as_ref().unwrap();
        assert_eq!(missing.kind(), AdapterErrorKind::NotFound);
        let rejected = outcomes[3].error.as_ref().unwrap();
        assert_eq!(rejected.kind(), AdapterErrorKind::ValidationFailed);
    }

    #[test]
    fn an_answer_without_one_entry_per_event_fails_the_request() {
        let body = json!({"results": [{"id": "wh_1"}]});
        let error = outcomes(Some(&mapping()), &body, 2).unwrap_err();
        assert!(error.message().contains("response.items"), "{error}");
        assert_eq!(outcomes(None, &Value::Null, 2).unwrap().len(), 2);
    }
}
