//! The tests of `crm_schema` that run on each backend. This file is
//! compiled twice, as `crm_schema::sqlite` and `crm_schema::postgres`
//! (`mod.rs`); `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

async fn database() -> TestDb {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    db.insert_user("ada@example.com", None).await;
    db
}

/// Every kind of problem, each naming its field: a field that is not a
/// property (with the nearest), a calculated one written, a declared
/// type the property refuses, a required property never set (2026-09),
/// a match property without unique values; a fitting binding has none.
#[tokio::test]
async fn schema_check_reports_each_problem_naming_the_field() {
    let db = database().await;
    let sandbox = sandbox().await;
    let payload = SqlPayload::new(
        "SELECT id, email, full_name AS compnay, 1 AS score, 1 AS stage FROM users",
    )
    .column_type("stage", ColumnType::Integer);
    let by_name = Model::new("Person", "users").bind(
        "hubspot",
        Binding::new("contacts", "full_name").payload(SqlPayload::new(
            "SELECT id, full_name, full_name AS lastname FROM users",
        )),
    );
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V2026_09))],
        vec![
            users("hubspot", "contacts", payload),
            members("hubspot"),
            by_name,
        ],
    )
    .await;
    let checked = etlify.check_crm_schemas().await.unwrap();
    assert_eq!(
        problems(&checked),
        [
            (
                "User".into(),
                "compnay".into(),
                FieldProblemKind::NotAProperty
            ),
            ("User".into(), "score".into(), FieldProblemKind::ReadOnly),
            (
                "User".into(),
                "stage".into(),
                FieldProblemKind::TypeMismatch
            ),
            (
                "User".into(),
                "lastname".into(),
                FieldProblemKind::RequiredMissing
            ),
            (
                "Person".into(),
                "full_name".into(),
                FieldProblemKind::MatchNotUnique
            ),
        ]
    );
    let first = checked[0].problems()[0].to_string();
    assert_eq!(
        first,
        "`compnay` is not a property; did you mean `company`?"
    );
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("GET", "/crm/properties/2026-09/{objectType}"),
        1,
        "one read per object type"
    );
}

/// Before 2026-09 HubSpot requires nothing of API writes: no required
/// problem at the legacy version.
#[tokio::test]
async fn schema_required_properties_count_only_at_2026_09() {
    let db = database().await;
    let sandbox = sandbox().await;
    let payload = SqlPayload::new("SELECT id, email FROM users");
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V3))],
        vec![users("hubspot", "contacts", payload)],
    )
    .await;
    assert!(problems(&etlify.check_crm_schemas().await.unwrap()).is_empty());
}

/// A run does not start a binding whose payload the schema refuses (an
/// interruption of kind Config naming the field), and runs the others.
#[tokio::test]
async fn schema_a_run_refuses_a_failing_binding_and_runs_the_others() {
    let db = database().await;
    let sandbox = sandbox().await;
    let payload = SqlPayload::new("SELECT id, email, full_name AS compnay FROM users");
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V3))],
        vec![users("hubspot", "contacts", payload), members("hubspot")],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.interrupted.len(), 1, "{stats:?}");
    let refused = &stats.interrupted[0];
    assert_eq!(
        (refused.model.as_str(), refused.kind),
        ("User", ErrorKind::Config)
    );
    assert!(
        refused.message.contains("`compnay` is not a property"),
        "{}",
        refused.message
    );
    assert_eq!(stats.outcomes.synced, 1, "Member ran: {stats:?}");
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), 1);
    assert!(!contacts[0].properties.contains_key("compnay"));
    assert_eq!(
        sandbox
            .admin()
            .request_log()
            .count("GET", "/crm/v3/properties/{objectType}"),
        1,
        "the schema read once for the run, not per record"
    );
}

/// A schema the token may not read: by default a warning and the run
/// goes on unchecked; with `require` the binding is not started; with
/// `skip` the schema is not even asked for.
#[tokio::test]
async fn schema_an_unreadable_schema_runs_unchecked_unless_required() {
    let db = database().await;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let crm = |check: SchemaCheck| {
        Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V3)).schema_check(check)
    };
    let payload = || SqlPayload::new("SELECT id, email FROM users");
    let auto = engine(
        &db,
        vec![crm(SchemaCheck::Auto)],
        vec![users("hubspot", "contacts", payload())],
    )
    .await;
    let checked = auto.check_crm_schemas().await.unwrap();
    assert!(
        matches!(&checked[0].status, BindingSchemaStatus::Unreadable(e) if e.get_status() == Some(403)),
        "{checked:?}"
    );
    let stats = auto.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(
        stats.interrupted.is_empty() && stats.outcomes.synced == 1,
        "{stats:?}"
    );

    db.insert_user("bob@example.com", None).await;
    let required = engine(
        &db,
        vec![crm(SchemaCheck::Require)],
        vec![users("hubspot", "contacts", payload())],
    )
    .await;
    let stats = required.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.interrupted.len(), 1, "{stats:?}");
    assert!(
        stats.interrupted[0].message.contains("could not be read"),
        "{stats:?}"
    );
    assert_eq!(stats.outcomes.synced, 0);

    let before = sandbox
        .admin()
        .request_log()
        .count("GET", "/crm/v3/properties/{objectType}");
    let skipped = engine(
        &db,
        vec![crm(SchemaCheck::Skip)],
        vec![users("hubspot", "contacts", payload())],
    )
    .await;
    let stats = skipped.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 1, "{stats:?}");
    let after = sandbox
        .admin()
        .request_log()
        .count("GET", "/crm/v3/properties/{objectType}");
    assert_eq!(after, before, "skip reads no schema");
}

