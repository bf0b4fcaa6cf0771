//! The scenarios, each written once for every adapter.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{
    Access, Adapter, AdapterError, AdapterErrorKind, BatchItem, RemoteDelete, UpsertRequest,
    WriteMode,
};
use etlify::{Crm, CrmRegistry, Payload, RateLimit, ThrottledAdapter};
use etlify_sandbox::FaultConfig;
use futures_util::future::join_all;

use super::subject::quick_retries;
use super::{Scenario, Stored, Subject};
use crate::support::logs::CapturedLogs;

/// Runs `scenario` for the adapter of `S`, or shows why it does not apply.
pub(crate) async fn run<S: Subject>(scenario: Scenario) {
    if let Some(reason) = S::unsupported(scenario) {
        println!(
            "conformance {} {scenario:?}: not supported: {reason}",
            S::NAME
        );
        let adapters_md = include_str!("../../../../docs/ADAPTERS.md");
        assert!(
            adapters_md.contains(reason),
            "the reason why {} does not support {scenario:?} is given in docs/ADAPTERS.md: {reason}",
            S::NAME
        );
        return;
    }
    let subject = S::start().await;
    match scenario {
        Scenario::Create => create(&subject).await,
        Scenario::UpdateById => update_by_id(&subject).await,
        Scenario::MatchByProperty => match_by_property(&subject).await,
        Scenario::BatchWithOneBadRecord => batch_with_one_bad_record(&subject).await,
        Scenario::ThrottledWithDelayHeader => throttled(&subject, true).await,
        Scenario::ThrottledWithoutDelayHeader => throttled(&subject, false).await,
        Scenario::ServerErrorBursts => server_error_bursts(&subject).await,
        Scenario::LostResponse => lost_response(&subject).await,
        Scenario::HostileNames => hostile_names(&subject).await,
        Scenario::ArchiveDelete => archive_delete(&subject).await,
        Scenario::CheckAccess => check_access(&subject).await,
        Scenario::RateLimitInFlight => rate_limit_in_flight(&subject).await,
        Scenario::SecretsAbsent => secrets_absent(&subject).await,
    }
}

/// The CRM `crm` holding `adapter`, as an engine registers it.
fn registry(adapter: Arc<dyn Adapter>, limit: Option<RateLimit>) -> CrmRegistry {
    let mut crm = Crm::new("crm", adapter);
    if let Some(limit) = limit {
        crm = crm.rate_limit(limit);
    }
    let mut registry = CrmRegistry::new();
    registry.register(crm).unwrap();
    registry
}

fn crm(registry: &CrmRegistry) -> ThrottledAdapter<'_> {
    registry.get("crm").unwrap().adapter()
}

fn request<'a, S: Subject>(
    subject: &'a S,
    payload: &'a Payload,
    crm_id: Option<&'a str>,
) -> UpsertRequest<'a> {
    UpsertRequest {
        object_type: subject.object_type(),
        payload,
        id_property: subject.id_property(),
        crm_id,
        id_property_only_on_create: false,
        mode: WriteMode::Upsert,
    }
}

/// Upserts `payload` through `registry`'s CRM.
async fn upsert<S: Subject>(
    subject: &S,
    registry: &CrmRegistry,
    payload: &Payload,
    crm_id: Option<&str>,
) -> Result<Option<String>, AdapterError> {
    crm(registry)
        .upsert(request(subject, payload, crm_id))
        .await
}

/// Creates the object `key` named `name` and returns its id.
async fn created<S: Subject>(subject: &S, registry: &CrmRegistry, key: &str, name: &str) -> String {
    let payload = subject.payload(key, name);
    upsert(subject, registry, &payload, None)
        .await
        .unwrap_or_else(|error| panic!("{key} could not be created: {error}"))
        .unwrap_or_else(|| panic!("the CRM gave {key} no id"))
}

fn stored<S: Subject>(subject: &S, key: &str) -> Stored {
    subject
        .stored_by_key(key)
        .unwrap_or_else(|| panic!("no object matches {key}: {:?}", subject.stored()))
}

/// A new object: created once, its id returned, its properties stored.
async fn create<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let id = created(subject, &registry, "ann@example.com", "Ann").await;
    let ann = stored(subject, "ann@example.com");
    assert_eq!(ann.id, id, "the id returned is the stored object's");
    assert_eq!(ann.name.as_deref(), Some("Ann"));
    assert_eq!(subject.stored().len(), 1, "one object created");
}

