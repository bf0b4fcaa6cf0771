//! UUID and text primary keys (issue 31, item 3): an application whose
//! records are keyed by UUIDs (PostgreSQL `uuid`, MySQL `CHAR(36)`,
//! SQLite text) or by texts is synced as one keyed by integers: a first
//! sync, a changed dependency, a sync by key, a queued job, a lease held
//! by another engine.

use std::time::Duration;

use etlify::jobs::{Job, QueueOptions, RecordJob};
use etlify::{
    BatchSyncOptions, Binding, Crm, Dependency, Etlify, FinderPlan, KeyType, Link, MigrateOptions,
    Model, ResourceId, SqlPayload, SyncDispatch, SyncOutcome,
};

use crate::support::adapter::RecordingAdapter;
use crate::support::{engine_on, TestDb};

/// When the application's rows were written, synced, then changed: a sync
/// of today records a later time (as `status/`'s tests stamp them).
const OLD: &str = "2020-01-01 00:00:00.000000";
const SYNCED: &str = "2021-01-01 00:00:00.000000";
const CHANGED: &str = "2022-01-01 00:00:00.000000";

/// The keys of one application: two accounts, four people (the first two
/// in the first account, the third in the second, the fourth in none),
/// each list in ascending order.
struct Keys {
    key_type: KeyType,
    accounts: [&'static str; 2],
    people: [&'static str; 4],
}

const UUIDS: Keys = Keys {
    key_type: KeyType::Uuid,
    accounts: [
        "1b4e28ba-2fa1-4d2b-883f-0016d3cca427",
        "6fa459ea-ee8a-4ca4-894e-db77e160355e",
    ],
    people: [
        "0a7c2c1e-6f2b-4c1b-9a55-3f1d2c4e5b60",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "9c5b94b1-35ad-49bb-b118-8e8fc24abf80",
        "e4eaaaf2-d142-4e0a-a2a3-fb4b1d7c6a0e",
    ],
};

/// The same UUIDs kept as 16 bytes (`key_type = "uuid_binary"`: MySQL
/// `BINARY(16)`, PostgreSQL's `uuid`; SQLite keeps none).
const BINARY_UUIDS: Keys = Keys {
    key_type: KeyType::UuidBinary,
    ..UUIDS
};

const TEXTS: Keys = Keys {
    key_type: KeyType::Text,
    accounts: ["acct-amber", "acct-birch"],
    people: ["person-ada", "person-bob", "person-cy", "person-dee"],
};

/// The column type of `keys` on `db`'s backend, as the application's
/// migrations create it.
fn key_column(db: &TestDb, keys: &Keys) -> &'static str {
    match (keys.key_type, db.is_postgres(), db.is_mysql()) {
        (KeyType::Uuid | KeyType::UuidBinary, true, _) => "uuid",
        (KeyType::UuidBinary, _, true) => "binary(16)",
        (KeyType::Uuid, _, true) => "char(36)",
        (KeyType::Uuid, _, _) => "varchar(36)",
        (_, _, true) => "varchar(64)",
        _ => "varchar",
    }
}

/// `key` as a literal of its column on `db`: a UUID kept as 16 bytes is
/// written as its bytes.
fn literal(db: &TestDb, keys: &Keys, key: &str) -> String {
    match keys.key_type {
        KeyType::UuidBinary if db.is_mysql() => format!("UNHEX(REPLACE('{key}', '-', ''))"),
        _ => format!("'{key}'"),
    }
}

/// `accounts` and `people` keyed by `keys`, stamped [`OLD`], and the
/// sync-state tables made for such keys.
async fn app(db: &TestDb, keys: &Keys) {
    let key = key_column(db, keys);
    let varchar = db.varchar();
    let ts = if db.is_postgres() {
        "timestamp(6) without time zone"
    } else {
        "datetime(6)"
    };
    db.exec(&format!(
        "CREATE TABLE accounts (id {key} NOT NULL PRIMARY KEY, name {varchar}, \
         created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE people (id {key} NOT NULL PRIMARY KEY, email {varchar}, account_id {key}, \
         created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
    ))
    .await;
    for (account, name) in keys.accounts.iter().zip(["Amber", "Birch"]) {
        let account = literal(db, keys, account);
        db.exec(&format!(
            "INSERT INTO accounts (id, name, created_at, updated_at) \
             VALUES ({account}, '{name}', '{OLD}', '{OLD}')"
        ))
        .await;
    }
    let account_of = [
        Some(keys.accounts[0]),
        Some(keys.accounts[0]),
        Some(keys.accounts[1]),
        None,
    ];
    for (i, (person, account)) in keys.people.iter().zip(account_of).enumerate() {
        let account = account.map_or("NULL".to_owned(), |a| literal(db, keys, a));
        let person = literal(db, keys, person);
        db.exec(&format!(
            "INSERT INTO people (id, email, account_id, created_at, updated_at) \
             VALUES ({person}, 'p{i}@x.io', {account}, '{OLD}', '{OLD}')"
        ))
        .await;
    }
    etlify::migrate(&db.store, &MigrateOptions::new().key_type(keys.key_type))
        .await
        .expect("migrate");
}

/// `Person` on `hubspot`, its payload carrying its account's name: stale,
/// and changed, when its account changes.
fn people(keys: &Keys) -> Model {
    Model::new("Person", "people").key_type(keys.key_type).bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new(
                "SELECT p.id, p.email, a.name AS account FROM people p \
                     LEFT JOIN accounts a ON a.id = p.account_id",
            ))
            .dependency(Dependency::belongs_to("accounts", "account_id")),
    )
}