/// The missing properties, typed from the declared columns, created in the
/// configured group; a second look finds none, and the run then sends.
#[tokio::test]
async fn schema_missing_properties_are_created_once_in_the_configured_group() {
    let db = database().await;
    let sandbox = sandbox().await;
    let payload = SqlPayload::new(
        "SELECT id, email, full_name AS plan_name, 3 AS seats, active AS paying FROM users",
    )
    .column_type("seats", ColumnType::Integer)
    .column_type("paying", ColumnType::Boolean);
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V3)).property_group("app_data")],
        vec![Model::new("User", "users").bind(
            "hubspot",
            Binding::new("contacts", "email")
                .payload(payload)
                .external_id("app_user_id"),
        )],
    )
    .await;
    let missing = etlify.missing_crm_fields().await.unwrap();
    let names: Vec<(&str, &str)> = missing[0]
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("plan_name", "text"),
            ("seats", "number"),
            ("paying", "boolean"),
            ("app_user_id", "text")
        ]
    );
    let unique: Vec<bool> = missing[0].fields.iter().map(|f| f.unique).collect();
    assert_eq!(
        unique,
        [false, false, false, true],
        "the external id is matched on"
    );
    assert_eq!(etlify.create_crm_fields(&missing).await.unwrap(), 4);
    assert!(
        etlify.missing_crm_fields().await.unwrap().is_empty(),
        "nothing left to create"
    );

    let client = reqwest::Client::new();
    let listed: serde_json::Value = client
        .get(format!(
            "{}/crm/v3/properties/contacts",
            sandbox.hubspot_base_url()
        ))
        .bearer_auth(DEFAULT_HUBSPOT_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seats = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "seats")
        .unwrap();
    assert_eq!(
        (&seats["type"], &seats["groupName"]),
        (&json!("number"), &json!("app_data"))
    );
    let external = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "app_user_id")
        .unwrap();
    assert_eq!(external["hasUniqueValue"], true);
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(
        (stats.outcomes.synced, stats.interrupted.len()),
        (1, 0),
        "{stats:?}"
    );
}

/// Airtable: a computed field written and a field the table lacks are
/// found; the missing field created, once.
#[tokio::test]
async fn schema_airtable_fields_checked_and_the_missing_one_created_once() {
    let db = database().await;
    let sandbox = sandbox().await;
    let payload = SqlPayload::new("SELECT id, email, 1 AS total, 2 AS seats FROM users")
        .column_type("seats", ColumnType::Integer);
    let etlify = engine(
        &db,
        vec![Crm::new("airtable", airtable(&sandbox))],
        vec![users("airtable", "People", payload)],
    )
    .await;
    let found = problems(&etlify.check_crm_schemas().await.unwrap());
    assert_eq!(
        found,
        [
            ("User".into(), "total".into(), FieldProblemKind::ReadOnly),
            (
                "User".into(),
                "seats".into(),
                FieldProblemKind::NotAProperty
            ),
        ]
    );
    let missing = etlify.missing_crm_fields().await.unwrap();
    assert_eq!(missing[0].fields.len(), 1);
    assert_eq!(etlify.create_crm_fields(&missing).await.unwrap(), 1);
    assert!(etlify.missing_crm_fields().await.unwrap().is_empty());
    let found = problems(&etlify.check_crm_schemas().await.unwrap());
    assert_eq!(
        found,
        [("User".into(), "total".into(), FieldProblemKind::ReadOnly)]
    );
}