/// A known id: the object is updated in place, nothing created.
async fn update_by_id<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let id = created(subject, &registry, "ann@example.com", "Ann").await;
    let renamed = subject.payload("ann@example.com", "Annie");
    let updated = upsert(subject, &registry, &renamed, Some(&id))
        .await
        .unwrap();
    assert_eq!(updated.as_deref(), Some(id.as_str()));
    let ann = stored(subject, "ann@example.com");
    assert_eq!((ann.id, ann.name.as_deref()), (id, Some("Annie")));
    assert_eq!(subject.stored().len(), 1, "nothing created");
}

/// No known id: the object holding the id property's value is found and
/// updated, not created again.
async fn match_by_property<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let id = created(subject, &registry, "ann@example.com", "Ann").await;
    let renamed = subject.payload("ann@example.com", "Annie");
    let matched = upsert(subject, &registry, &renamed, None).await.unwrap();
    assert_eq!(matched.as_deref(), Some(id.as_str()), "the object matched");
    assert_eq!(
        stored(subject, "ann@example.com").name.as_deref(),
        Some("Annie")
    );
    assert_eq!(subject.stored().len(), 1, "nothing created");
}

/// A batch holding one record the CRM rejects: only that record fails.
/// The adapter either says which input failed (the others written), or
/// the CRM rejects the request as a whole and writes nothing, so that the
/// engine can split it: then each record alone, only the bad one
/// fails.
async fn batch_with_one_bad_record<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let crm = crm(&registry);
    let batch = crm.batch().expect("the adapter has batch endpoints");
    let keys = ["ann@example.com", "bad@example.com", "cy@example.com"];
    let payloads = [
        subject.payload(keys[0], "Ann"),
        subject.invalid_payload(keys[1]),
        subject.payload(keys[2], "Cy"),
    ];
    let items: Vec<BatchItem<'_>> = payloads
        .iter()
        .map(|payload| BatchItem {
            payload,
            crm_id: None,
            id_property_only_on_create: false,
        })
        .collect();
    let object_type = subject.object_type();
    let id_property = subject.id_property();
    match batch.batch_upsert(object_type, &items, id_property).await {
        Ok(result) => {
            let failed: Vec<Option<&str>> = result
                .errors
                .iter()
                .map(|error| error.id_value.as_deref())
                .collect();
            assert_eq!(failed, [Some(keys[1])], "only the bad record failed");
            for key in [keys[0], keys[2]] {
                assert_eq!(
                    result.crm_ids.get(key),
                    Some(&stored(subject, key).id),
                    "{key} written and its id returned"
                );
            }
        }
        Err(error) => {
            assert_eq!(
                error.kind(),
                AdapterErrorKind::ValidationFailed,
                "a batch rejected as a whole is a validation failure: {error}"
            );
            assert_eq!(subject.stored(), [], "a rejected batch wrote nothing");
            for (item, key) in items.iter().zip(keys) {
                let alone = batch
                    .batch_upsert(object_type, std::slice::from_ref(item), id_property)
                    .await;
                let ok = matches!(&alone, Ok(result) if result.errors.is_empty());
                assert_eq!(ok, key != keys[1], "{key} alone: {alone:?}");
            }
        }
    }
    let mut written: Vec<String> = subject.stored().into_iter().filter_map(|s| s.key).collect();
    written.sort();
    assert_eq!(written, [keys[0], keys[2]], "the good records are written");
}

/// 429s, with a `Retry-After` or without: retried, every record written
/// once; with the header, no request before the delay is over.
async fn throttled<S: Subject>(subject: &S, with_delay_header: bool) {
    let registry = registry(subject.adapter(), None);
    subject.limit(1, Duration::from_millis(300), with_delay_header);
    for (key, name) in [("ann@example.com", "Ann"), ("bo@example.com", "Bo")] {
        created(subject, &registry, key, name).await;
    }
    assert_eq!(subject.stored().len(), 2, "each record written once");
    let log = subject.log();
    assert!(log.count_status(429) > 0, "the CRM answered 429");
    if with_delay_header {
        // Retry-After is whole seconds: 1 for a 300 ms window.
        let recent = &log.recent;
        for (index, entry) in recent.iter().enumerate() {
            if entry.status == Some(429) {
                if let Some(next) = recent.get(index + 1) {
                    assert!(
                        next.at_ms >= entry.at_ms + 1_000,
                        "the request after a 429 waited for Retry-After: {recent:?}"
                    );
                }
            }
        }
    }
}