async fn engine(db: &TestDb, keys: &Keys, adapter: &std::sync::Arc<RecordingAdapter>) -> Etlify {
    engine_on(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter.clone())],
        vec![people(keys)],
    )
    .await
}

/// The emails of the upserts from the `from`-th on, sorted.
fn emails_sent(adapter: &RecordingAdapter, from: usize) -> Vec<String> {
    let mut emails: Vec<String> = adapter
        .upserts()
        .iter()
        .skip(from)
        .map(|call| {
            call.payload["email"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    emails.sort();
    emails
}

/// A first sync sends every record and writes a sync row under each key;
/// a change of an account then sends exactly its people.
async fn first_sync_then_a_changed_dependency(db: TestDb, keys: &Keys) {
    app(&db, keys).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(&db, keys, &adapter).await;
    let first = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(first.is_complete(), "{first:?}");
    assert_eq!(
        emails_sent(&adapter, 0),
        ["p0@x.io", "p1@x.io", "p2@x.io", "p3@x.io"]
    );
    let listed = keys
        .people
        .iter()
        .map(|k| literal(&db, keys, k))
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(
        db.scalar_i64(&format!(
            "SELECT COUNT(*) FROM crm_synchronisations WHERE resource_type = 'Person' \
             AND crm_id IS NOT NULL AND resource_id IN ({listed})"
        ))
        .await,
        4,
        "a sync row under each record's key"
    );

    db.exec(&format!(
        "UPDATE crm_synchronisations SET last_synced_at = '{SYNCED}'"
    ))
    .await;
    db.exec(&format!(
        "UPDATE accounts SET name = 'Amber & Co', updated_at = '{CHANGED}' WHERE id = {}",
        literal(&db, keys, keys.accounts[0])
    ))
    .await;
    // The reference plan compares each record's sync time with its
    // account's (the changed-since plan would look after its checkpoint,
    // later than these stamps).
    let second = etlify
        .batch_sync(&BatchSyncOptions::new().plan(FinderPlan::Reference))
        .await
        .unwrap();
    assert!(second.is_complete(), "{second:?}");
    assert_eq!(
        emails_sent(&adapter, 4),
        ["p0@x.io", "p1@x.io"],
        "the changed account's people, and only them"
    );
    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(adapter.upserts().len(), 6, "nothing more: {again:?}");
}

/// A record named by its key as a user types it is synced alone, then
/// found in sync.
async fn a_record_synced_by_its_key(db: TestDb, keys: &Keys) {
    app(&db, keys).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(&db, keys, &adapter).await;
    // A UUID may be typed in capitals; a text key is what it is.
    let typed = match keys.key_type {
        KeyType::Uuid | KeyType::UuidBinary => keys.people[2].to_uppercase(),
        _ => keys.people[2].to_owned(),
    };
    let id = etlify.record_id("Person", &typed).expect("a key of Person");
    let outcome = etlify.sync("hubspot", "Person", id.clone()).await.unwrap();
    assert_eq!(outcome, SyncDispatch::Completed(SyncOutcome::Synced));
    assert_eq!(emails_sent(&adapter, 0), ["p2@x.io"]);
    let again = etlify.sync("hubspot", "Person", id).await.unwrap();
    assert_eq!(again, SyncDispatch::Completed(SyncOutcome::NotModified));
    assert!(etlify.record_id("Person", "").is_none());
}

/// A per-record sync of a record inside the page another engine (another
/// pool, as another process has) is sending waits for that page; the
/// record is then sent once.
async fn a_record_in_another_engines_page_waits_for_it(db: TestDb, keys: &Keys) {
    app(&db, keys).await;
    let adapter = RecordingAdapter::new();
    let paging = engine(&db, keys, &adapter).await;
    let other = engine_on(
        db.another_store(2).await,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![people(keys)],
    )
    .await;
    let answer = adapter.hold_upserts();
    let run = {
        let paging = paging.clone();
        tokio::spawn(async move { paging.batch_sync(&BatchSyncOptions::new()).await })
    };
    adapter.upserts_reaching(1).await;
    let id = other
        .record_id("Person", keys.people[1])
        .expect("a key of Person");
    let waiting = tokio::spawn(async move { other.sync("hubspot", "Person", id).await });
    // The sync holds its record's lease beside the page's, then waits for
    // the page to end: once its row is there, it is waiting.
    crate::support::worker::eventually(
        Duration::from_secs(10),
        Duration::from_millis(10),
        "the per-record sync holds its record's lease",
        || async {
            db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases")
                .await
                == 2
        },
    )
    .await;
    assert!(!waiting.is_finished(), "a record in the page waits");
    answer.open();
    let done = run.await.unwrap().unwrap();
    assert!(done.is_complete(), "{done:?}");
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("synced once the page is over")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, SyncDispatch::Completed(SyncOutcome::NotModified));
    assert_eq!(adapter.upserts().len(), 4, "each record sent once");
}

/// A model over these keys that declares no key type (the default,
/// `integer`), or the other non-integer one, is refused when the engine
/// is built: the error names `models.Person`'s `key_type` and the type the
/// key column fits, before anything runs.
async fn a_misdeclared_key_type_is_refused_at_build(db: TestDb, keys: &Keys) {
    app(&db, keys).await;
    let adapter = RecordingAdapter::new();
    let sqlite = !db.is_postgres() && !db.is_mysql();
    let wrong: &[KeyType] = match keys.key_type {
        // A SQLite text takes text and UUID keys; `uuid_binary` is refused
        // there whatever the column.
        _ if sqlite => &[KeyType::Integer],
        // UUIDs kept as text take text keys too; bytes do not.
        KeyType::Uuid if db.is_mysql() => &[KeyType::Integer, KeyType::UuidBinary],
        KeyType::Uuid | KeyType::UuidBinary => &[KeyType::Integer, KeyType::Text],
        _ => &[KeyType::Integer, KeyType::UuidBinary],
    };
    // PostgreSQL's `uuid` column is what `uuid` names there.
    let fitting = match keys.key_type {
        KeyType::UuidBinary if db.is_postgres() => KeyType::Uuid,
        key_type => key_type,
    };
    for &declared in wrong {
        let error = key_type_refusal(&db, people(keys).key_type(declared), &adapter).await;
        assert!(
            error
                .expected()
                .starts_with(&format!("must be \"{fitting}\"")),
            "{error}"
        );
        assert!(error.expected().contains("people.id"), "{error}");
    }
    assert!(adapter.upserts().is_empty(), "nothing ran");
}

/// The error refusing to build an engine of `model` on `db`: a
/// configuration error at `models.Person`'s `key_type`.
async fn key_type_refusal(
    db: &TestDb,
    model: Model,
    adapter: &std::sync::Arc<RecordingAdapter>,
) -> etlify::ConfigError {
    let error = crate::support::builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter.clone())],
        vec![model],
    )
    .build()
    .await
    .expect_err("the key type is refused");
    let etlify::Error::Config(error) = error else {
        panic!("a configuration error, not {error:?}");
    };
    assert_eq!(
        (error.location(), error.field()),
        ("models.Person", "key_type"),
        "{error}"
    );
    error
}

