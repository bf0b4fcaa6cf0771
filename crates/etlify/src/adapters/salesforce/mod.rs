//! The Salesforce adapter (docs/ADAPTERS.md, "Salesforce"): a connected
//! app's client-credentials token (renewed once when it expires), sObject
//! Collections upsert by the binding's external-id field, update and
//! delete by record id, the org's daily allocation read from every answer
//! and its concurrent-request limit held (SALESFORCE-1..SALESFORCE-8).
//!
//! A binding's object type is the sObject (`Contact`, `Invoice__c`) and
//! its id property the external-id field (`Etlify_Id__c`).

mod allocation;
mod batch;
mod config;
mod errors;
mod session;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use self::allocation::Allocation;
pub use self::config::{
    SalesforceConfig, DEFAULT_API_VERSION, DEFAULT_DAILY_RESERVE_PERCENT, DEFAULT_LOGIN_URL,
    DEFAULT_MAX_CONCURRENT_REQUESTS, MAX_BATCH_SIZE,
};
use self::errors::{classify, is_daily_limit, is_expired_session, record_error, succeeded};
use self::session::Sessions;
use crate::adapters::http::{HttpRequest, HttpResponse};
use crate::adapters::{
    id_value, Access, Adapter, AdapterError, AdapterErrorKind, BatchAdapter, RemoteDelete,
    RetryPolicy, Throttle, UpsertRequest,
};
use crate::error::ConfigError;
use crate::payload::Payload;

/// The Salesforce adapter.
#[derive(Debug)]
pub struct SalesforceAdapter {
    sessions: Sessions,
    api_version: String,
    batch_size: usize,
    /// The configured retries, applied here around each request (the
    /// session's client sends once): a 401 renews the token instead, and
    /// a spent allocation is never waited on.
    retry: RetryPolicy,
    /// Requests in flight at once (SALESFORCE-7).
    in_flight: Semaphore,
    allocation: Allocation,
}

impl SalesforceAdapter {
    /// An adapter for the org `config`'s connected app logs in to.
    pub fn new(config: SalesforceConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let retry = *config.http.get_retry();
        let once = config.http.retry(RetryPolicy::none());
        Ok(Self {
            sessions: Sessions::new(
                &config.login_url,
                config.client_id,
                config.client_secret,
                once,
                config.connections.unwrap_or_default(),
            )?,
            api_version: config.api_version,
            batch_size: config.batch_size,
            retry,
            in_flight: Semaphore::new(config.max_concurrent_requests),
            allocation: Allocation::new(config.daily_reserve_percent),
        })
    }

    /// `/services/data/{version}/{rest…}`, one segment each (encoded by the client).
    fn path(&self, rest: &[&str]) -> Vec<String> {
        ["services", "data", self.api_version.as_str()]
            .into_iter()
            .chain(rest.iter().copied())
            .map(str::to_owned)
            .collect()
    }

