//! Property test: every finder plan returns exactly the ids of the
//! definition of "stale" (docs/BEHAVIOUR.md), on generated data with random and equal
//! timestamps, missing rows, NULLs, deleted dependencies and error counts.
//! The definition is computed in Rust from the generated data (the oracle)
//! and compared with both SQL plans on both databases.
//!
//! The changed-since plan is also run from a generated checkpoint (as a
//! batch run after a complete one does): it must find exactly the stale
//! records the checkpoint says to look at, computed by the oracle too
//! (`since_checkpoint`), and no other.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use etlify::adapters::NullAdapter;
use etlify::{Binding, Crm, Dependency, Etlify, FinderPlan, Model, ResourceId, SqlPayload};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::finder::create_world;
use crate::support::{engine, TestDb};

const MAX_ERRORS: u8 = 3;

/// A timestamp in a small domain (so equal timestamps are common), or NULL.
type Ts = Option<u8>;

fn ts_sql(ts: Ts) -> String {
    ts.map_or("NULL".into(), |t| format!("'2024-01-01 10:{t:02}:00'"))
}

/// NULL counts as the epoch, below every real timestamp.
fn ts_value(ts: Ts) -> i32 {
    ts.map_or(-1, i32::from)
}

#[derive(Debug, Clone)]
struct SyncRowGen {
    last_synced_at: Ts,
    error_count: u8,
}

#[derive(Debug, Clone)]
struct UserGen {
    updated_at: Ts,
    /// Index into companies; may point past the end (a deleted company).
    company: Option<usize>,
    row: Option<SyncRowGen>,
}

/// Where a run starts looking: changes stamped after `changes_through`,
/// records without a sync row above `ids_through`.
#[derive(Debug, Clone, Copy)]
struct CheckpointGen {
    changes_through: u8,
    ids_through: Option<usize>,
}

#[derive(Debug, Clone)]
struct World {
    companies: Vec<Ts>,
    users: Vec<UserGen>,
    /// (user index, updated_at); notes of deleted users are kept.
    notes: Vec<(usize, Ts)>,
    tags: Vec<Ts>,
    taggings: Vec<(usize, usize)>,
    checkpoint: CheckpointGen,
}

fn ts() -> impl Strategy<Value = Ts> {
    prop::option::weighted(0.85, 0u8..6)
}

fn world() -> impl Strategy<Value = World> {
    let row = prop::option::weighted(
        0.7,
        (ts(), 0u8..=4).prop_map(|(last_synced_at, error_count)| SyncRowGen {
            last_synced_at,
            error_count,
        }),
    );
    let user =
        (ts(), prop::option::of(0usize..4), row).prop_map(|(updated_at, company, row)| UserGen {
            updated_at,
            company,
            row,
        });
    (
        prop::collection::vec(ts(), 0..3),
        prop::collection::vec(user, 1..8),
        prop::collection::vec((0usize..8, ts()), 0..6),
        prop::collection::vec(ts(), 0..3),
        prop::collection::vec((0usize..8, 0usize..3), 0..5),
        (0u8..6, prop::option::of(1usize..9)),
    )
        .prop_map(
            |(companies, users, notes, tags, taggings, (changes_through, ids_through))| World {
                companies,
                users,
                notes,
                tags,
                taggings,
                checkpoint: CheckpointGen {
                    changes_through,
                    ids_through,
                },
            },
        )
}

/// The stale ids by the definition (docs/BEHAVIOUR.md), computed from the generated data.
fn oracle(world: &World) -> BTreeSet<i64> {
    let mut stale = BTreeSet::new();
    for (i, user) in world.users.iter().enumerate() {
        let id = i as i64 + 1;
        let Some(row) = &user.row else {
            stale.insert(id);
            continue;
        };
        if row.error_count >= MAX_ERRORS {
            continue;
        }
        if ts_value(row.last_synced_at) < newest(world, i) {
            stale.insert(id);
        }
    }
    stale
}