/// `Account` on the sandbox's HubSpot companies (by its name as domain),
/// and `Person` as contacts linked to their account through `link`: an
/// association between records keyed by `keys`.
fn linked(keys: &Keys, link: Link) -> Vec<Model> {
    let accounts = Model::new("Account", "accounts")
        .key_type(keys.key_type)
        .bind(
            "hubspot",
            Binding::new("companies", "domain")
                .payload(SqlPayload::new("SELECT id, name AS domain FROM accounts")),
        );
    let people = Model::new("Person", "people").key_type(keys.key_type).bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM people"))
            .link(link),
    );
    vec![accounts, people]
}

/// The sandbox's contact-to-company associations, as sorted pairs of
/// HubSpot ids.
fn contacts_with_companies(sandbox: &etlify_sandbox::RunningSandbox) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = sandbox
        .admin()
        .hubspot_associations()
        .into_iter()
        .filter(|a| a.from_type == "contacts" && a.to_type == "companies")
        .map(|a| (a.from_id, a.to_id))
        .collect();
    pairs.sort();
    pairs
}

/// The HubSpot id of the `model` record keyed `key`.
async fn crm_id_of(etlify: &Etlify, model: &str, key: &str) -> String {
    let id = etlify.record_id(model, key).expect("a key of the model");
    etlify
        .sync_row("hubspot", model, id)
        .await
        .unwrap()
        .and_then(|row| row.crm_id)
        .unwrap_or_else(|| panic!("{model} {key} has no CRM id"))
}