    /// Sends `request` on the current session: a 401 logs in again and
    /// sends it once more, throttling and transient failures are retried
    /// by the configured policy, and a daily allocation nearly or wholly
    /// spent ends the call at once (SALESFORCE-1, SALESFORCE-6).
    async fn send(
        &self,
        request: &HttpRequest,
        throttle: &Throttle<'_>,
    ) -> Result<HttpResponse, AdapterError> {
        let mut attempt = 1;
        let mut renewed = false;
        loop {
            self.allocation.check()?;
            // A login that failed is retried like a request (a refused one is not).
            let error = match self.sessions.current().await {
                Err(error) => error,
                Ok(session) => {
                    let sent = {
                        // Never closed: acquiring fails only on a closed semaphore.
                        let _slot = self.in_flight.acquire().await.map_err(|_| {
                            AdapterError::new(
                                AdapterErrorKind::Other,
                                "the adapter is shutting down",
                            )
                        })?;
                        session.http.send(request, classify, throttle).await
                    };
                    match sent {
                        Ok(response) => {
                            self.allocation.observe(&response);
                            return Ok(response);
                        }
                        Err(error) if is_expired_session(&error) && !renewed => {
                            tracing::info!(message = "Salesforce token refused; logging in again.");
                            self.sessions.expired(session.generation).await;
                            renewed = true;
                            continue;
                        }
                        Err(error) => error,
                    }
                }
            };
            if is_daily_limit(&error) {
                self.allocation.spent();
                return Err(error.retry_after(allocation::HELD_FOR));
            }
            if !error.is_retriable()
                || error.is_create_outcome_unknown()
                || attempt >= self.retry.get_max_attempts()
            {
                return Err(error);
            }
            let wait = self.retry.delay(attempt, error.get_retry_after());
            tracing::warn!(
                message = "Salesforce request failed; retrying.",
                status = error.get_status(),
                error = %error,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The results of a collections request, one per record.
    async fn collection(
        &self,
        request: HttpRequest,
        throttle: &Throttle<'_>,
    ) -> Result<Vec<Value>, AdapterError> {
        let response = self.send(&request, throttle).await?;
        match response.body {
            Value::Array(results) => Ok(results),
            _ => Err(AdapterError::new(
                AdapterErrorKind::Transient,
                "Salesforce's collections answer is not a list of results",
            )
            .status(response.status)),
        }
    }

    /// `PATCH …/composite/sobjects/{sobject}/{field}` (SALESFORCE-3).
    async fn upsert_by_external_id(
        &self,
        sobject: &str,
        field: &str,
        records: Vec<Value>,
        throttle: &Throttle<'_>,
    ) -> Result<Vec<Value>, AdapterError> {
        let request = HttpRequest::new(
            Method::PATCH,
            self.path(&["composite", "sobjects", sobject, field]),
        )
        .json(serde_json::json!({ "allOrNone": false, "records": records }));
        self.collection(request, throttle).await
    }

    /// `PATCH …/composite/sobjects`, each record with its `id` (SALESFORCE-4).
    async fn update_by_id(
        &self,
        records: Vec<Value>,
        throttle: &Throttle<'_>,
    ) -> Result<Vec<Value>, AdapterError> {
        let request = HttpRequest::new(Method::PATCH, self.path(&["composite", "sobjects"]))
            .json(serde_json::json!({ "allOrNone": false, "records": records }));
        self.collection(request, throttle).await
    }

    /// `DELETE …/composite/sobjects?ids=…` of ids checked to be ids (SALESFORCE-4).
    async fn delete_by_id(
        &self,
        ids: &[&str],
        throttle: &Throttle<'_>,
    ) -> Result<Vec<Value>, AdapterError> {
        let request = HttpRequest::new(Method::DELETE, self.path(&["composite", "sobjects"]))
            .query("ids", ids.join(","))
            .query("allOrNone", "false");
        self.collection(request, throttle).await
    }

    /// The one result of a one-record collections request: its id, or
    /// the record's error.
    fn only(results: &[Value]) -> Result<Option<String>, AdapterError> {
        let Some(result) = results.first() else {
            return Err(AdapterError::new(
                AdapterErrorKind::Transient,
                "Salesforce answered no result for the record",
            ));
        };
        if !succeeded(result) {
            return Err(record_error(result));
        }
        Ok(result.get("id").and_then(Value::as_str).map(str::to_owned))
    }
}

/// The record a collections request carries for `payload`: its
/// `attributes.type` and its fields, `skipped` left out.
fn record(sobject: &str, payload: &Payload, skipped: Option<&str>) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert(
        "attributes".to_owned(),
        serde_json::json!({ "type": sobject }),
    );
    for (field, value) in payload {
        if Some(field.as_str()) != skipped && field != "attributes" {
            record.insert(field.clone(), value.clone());
        }
    }
    record
}

/// Upserts match on an external-id field: the binding must name one.
fn require_external_id(id_property: &str) -> Result<(), AdapterError> {
    if id_property.trim().is_empty() {
        return Err(AdapterError::new(
            AdapterErrorKind::Other,
            "the binding names no external-id field to match Salesforce records by",
        ));
    }
    Ok(())
}

/// An sObject's API name: a letter, then letters, digits and underscores
/// (`Contact`, `Invoice__c`, `ns__Thing__c`). Anything else names no
/// sObject and is refused before a request: deletes by id would
/// otherwise go through whatever the object type says.
fn check_sobject(sobject: &str) -> Result<(), AdapterError> {
    let mut chars = sobject.chars();
    let named = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if named {
        return Ok(());
    }
    Err(AdapterError::new(
        AdapterErrorKind::ValidationFailed,
        format!("{sobject:?} is not a Salesforce sObject name (letters, digits and underscores)"),
    ))
}

/// 15 or 18 letters and digits (SALESFORCE-8): anything else names no
/// record, and is never put in a URL.
fn is_record_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.chars().all(|c| c.is_ascii_alphanumeric())
}

#[async_trait]
impl Adapter for SalesforceAdapter {
    fn kind(&self) -> &'static str {
        "salesforce"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let sobject = request.object_type;
        let id_property = request.id_property;
        check_sobject(sobject)?;
        require_external_id(id_property)?;
        // a known id is updated directly.
        if let Some(crm_id) = request.crm_id.map(str::trim).filter(|id| is_record_id(id)) {
            let skipped = request.id_property_only_on_create.then_some(id_property);
            let mut body = record(sobject, request.payload, skipped);
            body.insert("id".to_owned(), Value::String(crm_id.to_owned()));
            let results = self
                .update_by_id(vec![Value::Object(body)], throttle)
                .await?;
            match Self::only(&results) {
                Ok(id) => return Ok(id.or_else(|| Some(crm_id.to_owned()))),
                // Deleted in Salesforce meanwhile: upserted by its external id.
                Err(error) if error.kind() == AdapterErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        if id_value(request.payload, id_property).is_none() {
            return Err(AdapterError::new(
                AdapterErrorKind::ValidationFailed,
                format!("the record has no {id_property} value to match a Salesforce record by"),
            ));
        }
        let body = record(sobject, request.payload, None);
        let results = self
            .upsert_by_external_id(sobject, id_property, vec![Value::Object(body)], throttle)
            .await?;
        Self::only(&results)
    }

    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
        check_sobject(object_type)?;
        let crm_id = crm_id.trim();
        if !is_record_id(crm_id) {
            return Ok(RemoteDelete::NotFound);
        }
        let results = self.delete_by_id(&[crm_id], throttle).await?;
        match Self::only(&results) {
            Ok(_) => Ok(RemoteDelete::Deleted),
            Err(error) if error.kind() == AdapterErrorKind::NotFound => Ok(RemoteDelete::NotFound),
            Err(error) => Err(error),
        }
    }

    async fn check_access(
        &self,
        object_type: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Access, AdapterError> {
        check_sobject(object_type)?;
        let request = HttpRequest::new(Method::GET, self.path(&["sobjects", object_type]));
        self.send(&request, throttle).await?;
        Ok(Access::Granted)
    }

    fn batch(&self) -> Option<&dyn BatchAdapter> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_sobject_names_of_path_syntax_are_refused() {
        for name in ["Contact", "Invoice__c", "ns__Thing__c"] {
            assert!(check_sobject(name).is_ok(), "{name}");
        }
        for name in [
            "",
            "Contact/../Contact",
            "..",
            "Con tact",
            "1Contact",
            "Contact?x",
        ] {
            let error = check_sobject(name).unwrap_err();
            assert_eq!(error.kind(), AdapterErrorKind::ValidationFailed, "{name}");
        }
        assert!(is_record_id("003000000000001AAA") && is_record_id("003000000000001"));
        assert!(!is_record_id("003000000000001AAA,003000000000002AAA"));
    }
}