/// Bursts of 5xx on an update and on a create: retried, each written once.
async fn server_error_bursts<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let id = created(subject, &registry, "ann@example.com", "Ann").await;
    subject.set_faults(FaultConfig {
        fail_next: 3,
        error_statuses: vec![500, 502, 503],
        ..FaultConfig::default()
    });
    let renamed = subject.payload("ann@example.com", "Annie");
    let updated = upsert(subject, &registry, &renamed, Some(&id)).await;
    assert_eq!(updated.unwrap().as_deref(), Some(id.as_str()));
    assert_eq!(
        stored(subject, "ann@example.com").name.as_deref(),
        Some("Annie")
    );
    // 503: the server says it took nothing, so even a create is repeated.
    subject.set_faults(FaultConfig {
        fail_next: 3,
        error_statuses: vec![503],
        ..FaultConfig::default()
    });
    created(subject, &registry, "bo@example.com", "Bo").await;
    assert_eq!(subject.stored().len(), 2, "each object once");
    let log = subject.log();
    for status in [500, 502, 503] {
        assert!(log.count_status(status) > 0, "the CRM answered {status}");
    }
}

/// The answer of each request of a write lost in turn (the write applied):
/// the write fails or succeeds, and the next sync of the record leaves one
/// object, never two.
async fn lost_response<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let keys = ["ann@example.com", "bo@example.com", "cy@example.com"];
    for (spare, key) in (0..).zip(keys) {
        subject.set_faults(FaultConfig {
            spare_next: spare,
            drop_next: 1,
            drop_after_handling: true,
            ..FaultConfig::default()
        });
        let payload = subject.payload(key, "First");
        let first = upsert(subject, &registry, &payload, None).await;
        subject.set_faults(FaultConfig::default());
        let known = first.as_ref().ok().cloned().flatten();
        let payload = subject.payload(key, "Second");
        let second = upsert(subject, &registry, &payload, known.as_deref())
            .await
            .unwrap_or_else(|error| panic!("{key}'s next sync failed: {error}"));
        let object = stored(subject, key);
        assert_eq!(second, Some(object.id.clone()), "{key}: {first:?}");
        assert_eq!(object.name.as_deref(), Some("Second"));
    }
    assert_eq!(subject.stored().len(), keys.len(), "no object twice");
    let dropped: u64 = subject
        .log()
        .endpoints
        .iter()
        .filter_map(|endpoint| endpoint.statuses.get("dropped"))
        .sum();
    assert!(dropped > 0, "answers were lost");
}

/// Ids and object types made of path syntax reach the CRM as one encoded
/// segment (or not at all): no request leaves the API's routes, and the
/// object already there is neither deleted nor changed.
async fn hostile_names<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let crm = crm(&registry);
    let id = created(subject, &registry, "ann@example.com", "Ann").await;
    let object_type = subject.object_type();
    let hostile_ids = [
        format!("../{id}"),
        format!("{id}/../{id}"),
        format!("{id}?archived=true#x"),
        "..".to_owned(),
        ".".to_owned(),
    ];
    for hostile in &hostile_ids {
        match crm.delete(object_type, hostile).await {
            Ok(RemoteDelete::NotFound) => {}
            Ok(RemoteDelete::Deleted) => panic!("{hostile:?} deleted something"),
            Err(error) => assert!(
                matches!(
                    error.kind(),
                    AdapterErrorKind::NotFound | AdapterErrorKind::ValidationFailed
                ),
                "{hostile:?}: {error}"
            ),
        }
    }
    let hostile_type = format!("{object_type}/../{object_type}");
    let _either = crm.delete(&hostile_type, &id).await;
    let payload = subject.payload("bo@example.com", "Bo");
    let upserted = upsert(subject, &registry, &payload, Some(&hostile_ids[0])).await;
    if let Ok(Some(bo)) = &upserted {
        assert_ne!(bo, &id, "a hostile id never reaches Ann");
    }
    let ann = stored(subject, "ann@example.com");
    assert_eq!(
        (ann.id.as_str(), ann.name.as_deref()),
        (id.as_str(), Some("Ann"))
    );
    for entry in subject.log().recent {
        assert!(
            !entry
                .path
                .split('/')
                .any(|segment| segment == ".." || segment == "."),
            "a request left the API's routes: {entry:?}"
        );
    }
}