/// The (contact, company) pairs `keys` should be associated as, by their
/// HubSpot ids, sorted: each person with an account, the `i`-th person's
/// account being `accounts[i]`.
async fn expected_pairs(
    etlify: &Etlify,
    keys: &Keys,
    accounts: [Option<usize>; 4],
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (person, account) in keys.people.iter().zip(accounts) {
        if let Some(account) = account {
            pairs.push((
                crm_id_of(etlify, "Person", person).await,
                crm_id_of(etlify, "Account", keys.accounts[account]).await,
            ));
        }
    }
    pairs.sort();
    pairs
}

/// People keyed by `keys` are associated with their accounts in HubSpot
/// on a first sync (a link row under each pair of keys); a person moved to
/// the other account has its association moved, and only it.
async fn people_are_associated_with_their_accounts(db: TestDb, keys: &Keys) {
    use etlify_sandbox::Sandbox;
    app(&db, keys).await;
    let sandbox = Sandbox::start(crate::links::sandbox_config())
        .await
        .unwrap();
    let etlify = engine_on(
        db.store.clone(),
        vec![crate::links::hubspot(&sandbox)],
        linked(keys, Link::belongs_to("Account", "account_id")),
    )
    .await;
    let associated = || contacts_with_companies(&sandbox);
    let first = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(first.is_complete() && first.errors == 0, "{first:?}");
    assert_eq!(
        associated(),
        expected_pairs(&etlify, keys, [Some(0), Some(0), Some(1), None]).await
    );
    let linked_to = |person: &str, account: &str| {
        format!(
            "SELECT COUNT(*) FROM etlify_links WHERE from_id = {} AND to_id = {}",
            literal(&db, keys, person),
            literal(&db, keys, account)
        )
    };
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM etlify_links").await, 3);
    assert_eq!(
        db.scalar_i64(&linked_to(keys.people[0], keys.accounts[0]))
            .await,
        1,
        "a link row under the keys of both records"
    );

    db.exec(&format!(
        "UPDATE crm_synchronisations SET last_synced_at = '{SYNCED}'"
    ))
    .await;
    db.exec(&format!(
        "UPDATE people SET account_id = {}, updated_at = '{CHANGED}' WHERE id = {}",
        literal(&db, keys, keys.accounts[1]),
        literal(&db, keys, keys.people[0])
    ))
    .await;
    let second = etlify
        .batch_sync(&BatchSyncOptions::new().plan(FinderPlan::Reference))
        .await
        .unwrap();
    assert!(second.is_complete() && second.errors == 0, "{second:?}");
    assert_eq!(
        associated(),
        expected_pairs(&etlify, keys, [Some(1), Some(0), Some(1), None]).await,
        "the moved person's association, and only it, moved"
    );
    assert_eq!(
        db.scalar_i64(&linked_to(keys.people[0], keys.accounts[1]))
            .await,
        1
    );
    assert_eq!(db.scalar_i64("SELECT COUNT(*) FROM etlify_links").await, 3);
}

