//! The tests of `links` that run on each backend. This file is compiled
//! twice, as `links::sqlite` and `links::postgres` (`mod.rs`); `BACKEND`
//! is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

async fn setup() -> (TestDb, RunningSandbox) {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = Sandbox::start(sandbox_config()).await.unwrap();
    (db, sandbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_a_user_is_synced_with_its_company_association() {
    let (db, sandbox) = setup().await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("ada@acme.example", Some(company)).await;
    let etlify = hubspot_engine(&db, &sandbox).await;

    sync_all(&etlify).await;

    let (user_crm, company_crm) = (
        crm_id(&etlify, "User", user).await,
        crm_id(&etlify, "Company", company).await,
    );
    assert_eq!(
        pairs(&sandbox, "contacts", "companies"),
        [(user_crm, company_crm)]
    );
    let association = &sandbox.admin().hubspot_associations()[0];
    assert_eq!(
        (association.category.as_str(), association.type_id),
        ("HUBSPOT_DEFINED", 279),
        "HubSpot's default contact-to-company type"
    );
    assert_eq!(link_rows(&db).await, 1);

    // Nothing changed: nothing sent.
    sandbox.admin().reset(etlify_sandbox::ResetScope::Log);
    db.touch("users", user).await;
    sync_all(&etlify).await;
    assert_eq!(
        sandbox.admin().request_log().total,
        0,
        "no request when nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_a_changed_company_moves_the_association_without_resending_properties() {
    let (db, sandbox) = setup().await;
    let (first, second) = two_companies(&db).await;
    let user = db.insert_user("ada@acme.example", Some(first)).await;
    let etlify = hubspot_engine(&db, &sandbox).await;
    sync_all(&etlify).await;
    let user_crm = crm_id(&etlify, "User", user).await;
    let second_crm = crm_id(&etlify, "Company", second).await;

    sandbox.admin().reset(etlify_sandbox::ResetScope::Log);
    move_user(&db, user, second).await;
    sync_all(&etlify).await;

    assert_eq!(
        pairs(&sandbox, "contacts", "companies"),
        [(user_crm, second_crm)],
        "the old association removed, the new one made"
    );
    let log = sandbox.admin().request_log();
    assert_eq!(log.count("POST", ARCHIVE), 1, "{:?}", log.endpoints);
    assert_eq!(log.count("POST", ASSOCIATE), 1, "{:?}", log.endpoints);
    assert_eq!(
        log.count("POST", CONTACT_UPSERT) + log.count("POST", CONTACT_UPDATE),
        0,
        "no property re-sent: {:?}",
        log.endpoints
    );
    assert_eq!(link_rows(&db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_a_user_waits_for_its_unsynced_company_then_both_are_linked() {
    let (db, sandbox) = setup().await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("ada@acme.example", Some(company)).await;
    let etlify = hubspot_engine(&db, &sandbox).await;

    // The user alone: it waits for its company, which is synced, then it.
    etlify.sync("hubspot", "User", user).await.unwrap();

    let company_crm = crm_id(&etlify, "Company", company).await;
    let user_crm = crm_id(&etlify, "User", user).await;
    assert_eq!(
        pairs(&sandbox, "contacts", "companies"),
        [(user_crm, company_crm)]
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_pending_syncs")
            .await,
        0,
        "nothing left waiting"
    );
}

/// Two deals linked to users through the HABTM join table `deals_users`
/// (big: ada and bob; small: ada), synced twice: the engine, ada's and
/// bob's ids.
async fn habtm_deals(db: &TestDb, sandbox: &RunningSandbox) -> (Etlify, i64, i64) {
    let ts = if db.is_postgres() {
        "timestamp(6) without time zone"
    } else {
        "datetime(6)"
    };
    db.exec(&format!(
        "CREATE TABLE deals (id bigint PRIMARY KEY, dealname varchar, created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
    ))
    .await;
    db.exec("CREATE TABLE deals_users (deal_id bigint NOT NULL, user_id bigint NOT NULL)")
        .await;
    let now = db.setup_stamp_sql();
    db.exec(&format!(
        "INSERT INTO deals VALUES (1, 'big', {now}, {now}), (2, 'small', {now}, {now})"
    ))
    .await;
    let ada = db.insert_user("ada@acme.example", None).await;
    let bob = db.insert_user("bob@acme.example", None).await;
    db.exec(&format!(
        "INSERT INTO deals_users VALUES (1, {ada}), (1, {bob}), (2, {ada})"
    ))
    .await;
    let deals = Model::new("Deal", "deals").bind(
        "hubspot",
        Binding::new("deals", "")
            .external_id("etlify_id")
            .payload(SqlPayload::new("SELECT id, dealname FROM deals"))
            .link(Link::join_table(
                "User",
                "deals_users",
                "deal_id",
                "user_id",
            )),
    );
    let etlify = engine(
        db,
        vec![hubspot(sandbox)],
        vec![companies("hubspot"), users("hubspot"), deals],
    )
    .await;
    sync_all(&etlify).await;
    sync_all(&etlify).await;
    (etlify, ada, bob)
}

/// The (deal, contact) associations in the sandbox, sorted.
fn deal_contacts(sandbox: &RunningSandbox) -> Vec<(String, String)> {
    let mut linked = pairs(sandbox, "deals", "contacts");
    linked.sort();
    linked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_habtm_deals_are_linked_to_each_of_their_contacts() {
    let (db, sandbox) = setup().await;
    let (etlify, ada, bob) = habtm_deals(&db, &sandbox).await;
    let (ada_crm, bob_crm) = (
        crm_id(&etlify, "User", ada).await,
        crm_id(&etlify, "User", bob).await,
    );
    let (big, small) = (
        crm_id(&etlify, "Deal", 1).await,
        crm_id(&etlify, "Deal", 2).await,
    );
    let mut expected = vec![
        (big.clone(), ada_crm.clone()),
        (big, bob_crm),
        (small, ada_crm),
    ];
    expected.sort();
    assert_eq!(deal_contacts(&sandbox), expected);
    assert_eq!(link_rows(&db).await, 3);
}

/// A row added to or removed from a HABTM join table moves no timestamp
/// (Rails cannot touch through one), and the deal's payload is the same:
/// an ordinary run does not see it, the complete check (every
/// `complete_check_interval`, an hour by default, or `sync --complete`)
/// compares the join rows with what was linked: the new association is
/// made and the old one removed, nothing lost; the next complete check
/// finds nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_a_join_row_changed_without_a_touch_is_found_by_the_complete_check() {
    let (db, sandbox) = setup().await;
    let (etlify, ada, bob) = habtm_deals(&db, &sandbox).await;
    db.exec(&format!("INSERT INTO deals_users VALUES (2, {bob})"))
        .await;
    db.exec(&format!(
        "DELETE FROM deals_users WHERE deal_id = 1 AND user_id = {ada}"
    ))
    .await;
    let before = deal_contacts(&sandbox);
    sync_all(&etlify).await;
    assert_eq!(
        deal_contacts(&sandbox),
        before,
        "no timestamp moved: not seen yet"
    );

    let complete = || async {
        etlify
            .batch_sync(&BatchSyncOptions::new().complete(true))
            .await
            .unwrap()
    };
    let stats = complete().await;
    assert_eq!((stats.errors, stats.outcomes.synced), (0, 2), "{stats:?}");
    let (ada_crm, bob_crm) = (
        crm_id(&etlify, "User", ada).await,
        crm_id(&etlify, "User", bob).await,
    );
    let (big, small) = (
        crm_id(&etlify, "Deal", 1).await,
        crm_id(&etlify, "Deal", 2).await,
    );
    let mut expected = vec![
        (big, bob_crm.clone()),
        (small.clone(), ada_crm),
        (small, bob_crm),
    ];
    expected.sort();
    assert_eq!(deal_contacts(&sandbox), expected);
    assert_eq!(link_rows(&db).await, 3);
    let again = complete().await;
    assert_eq!((again.errors, again.outcomes.synced), (0, 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_a_lost_association_response_is_retried_without_a_duplicate() {
    let (db, sandbox) = setup().await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("ada@acme.example", None).await;
    let etlify = hubspot_engine(&db, &sandbox).await;
    sync_all(&etlify).await;
    assert!(sandbox.admin().hubspot_associations().is_empty());

    // The next request is the association alone; its answer is lost
    // after the sandbox made it.
    move_user(&db, user, company).await;
    sandbox.admin().reset(etlify_sandbox::ResetScope::Log);
    sandbox
        .admin()
        .set_faults(
            TargetApi::Hubspot,
            FaultConfig {
                drop_next: 1,
                drop_after_handling: true,
                ..FaultConfig::default()
            },
        )
        .unwrap();
    sync_all(&etlify).await;

    let log = sandbox.admin().request_log();
    let associate = log
        .endpoints
        .iter()
        .find(|e| e.route == ASSOCIATE)
        .unwrap_or_else(|| panic!("{:?}", log.endpoints));
    assert_eq!(
        associate.count, 2,
        "sent again after the lost answer: {associate:?}"
    );
    assert_eq!(
        pairs(&sandbox, "contacts", "companies"),
        [(
            crm_id(&etlify, "User", user).await,
            crm_id(&etlify, "Company", company).await
        )],
        "one association, no duplicate"
    );
    assert_eq!(sandbox.admin().hubspot_associations().len(), 1);
    assert_eq!(link_rows(&db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_two_engines_linking_at_once_make_no_duplicate() {
    let (db, sandbox) = setup().await;
    let company = db.insert_company("acme").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(
            db.insert_user(&format!("user{n}@acme.example"), Some(company))
                .await,
        );
    }
    let models = || vec![companies("hubspot"), users("hubspot")];
    let first = engine(&db, vec![hubspot(&sandbox)], models()).await;
    let second = engine(&db, vec![hubspot(&sandbox)], models()).await;
    first.sync("hubspot", "Company", company).await.unwrap();

    let syncs = ids.iter().flat_map(|&id| {
        let (first, second) = (&first, &second);
        [
            Box::pin(async move { first.sync("hubspot", "User", id).await })
                as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
            Box::pin(async move { second.sync("hubspot", "User", id).await }),
        ]
    });
    for outcome in futures_util::future::join_all(syncs).await {
        outcome.unwrap();
    }

    let linked = pairs(&sandbox, "contacts", "companies");
    assert_eq!(
        linked.len(),
        ids.len(),
        "one association per user: {linked:?}"
    );
    assert_eq!(sandbox.admin().hubspot_associations().len(), ids.len());
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", ASSOCIATE),
        u64::try_from(ids.len()).unwrap(),
        "the second engine found each link made and sent none: {:?}",
        log.endpoints
    );
    assert_eq!(link_rows(&db).await, i64::try_from(ids.len()).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_airtable_link_fields_hold_the_target_record_ids() {
    let (db, sandbox) = setup().await;
    let (first, second) = two_companies(&db).await;
    let user = db.insert_user("ada@acme.example", Some(first)).await;
    let etlify = engine(
        &db,
        vec![airtable(&sandbox)],
        vec![companies("airtable"), users("airtable")],
    )
    .await;
    let record_of = |company: i64| {
        let etlify = &etlify;
        async move {
            etlify
                .sync_row("airtable", "Company", company)
                .await
                .unwrap()
                .and_then(|row| row.crm_id)
                .unwrap()
        }
    };
    let user_field = || {
        let records = sandbox.admin().airtable_records(BASE_ID, "Users").unwrap();
        assert_eq!(records.len(), 1);
        records[0].fields.get("Company").cloned()
    };

    sync_all(&etlify).await;
    assert_eq!(
        user_field(),
        Some(serde_json::json!([record_of(first).await]))
    );

    move_user(&db, user, second).await;
    sync_all(&etlify).await;
    assert_eq!(
        user_field(),
        Some(serde_json::json!([record_of(second).await]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_plan_diff_shows_link_changes_next_to_property_changes() {
    let (db, sandbox) = setup().await;
    let (first, second) = two_companies(&db).await;
    let user = db.insert_user("ada@acme.example", Some(first)).await;
    let other = db.insert_user("bob@acme.example", None).await;
    let etlify = hubspot_engine(&db, &sandbox).await;
    sync_all(&etlify).await;

    move_user(&db, user, second).await;
    let third = db.insert_company("initech").await;
    move_user(&db, other, third).await;
    let diffs = etlify.plan_diff("hubspot", "User", 10).await.unwrap();

    let moved = diffs
        .iter()
        .find(|d| d.id.as_int().unwrap() == user)
        .unwrap();
    assert_eq!(moved.change, etlify::PayloadChange::Unchanged);
    let links: Vec<(&str, i64, etlify::LinkChange)> = moved
        .links
        .iter()
        .map(|l| (l.target.as_str(), l.target_id.as_int().unwrap(), l.change))
        .collect();
    assert_eq!(
        links,
        [
            ("Company", second, etlify::LinkChange::Added),
            ("Company", first, etlify::LinkChange::Removed),
        ]
    );
    let waiting = diffs
        .iter()
        .find(|d| d.id.as_int().unwrap() == other)
        .unwrap();
    assert_eq!(waiting.links.len(), 1);
    assert_eq!(
        (
            waiting.links[0].target_id.as_int().unwrap(),
            waiting.links[0].change
        ),
        (third, etlify::LinkChange::Waiting),
        "initech has no CRM id yet"
    );
    assert_eq!(link_rows(&db).await, 1, "plan writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_has_many_and_polymorphic_links_find_their_targets() {
    let (db, sandbox) = setup().await;
    db.exec("ALTER TABLE users ADD COLUMN owner_type varchar")
        .await;
    db.exec("ALTER TABLE users ADD COLUMN owner_id bigint")
        .await;
    let (acme, globex) = two_companies(&db).await;
    let ada = db.insert_user("ada@acme.example", Some(acme)).await;
    let bob = db.insert_user("bob@acme.example", Some(acme)).await;
    // Ada's owner is globex (polymorphic); Bob's owner is not a company.
    db.exec(&format!(
        "UPDATE users SET owner_type = 'Company', owner_id = {globex} WHERE id = {ada}"
    ))
    .await;
    db.exec(&format!(
        "UPDATE users SET owner_type = 'Team', owner_id = {globex} WHERE id = {bob}"
    ))
    .await;
    let companies = Model::new("Company", "companies").bind(
        "hubspot",
        Binding::new("companies", "domain")
            .payload(SqlPayload::new("SELECT id, domain, name FROM companies"))
            .link(Link::has_many("User", "company_id")),
    );
    let users = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email, full_name FROM users"))
            .link(Link::polymorphic("Company", "owner_type", "owner_id")),
    );
    let etlify = engine(&db, vec![hubspot(&sandbox)], vec![companies, users]).await;

    sync_all(&etlify).await;
    sync_all(&etlify).await;

    let (ada_crm, bob_crm) = (
        crm_id(&etlify, "User", ada).await,
        crm_id(&etlify, "User", bob).await,
    );
    let (acme_crm, globex_crm) = (
        crm_id(&etlify, "Company", acme).await,
        crm_id(&etlify, "Company", globex).await,
    );
    let mut employees = pairs(&sandbox, "companies", "contacts");
    employees.sort();
    let mut expected = vec![(acme_crm.clone(), ada_crm.clone()), (acme_crm, bob_crm)];
    expected.sort();
    assert_eq!(employees, expected, "acme has many users");
    assert_eq!(
        pairs(&sandbox, "contacts", "companies"),
        [(ada_crm, globex_crm)],
        "only the owner whose type names a company"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_declaration_mistakes_are_refused_naming_the_link() {
    let (db, sandbox) = setup().await;
    let cases = [
        (
            Link::belongs_to("Firm", "company_id"),
            "not a declared model",
        ),
        (Link::belongs_to("Company", "firm_id"), "firm_id"),
        (
            Link::join_table("Company", "memberships", "user_id", "company_id"),
            "memberships",
        ),
    ];
    for (link, expected) in cases {
        let users = Model::new("User", "users").bind(
            "hubspot",
            Binding::new("contacts", "email")
                .payload(SqlPayload::new("SELECT id, email FROM users"))
                .link(link),
        );
        let error = Etlify::builder(db.store.clone())
            .crm(hubspot(&sandbox))
            .model(companies("hubspot"))
            .model(users)
            .build()
            .await
            .err()
            .unwrap();
        let message = error.to_string();
        assert!(
            message.contains("models.User.crms.hubspot.links[0]") && message.contains(expected),
            "{message}"
        );
    }
    // A target bound to another CRM only.
    let users = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .link(Link::belongs_to("Company", "company_id")),
    );
    let error = Etlify::builder(db.store.clone())
        .crm(hubspot(&sandbox))
        .crm(airtable(&sandbox))
        .model(companies("airtable"))
        .model(users)
        .build()
        .await
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("not bound to `hubspot`"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_state_table_is_a_recorded_reversible_migration_step() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let store = db.store.clone();
    assert!(store.table_columns("etlify_links").await.unwrap().is_some());
    etlify::revert_migration(&store).await.unwrap();
    assert!(
        store.table_columns("etlify_links").await.unwrap().is_none(),
        "reverted with the other sync-state tables"
    );
    let report = etlify::check_schema(&store).await.unwrap();
    assert!(report.to_string().contains("etlify_links"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_rows_are_forgotten_with_their_crms_sync_state() {
    let (db, sandbox) = setup().await;
    let company = db.insert_company("acme").await;
    db.insert_user("ada@acme.example", Some(company)).await;
    let etlify = hubspot_engine(&db, &sandbox).await;
    sync_all(&etlify).await;
    assert_eq!(link_rows(&db).await, 1);

    let forgotten = etlify.forget("hubspot", None).await.unwrap();
    assert!(!forgotten.busy);
    assert_eq!(link_rows(&db).await, 0, "the links went with the sync rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_a_label_named_in_the_declaration_is_read_once_and_used() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let mut config = sandbox_config();
    config
        .hubspot
        .association_labels
        .push(etlify_sandbox::AssociationLabelConfig {
            from_type: "contacts".to_owned(),
            to_type: "companies".to_owned(),
            label: "Decision maker".to_owned(),
            category: "USER_DEFINED".to_owned(),
            type_id: 12,
        });
    let sandbox = Sandbox::start(config).await.unwrap();
    let (acme, globex) = two_companies(&db).await;
    db.insert_user("ada@acme.example", Some(acme)).await;
    db.insert_user("bob@acme.example", Some(globex)).await;
    let users = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .link(Link::belongs_to("Company", "company_id").association_label("Decision maker")),
    );
    let etlify = engine(
        &db,
        vec![hubspot(&sandbox)],
        vec![companies("hubspot"), users],
    )
    .await;

    sync_all(&etlify).await;

    let labelled: Vec<u32> = sandbox
        .admin()
        .hubspot_associations()
        .into_iter()
        .filter(|a| a.category == "USER_DEFINED")
        .map(|a| a.type_id)
        .collect();
    assert_eq!(
        labelled,
        [12, 12],
        "both users linked with the label's type"
    );
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count(
            "GET",
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/labels"
        ),
        1,
        "the label read once: {:?}",
        log.endpoints
    );
    assert_eq!(
        log.count(
            "POST",
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_an_unknown_label_stops_the_run_naming_it() {
    let (db, sandbox) = setup().await;
    let company = db.insert_company("acme").await;
    db.insert_user("ada@acme.example", Some(company)).await;
    let users = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .link(Link::belongs_to("Company", "company_id").association_label("Nobody")),
    );
    let etlify = engine(
        &db,
        vec![hubspot(&sandbox)],
        vec![companies("hubspot"), users],
    )
    .await;
    let message: String = match etlify.batch_sync(&BatchSyncOptions::new()).await {
        Ok(stats) => stats
            .interrupted
            .iter()
            .map(|interruption| interruption.message.clone())
            .collect(),
        Err(error) => error.to_string(),
    };
    assert!(
        message.contains("no association label \"Nobody\" from contacts to companies"),
        "{message}"
    );
    assert!(sandbox.admin().hubspot_associations().is_empty());
}