/// The stale records a run from the world's checkpoint looks at (what
/// `Config::complete_check_interval` documents): records with a sync row
/// failing, or whose newest timestamp is after the checkpoint's
/// `changes_through`; records without one above the checkpoint's highest
/// id, or whose newest timestamp is after that bound. A row never stamped
/// and not failing (the generated rows are written outside the engine,
/// which writes none) is left to a complete run.
fn since_checkpoint(world: &World) -> BTreeSet<i64> {
    let checkpoint = world.checkpoint;
    let bound = i32::from(checkpoint.changes_through);
    let ids_through = checkpoint.ids_through.map_or(0, |id| id as i64);
    oracle(world)
        .into_iter()
        .filter(|id| {
            let i = (*id - 1) as usize;
            let changed = newest(world, i) > bound;
            match &world.users[i].row {
                Some(row) => row.error_count > 0 || changed,
                None => *id > ids_through || changed,
            }
        })
        .collect()
}

/// The newest timestamp of user `i` and its dependencies (NULL: -1).
fn newest(world: &World, i: usize) -> i32 {
    let user = &world.users[i];
    let mut newest = ts_value(user.updated_at);
    if let Some(company) = user.company.and_then(|c| world.companies.get(c)) {
        newest = newest.max(ts_value(*company));
    }
    for (owner, note) in &world.notes {
        if *owner == i {
            newest = newest.max(ts_value(*note));
        }
    }
    for (owner, tag) in &world.taggings {
        if *owner == i {
            if let Some(tag) = world.tags.get(*tag) {
                newest = newest.max(ts_value(*tag));
            }
        }
    }
    newest
}

async fn load(db: &TestDb, world: &World) {
    for table in [
        "users",
        "companies",
        "notes",
        "tags",
        "tags_users",
        "crm_synchronisations",
    ] {
        db.exec(&format!("DELETE FROM {table}")).await;
    }
    for (i, company) in world.companies.iter().enumerate() {
        db.exec(&format!(
            "INSERT INTO companies (id, updated_at) VALUES ({}, {})",
            i + 1,
            ts_sql(*company)
        ))
        .await;
    }
    for (i, user) in world.users.iter().enumerate() {
        let id = i + 1;
        let company = user.company.map_or("NULL".into(), |c| (c + 1).to_string());
        db.exec(&format!("INSERT INTO users (id, email, company_id, updated_at) VALUES ({id}, 'u{id}@x.io', {company}, {})", ts_sql(user.updated_at))).await;
        if let Some(row) = &user.row {
            db.exec(&format!(
                "INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, last_synced_at, error_count, created_at, updated_at) \
                 VALUES ('hubspot', 'User', {id}, {}, {}, '2024-01-01 00:00:00', '2024-01-01 00:00:00')",
                ts_sql(row.last_synced_at),
                row.error_count
            ))
            .await;
        }
    }
    for (i, (owner, note)) in world.notes.iter().enumerate() {
        db.exec(&format!(
            "INSERT INTO notes (id, user_id, updated_at) VALUES ({}, {}, {})",
            i + 1,
            owner + 1,
            ts_sql(*note)
        ))
        .await;
    }
    for (i, tag) in world.tags.iter().enumerate() {
        db.exec(&format!(
            "INSERT INTO tags (id, updated_at) VALUES ({}, {})",
            i + 1,
            ts_sql(*tag)
        ))
        .await;
    }
    for (owner, tag) in &world.taggings {
        db.exec(&format!(
            "INSERT INTO tags_users (user_id, tag_id) VALUES ({}, {})",
            owner + 1,
            tag + 1
        ))
        .await;
    }
}

/// The ids `plan` finds (from `checkpoint`, if any), checked to come
/// strictly ascending (so also without duplicates) across pages.
async fn found(
    etlify: &Etlify,
    plan: FinderPlan,
    checkpoint: Option<CheckpointGen>,
    every_candidate: bool,
) -> BTreeSet<i64> {
    let mut pages = etlify
        .stale_ids("hubspot", "User")
        .unwrap()
        .plan(plan)
        .page_size(3);
    if every_candidate {
        pages = pages.look_at_every_candidate();
    }
    if let Some(checkpoint) = checkpoint {
        let changes_through = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(10, u32::from(checkpoint.changes_through), 0)
            .unwrap();
        pages = pages.since(
            changes_through,
            checkpoint.ids_through.map(|id| ResourceId::new(id as i64)),
        );
    }
    let ids: Vec<i64> = pages
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.as_int().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "{plan:?} pages not strictly ascending: {ids:?}"
    );
    ids.into_iter().collect()
}

// The database tests, compiled once per backend: `property::sqlite::…` and
// `property::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