/// People linked to accounts through a join table keyed by `keys`: each
/// membership is an association on a first sync; a membership added and
/// one removed without touching either record are found by the complete
/// check (the join rows compared with `etlify_links` under those keys),
/// the two people synced, their associations moved, and a second check
/// finds nothing more.
async fn members_are_associated_through_a_join_table(db: TestDb, keys: &Keys) {
    use etlify_sandbox::Sandbox;
    app(&db, keys).await;
    let key = key_column(&db, keys);
    db.exec(&format!(
        "CREATE TABLE memberships (person_id {key} NOT NULL, account_id {key} NOT NULL)"
    ))
    .await;
    let membership = |person: usize, account: usize| {
        format!(
            "({}, {})",
            literal(&db, keys, keys.people[person]),
            literal(&db, keys, keys.accounts[account])
        )
    };
    db.exec(&format!(
        "INSERT INTO memberships (person_id, account_id) VALUES {}, {}, {}",
        membership(0, 0),
        membership(1, 0),
        membership(2, 1)
    ))
    .await;
    let sandbox = Sandbox::start(crate::links::sandbox_config())
        .await
        .unwrap();
    let etlify = engine_on(
        db.store.clone(),
        vec![crate::links::hubspot(&sandbox)],
        linked(
            keys,
            Link::join_table("Account", "memberships", "person_id", "account_id"),
        ),
    )
    .await;
    let associated = || contacts_with_companies(&sandbox);
    let pairs_of = |members: &'static [(usize, usize)]| {
        let etlify = &etlify;
        async move {
            let mut pairs = Vec::new();
            for (person, account) in members {
                pairs.push((
                    crm_id_of(etlify, "Person", keys.people[*person]).await,
                    crm_id_of(etlify, "Account", keys.accounts[*account]).await,
                ));
            }
            pairs.sort();
            pairs
        }
    };
    let first = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(first.is_complete() && first.errors == 0, "{first:?}");
    assert_eq!(associated(), pairs_of(&[(0, 0), (1, 0), (2, 1)]).await);

    // Changed in the join table only: no timestamp moves.
    db.exec(&format!(
        "INSERT INTO memberships (person_id, account_id) VALUES {}",
        membership(0, 1)
    ))
    .await;
    db.exec(&format!(
        "DELETE FROM memberships WHERE person_id = {} AND account_id = {}",
        literal(&db, keys, keys.people[1]),
        literal(&db, keys, keys.accounts[0])
    ))
    .await;
    let complete = || async {
        etlify
            .batch_sync(&BatchSyncOptions::new().complete(true))
            .await
            .unwrap()
    };
    let checked = complete().await;
    assert_eq!(
        (checked.errors, checked.outcomes.synced),
        (0, 2),
        "{checked:?}"
    );
    assert_eq!(
        associated(),
        pairs_of(&[(0, 0), (0, 1), (2, 1)]).await,
        "the added membership associated, the removed one no more"
    );
    let again = complete().await;
    assert_eq!((again.errors, again.outcomes.synced), (0, 0), "{again:?}");
}