/// With the schema known, what is sent takes each property's form
/// (exact request body): a date as midnight UTC in milliseconds, a
/// date-time in milliseconds, a boolean as "true", a multi-select joined
/// by `;`; the match property and a column kept as it is are untouched.
#[tokio::test]
async fn schema_values_are_sent_in_the_form_of_each_hubspot_property() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let db = database().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/properties/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            property("email", "string", "text"),
            property("birthday", "date", "date"),
            property("signed_up", "datetime", "date"),
            property("vip", "bool", "booleancheckbox"),
            property("tags", "enumeration", "checkbox"),
            property("kept", "date", "date"),
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETE",
            "results": [{"id": "501", "properties": {"email": "ada@example.com"}, "new": true}]})),
        )
        .mount(&server)
        .await;
    let payload = SqlPayload::new(
        "SELECT id, email, '2024-05-06' AS birthday, '2024-05-06T07:08:09.5Z' AS signed_up, \
         active AS vip, '[\"a\",\"b\"]' AS tags, '2024-05-06' AS kept FROM users",
    )
    .column_type("tags", ColumnType::Json)
    .column_type("vip", ColumnType::Boolean);
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot_at(&server.uri())).value_as_is("contacts", "kept")],
        vec![users("hubspot", "contacts", payload)],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 1, "{stats:?}");
    let requests = server.received_requests().await.unwrap();
    let upsert = requests
        .iter()
        .find(|r| r.url.path().ends_with("/batch/upsert"))
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&upsert.body).unwrap();
    assert_eq!(
        body["inputs"][0]["properties"],
        json!({"email": "ada@example.com", "birthday": 1_714_953_600_000_i64,
            "signed_up": 1_714_979_289_500_i64, "vip": "true", "tags": "a;b", "kept": "2024-05-06"}),
        "{body}"
    );
    assert_eq!(body["inputs"][0]["id"], "ada@example.com");
}

/// A per-record sync before any batch run (`etlify sync-record`, a
/// worker's first record job: both learn the schema first) sends values
/// in the CRM's form too: the object type's schema is read once, then
/// every record is rendered as a batch run renders it; with
/// `schema_check = skip` it is never read.
#[tokio::test]
async fn schema_a_per_record_sync_renders_values_before_any_batch_run() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let db = database().await;
    let grace = db.insert_user("grace@example.com", None).await;
    let ada: i64 = db
        .scalar_i64("SELECT id FROM users WHERE email = 'ada@example.com'")
        .await;
    for check in [SchemaCheck::Auto, SchemaCheck::Skip] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/crm/v3/properties/contacts"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
                property("email", "string", "text"),
                property("birthday", "date", "date"),
            ]})))
            .expect(if check == SchemaCheck::Skip { 0 } else { 1 })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETE",
                "results": [{"id": "501", "properties": {"email": "x@example.com"}, "new": true}]})))
            .mount(&server)
            .await;
        let payload = SqlPayload::new("SELECT id, email, '2024-05-06' AS birthday FROM users");
        let etlify = engine(
            &db,
            vec![Crm::new("hubspot", hubspot_at(&server.uri())).schema_check(check)],
            vec![users("hubspot", "contacts", payload)],
        )
        .await;
        for id in [ada, grace] {
            etlify.learn_crm_schema("hubspot", "User").await.unwrap();
            etlify.sync("hubspot", "User", id).await.unwrap();
        }
        let requests = server.received_requests().await.unwrap();
        let sent: Vec<serde_json::Value> = requests
            .iter()
            .filter(|r| r.method.as_str() != "GET" && !r.url.path().ends_with("/search"))
            .map(|r| {
                let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                let properties = match body.get("inputs") {
                    Some(inputs) => inputs[0]["properties"].clone(),
                    None => body["properties"].clone(),
                };
                properties["birthday"].clone()
            })
            .collect();
        let expected = if check == SchemaCheck::Skip {
            json!("2024-05-06")
        } else {
            json!(1_714_953_600_000_i64)
        };
        let bodies: Vec<String> = requests
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.method,
                    r.url.path(),
                    String::from_utf8_lossy(&r.body)
                )
            })
            .collect();
        assert_eq!(sent, [expected.clone(), expected], "{check:?}: {bodies:#?}");
        db.exec("DELETE FROM crm_synchronisations").await;
    }
}

/// `plan --diff` shows values as the CRM would receive them: with the
/// schema read (a read, nothing written), a date in HubSpot's
/// milliseconds beside the payload's own text.
#[tokio::test]
async fn schema_plan_diff_shows_values_in_the_crms_form() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let db = database().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/properties/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            property("email", "string", "text"),
            property("birthday", "date", "date"),
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let payload = SqlPayload::new("SELECT id, email, '2024-05-06' AS birthday FROM users");
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot_at(&server.uri()))],
        vec![users("hubspot", "contacts", payload)],
    )
    .await;
    let diffs = etlify.plan_diff("hubspot", "User", 5).await.unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(
        diffs[0].payload.as_ref().unwrap()["birthday"],
        json!("2024-05-06")
    );
    assert_eq!(
        diffs[0].sent.as_ref().unwrap()["birthday"],
        json!(1_714_953_600_000_i64)
    );
    assert_eq!(
        diffs[0].sent.as_ref().unwrap()["email"],
        json!("ada@example.com"),
        "the match property as it is"
    );
    let writes = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .count();
    assert_eq!(writes, 0, "a plan sends nothing");
}