/// A delete archives the object; deleting it again finds nothing; a batch
/// delete removes several (one delete each, for an adapter without batch
/// endpoints).
async fn archive_delete<S: Subject>(subject: &S) {
    let registry = registry(subject.adapter(), None);
    let crm = crm(&registry);
    let object_type = subject.object_type();
    let id = created(subject, &registry, "ann@example.com", "Ann").await;
    assert_eq!(
        crm.delete(object_type, &id).await.unwrap(),
        RemoteDelete::Deleted
    );
    assert_eq!(subject.stored_by_key("ann@example.com"), None, "archived");
    assert_eq!(
        crm.delete(object_type, &id).await.unwrap(),
        RemoteDelete::NotFound,
        "an object deleted before is not found"
    );
    let ids = vec![
        created(subject, &registry, "bo@example.com", "Bo").await,
        created(subject, &registry, "cy@example.com", "Cy").await,
    ];
    match crm.batch() {
        Some(batch) => batch.batch_delete(object_type, &ids).await.unwrap(),
        // Without batch endpoints the engine deletes one object a request.
        None => {
            for id in &ids {
                assert_eq!(
                    crm.delete(object_type, id).await.unwrap(),
                    RemoteDelete::Deleted
                );
            }
        }
    }
    assert_eq!(subject.stored(), [], "the deletes removed both");
}

/// `etlify check --crms`: access granted with the credential, refused as
/// `Unauthorized` without it.
async fn check_access<S: Subject>(subject: &S) {
    let object_type = subject.object_type();
    let accepted = registry(subject.adapter(), None);
    assert_eq!(
        crm(&accepted).check_access(object_type).await.unwrap(),
        Access::Granted
    );
    let refused = registry(
        subject.adapter_with(Some("not-the-credential"), quick_retries()),
        None,
    );
    let error = crm(&refused).check_access(object_type).await.unwrap_err();
    assert_eq!(error.kind(), AdapterErrorKind::Unauthorized, "{error}");
    assert_eq!(subject.stored(), [], "a check writes nothing");
}

/// Many writes in flight under the CRM's limit: the sandbox never sees
/// more requests in one window than the limit, and answers no 429. The
/// CRM's limit is given a fifth of headroom over the sandbox's window, as
/// one configures a real CRM: the noise of a loaded test machine between
/// a request's send and its arrival is not the adapter's. An adapter
/// that did not count each of its requests (a search, then a write) in
/// the throttle would still send up to twice the limit in a window.
async fn rate_limit_in_flight<S: Subject>(subject: &S) {
    const MAX: u32 = 5;
    let window = Duration::from_millis(500);
    subject.limit(u64::from(MAX), window, false);
    subject.set_faults(FaultConfig {
        latency_ms: 40,
        ..FaultConfig::default()
    });
    let registry = registry(
        subject.adapter(),
        Some(RateLimit::new(MAX, window * 6 / 5).unwrap()),
    );
    let keys: Vec<String> = (0..8).map(|i| format!("user{i}@example.com")).collect();
    let payloads: Vec<Payload> = keys.iter().map(|key| subject.payload(key, "N")).collect();
    let results = join_all(
        payloads
            .iter()
            .map(|payload| upsert(subject, &registry, payload, None)),
    )
    .await;
    for (key, result) in keys.iter().zip(results) {
        assert!(result.is_ok(), "{key}: {result:?}");
    }
    assert_eq!(subject.stored().len(), keys.len());
    let log = subject.log();
    assert_eq!(log.count_status(429), 0, "no 429: {:?}", log.endpoints);
    let peak = subject.peak(&log);
    assert!(
        peak > 1 && peak <= u64::from(MAX),
        "peak {peak} per window, limit {MAX}"
    );
}

/// Every log line (all levels, every crate) and every error of a run
/// through retries, rejections and a refused credential: the credential
/// appears in none, nor in the adapter's `Debug`.
async fn secrets_absent<S: Subject>(subject: &S) {
    let logs = CapturedLogs::start(tracing::Level::TRACE);

    let accepted = registry(subject.adapter(), None);
    let mut shown = vec![subject.adapter_debug()];
    subject.set_faults(FaultConfig {
        fail_next: 2,
        error_statuses: vec![503],
        ..FaultConfig::default()
    });
    created(subject, &accepted, "ann@example.com", "Ann").await;
    let invalid = subject.invalid_payload("bad@example.com");
    let refused = registry(
        subject.adapter_with(Some("wrong-credential"), quick_retries()),
        None,
    );
    let errors: Vec<AdapterError> = [
        upsert(subject, &accepted, &invalid, None).await.err(),
        crm(&accepted)
            .delete(subject.object_type(), "../nothing")
            .await
            .err(),
        crm(&refused)
            .check_access(subject.object_type())
            .await
            .err(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(errors.len() >= 2, "the run met errors: {errors:?}");
    for error in &errors {
        shown.push(error.to_string());
        shown.push(format!("{error:?}"));
    }
    let logged = logs.text();
    assert!(
        logged.contains("retrying"),
        "the retries were logged: {logged}"
    );
    shown.push(logged);
    let secret = subject.secret();
    for text in shown {
        assert!(!text.contains(secret), "the credential shows in: {text}");
    }
}