/// Sync-state tables made for integer keys (migrated before the models
/// declared their key type): on PostgreSQL and MySQL, whose columns keep
/// their type, the engine is refused naming the column and the commands
/// that make the tables again (a revert, then a migration for the keys),
/// after which it builds; SQLite's columns keep any key, and it syncs.
async fn state_tables_made_for_integers(db: TestDb, keys: &Keys) {
    app(&db, keys).await;
    etlify::revert_migration(&db.store).await.expect("revert");
    etlify::migrate(&db.store, &MigrateOptions::new())
        .await
        .expect("migrate for integer keys");
    let adapter = RecordingAdapter::new();
    if !db.is_postgres() && !db.is_mysql() {
        let etlify = engine(&db, keys, &adapter).await;
        let first = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
        assert!(first.is_complete() && first.errors == 0, "{first:?}");
        assert_eq!(adapter.upserts().len(), 4);
        return;
    }
    let error = key_type_refusal(&db, people(keys), &adapter).await;
    assert!(
        error
            .expected()
            .contains("`crm_synchronisations.resource_id`")
            && error
                .expected()
                .contains("run `etlify migrate --revert` then `etlify migrate`"),
        "{error}"
    );
    etlify::revert_migration(&db.store).await.expect("revert");
    etlify::migrate(&db.store, &MigrateOptions::new().key_type(keys.key_type))
        .await
        .expect("migrate for the keys");
    let etlify = engine(&db, keys, &adapter).await;
    let first = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(first.is_complete() && first.errors == 0, "{first:?}");
    assert_eq!(adapter.upserts().len(), 4);
}

/// A queue of its own on `db`, polled often.
async fn queue_of(db: &TestDb) -> etlify::jobs::JobQueue {
    db.job_queue(
        QueueOptions::new()
            .poll_interval(Duration::from_millis(50))
            .heartbeat(Duration::from_secs(1)),
    )
    .await
}

/// A record job of a non-integer key, requested as the application does,
/// is queued and run by a worker.
async fn a_queued_job_runs(db: TestDb, keys: &Keys) {
    use crate::support::worker::{eventually, start_worker};
    app(&db, keys).await;
    let queue = queue_of(&db).await;
    let adapter = RecordingAdapter::new();
    let etlify = crate::support::builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter.clone())],
        vec![people(keys)],
    )
    .queue(queue.clone())
    .build()
    .await
    .expect("engine builds");
    let id = etlify
        .record_id("Person", keys.people[3])
        .expect("a key of Person");
    let requested = etlify.sync("hubspot", "Person", id).await.unwrap();
    assert!(
        matches!(requested, SyncDispatch::Enqueued(_)),
        "{requested:?}"
    );
    assert!(adapter.upserts().is_empty(), "nothing ran inline");
    let worker = start_worker(&etlify, &queue, etlify::WorkerOptions::new().interval(None));
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(50),
        "the job ran",
        || async { emails_sent(&adapter, 0) == ["p3@x.io"] },
    )
    .await;
    worker.stop().await;
}