/// Rendering comes after the digest: records synced while values were
/// sent as they are stay in sync once they are rendered (nothing is sent
/// again), and a record that changes is sent in the property's form.
#[tokio::test]
async fn schema_rendering_leaves_the_digest_alone() {
    let db = database().await;
    let config = SandboxConfig::from_json(
        &json!({"hubspot": {"rate_limits": {"enabled": false}, "object_types": {"contacts": {
            "type_id": "0-1", "unique_properties": ["email"],
            "properties": {"email": {}, "birthday": {"type": "datetime"}}
        }}}})
        .to_string(),
    )
    .unwrap();
    let sandbox = Sandbox::start(config).await.unwrap();
    let payload = || SqlPayload::new("SELECT id, email, '2024-05-06' AS birthday FROM users");
    let crm =
        |render: bool| Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V3)).render_values(render);
    let as_is = engine(
        &db,
        vec![crm(false)],
        vec![users("hubspot", "contacts", payload())],
    )
    .await;
    assert_eq!(
        as_is
            .batch_sync(&BatchSyncOptions::new())
            .await
            .unwrap()
            .outcomes
            .synced,
        1
    );
    let stored = |sandbox: &RunningSandbox| {
        sandbox.admin().hubspot_objects("contacts").unwrap()[0].properties["birthday"].clone()
    };
    assert_eq!(stored(&sandbox), "2024-05-06");

    let rendered = engine(
        &db,
        vec![crm(true)],
        vec![users("hubspot", "contacts", payload())],
    )
    .await;
    let stats = rendered
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(
        (stats.outcomes.synced, stats.outcomes.not_modified),
        (0, 1),
        "{stats:?}"
    );
    assert_eq!(stored(&sandbox), "2024-05-06", "nothing re-sent");

    db.exec("UPDATE users SET email = 'ada@example.org'").await;
    let id = db.scalar_i64("SELECT id FROM users").await;
    db.touch("users", id).await;
    let stats = rendered.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 1, "{stats:?}");
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    let changed = contacts
        .iter()
        .find(|c| c.properties["email"] == "ada@example.org")
        .unwrap();
    assert_eq!(changed.properties["birthday"], "1714953600000");
}

/// Airtable: what is sent takes each field's type (exact request body):
/// a number into a text field as a string, a decimal string into a number
/// field as a number, a timestamp into a date field as its day, a
/// `;`-separated string into a multi-select as a list.
#[tokio::test]
async fn schema_values_are_sent_in_the_form_of_each_airtable_field() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let db = database().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v0/meta/bases/{BASE}/tables")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"tables": [{
        "id": "tblPeople00000001", "name": "People", "fields": [
            {"id": "fld1", "name": "email", "type": "email"},
            {"id": "fld2", "name": "code", "type": "singleLineText"},
            {"id": "fld3", "name": "price", "type": "currency"},
            {"id": "fld4", "name": "joined", "type": "date"},
            {"id": "fld5", "name": "tags", "type": "multipleSelects",
                "options": {"choices": [{"name": "a"}, {"name": "b"}]}}
        ]}]})))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v0/{BASE}/People")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "records": [{"id": "recAbCdEf01234567", "createdTime": "2024-05-06T07:08:09.000Z",
                "fields": {"email": "ada@example.com"}}],
            "createdRecords": ["recAbCdEf01234567"], "updatedRecords": []})))
        .mount(&server)
        .await;
    let adapter = AirtableAdapter::new(
        AirtableConfig::new(DEFAULT_AIRTABLE_TOKEN, BASE).base_url(server.uri()),
    )
    .unwrap();
    let payload = SqlPayload::new(
        "SELECT id, email, 42 AS code, '12.50' AS price, '2024-05-06T07:08:09Z' AS joined, \
         'a;b' AS tags FROM users",
    );
    let etlify = engine(
        &db,
        vec![Crm::new("airtable", Arc::new(adapter))],
        vec![users("airtable", "People", payload)],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 1, "{stats:?}");
    let requests = server.received_requests().await.unwrap();
    let upsert = requests
        .iter()
        .find(|r| r.method.as_str() == "PATCH")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&upsert.body).unwrap();
    assert_eq!(
        body["records"][0]["fields"],
        json!({"email": "ada@example.com", "code": "42", "price": 12.5,
            "joined": "2024-05-06", "tags": ["a", "b"]}),
        "{body}"
    );
}