/// A record job queued in the form jobs had before non-integer keys (an
/// integer `id`, no `"v"`) still runs, in an application keyed by
/// integers.
async fn a_job_queued_in_the_first_form_runs(db: TestDb) {
    use crate::support::worker::{engine_with_queue, eventually, start_worker};
    let db = db.with_app_schema().await;
    let user = db.insert_user("seven@x.io", None).await;
    let queue = queue_of(&db).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    let queued: Job = serde_json::from_value(serde_json::json!(
        {"job": "record", "crm": "hubspot", "model": "User", "id": user, "attempt": 1}
    ))
    .unwrap();
    assert_eq!(
        queued,
        Job::Record(RecordJob {
            crm: "hubspot".into(),
            model: "User".into(),
            id: ResourceId::new(user),
            attempt: 1,
        })
    );
    queue.push(queued, Duration::ZERO).await.unwrap();
    let worker = start_worker(&etlify, &queue, etlify::WorkerOptions::new().interval(None));
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(50),
        "the job ran",
        || async { emails_sent(&adapter, 0) == ["seven@x.io"] },
    )
    .await;
    worker.stop().await;
}

// The queued-job tests, on each database's job queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_queued_job_runs_on_sqlite() {
    a_queued_job_runs(TestDb::sqlite().await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_queued_job_runs_on_postgres() {
    a_queued_job_runs(TestDb::postgres().await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_a_queued_job_runs_on_sqlite() {
    a_queued_job_runs(TestDb::sqlite().await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_a_queued_job_runs_on_postgres() {
    a_queued_job_runs(TestDb::postgres().await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_job_queued_in_the_first_form_runs_on_sqlite() {
    a_job_queued_in_the_first_form_runs(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_job_queued_in_the_first_form_runs_on_postgres() {
    a_job_queued_in_the_first_form_runs(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_queued_job_runs_on_mysql() {
    a_queued_job_runs(TestDb::mysql().await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_a_queued_job_runs_on_mysql() {
    a_queued_job_runs(TestDb::mysql().await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_job_queued_in_the_first_form_runs_on_mysql() {
    a_job_queued_in_the_first_form_runs(TestDb::mysql().await).await;
}

// UUIDs kept as 16 bytes: MySQL's `BINARY(16)`, PostgreSQL's `uuid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_first_sync_then_a_changed_dependency_sends_exactly_its_records_on_mysql() {
    first_sync_then_a_changed_dependency(TestDb::mysql().await, &BINARY_UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_first_sync_then_a_changed_dependency_sends_exactly_its_records_on_postgres() {
    first_sync_then_a_changed_dependency(TestDb::postgres().await, &BINARY_UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_a_record_is_synced_by_its_key_on_mysql() {
    a_record_synced_by_its_key(TestDb::mysql().await, &BINARY_UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_a_record_is_synced_by_its_key_on_postgres() {
    a_record_synced_by_its_key(TestDb::postgres().await, &BINARY_UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_a_misdeclared_key_type_is_refused_at_build_on_mysql() {
    a_misdeclared_key_type_is_refused_at_build(TestDb::mysql().await, &BINARY_UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_a_queued_job_runs_on_mysql() {
    a_queued_job_runs(TestDb::mysql().await, &BINARY_UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_people_are_associated_with_their_accounts_on_mysql() {
    people_are_associated_with_their_accounts(TestDb::mysql().await, &BINARY_UUIDS).await;
}

/// SQLite keeps UUID keys as text: a model declaring `uuid_binary` there
/// is refused when the engine is built, saying to declare `uuid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_binary_is_refused_on_sqlite() {
    let db = TestDb::sqlite().await;
    app(&db, &UUIDS).await;
    let error = key_type_refusal(&db, people(&BINARY_UUIDS), &RecordingAdapter::new()).await;
    assert!(
        error.expected().starts_with("must be \"uuid\" on SQLite"),
        "{error}"
    );
}

// The database tests, compiled once per backend: `keys::sqlite::…`,
// `keys::postgres::…` and `keys::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
