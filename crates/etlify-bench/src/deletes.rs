//! `--scenario deletes`: what finding records that left the application
//! costs (issue 27, docs/BENCHMARKS.md "Issue 27: finding records that
//! left").
//!
//! The same generated tables as the throughput scenario, plus a
//! `deleted_at` column on `users` (indexed, as docs/BEHAVIOUR.md asks of
//! a soft-delete column), 1% of the users soft-deleted two days ago (old
//! deletions, archived long since). Three models over the one `users`
//! table, each with its own sync rows and checkpoint (their resource types
//! differ), so that runs of one never invalidate another's checkpoint:
//!
//! - `User`: the binding as the throughput scenario has it (`on_delete =
//!   keep`, the default);
//! - `ArchivingUser`: `on_delete = archive`;
//! - `SoftDeletingUser`: `on_delete = archive` and
//!   `soft_delete_column("deleted_at")`.
//!
//! Every binding archiving has a guard far above what is deleted here.
//! With the Null adapter, it measures:
//! (c) the bare pipeline's first sync, then each model's first sync (in
//!     the order ArchivingUser, User, SoftDeletingUser, rotated left
//!     `--rotate` times: each later one writes into a larger sync table;
//!     a first sync has no checkpoint, so an archiving binding also walks
//!     its sync rows for deleted ones at its end);
//! (a) nothing-changed runs of `User` and `SoftDeletingUser`, alternately
//!     (the soft-deleted query since the checkpoint is what differs);
//! (b) after hard-deleting 0.1% of the users: complete checks
//!     (`BatchSyncOptions::complete(true)`) of `User` and `ArchivingUser`
//!     alternately, the archived records' sync rows put back before each
//!     (so each check archives the same 0.1%), then `Etlify::plan` (from
//!     the checkpoint; for an archiving binding it adds the complete look
//!     for deleted rows) of both, alternately;
//! (d) once: soft-deleting 0.1% more now, and the next ordinary run of
//!     `SoftDeletingUser`, which archives them.
//! `--first-syncs-only` stops after (c). Each alternating pair runs
//! `--repetitions` times, the first of the pair
//! swapped every repetition; the median is reported.

use std::sync::Arc;
use std::time::Instant;

use etlify::adapters::NullAdapter;
use etlify::{
    BatchSyncOptions, Crm, DeleteLimit, Disposal, Etlify, MigrateOptions, Model, RunStats, Store,
};
use etlify_bench::{peak_rss_mib, reset_peak_rss};
use serde_json::json;

use crate::{bare, binding, exec, generate, median, Args, Pool};

/// The three models measured, by resource type.
const KEEP: &str = "User";
const ARCHIVE: &str = "ArchivingUser";
const SOFT: &str = "SoftDeletingUser";

/// The guard of the archiving bindings: never reached here.
const NO_GUARD: DeleteLimit = DeleteLimit::PercentOfSynced(100);

/// The sync rows of `ArchivingUser` whose users are hard-deleted, kept to
/// be put back before each complete check.
const KEPT_ROWS: &str = "bench_deleted_sync_rows";

fn model(name: &str) -> Model {
    let model = Model::new(name, "users");
    match name {
        ARCHIVE => model.bind(
            "hubspot",
            binding()
                .on_delete(Disposal::Archive)
                .max_deletes_per_run(NO_GUARD),
        ),
        SOFT => model.soft_delete_column("deleted_at").bind(
            "hubspot",
            binding()
                .on_delete(Disposal::Archive)
                .max_deletes_per_run(NO_GUARD),
        ),
        _ => model.bind("hubspot", binding()),
    }
}

/// One timed call: seconds, peak RSS (MiB), and its statistics.
struct Sample {
    seconds: f64,
    peak_rss_mib: f64,
    found: usize,
    archived: usize,
}

impl Sample {
    fn of_run(seconds: f64, stats: &RunStats) -> Self {
        Sample {
            seconds,
            peak_rss_mib: peak_rss_mib(),
            found: stats.total,
            archived: stats.outcomes.archived,
        }
    }
}

/// A measured phase: its samples, in order.
struct Measured {
    name: String,
    samples: Vec<Sample>,
}

impl Measured {
    fn median_seconds(&self) -> f64 {
        median(&self.samples.iter().map(|s| s.seconds).collect::<Vec<_>>())
    }

    fn peak(&self) -> f64 {
        self.samples
            .iter()
            .map(|s| s.peak_rss_mib)
            .fold(0.0, f64::max)
    }
}

async fn timed_run(engine: &Etlify, options: &BatchSyncOptions) -> Result<Sample, etlify::Error> {
    reset_peak_rss();
    let started = Instant::now();
    let stats = engine.batch_sync(options).await?;
    let seconds = started.elapsed().as_secs_f64();
    if !stats.is_complete() {
        return Err(etlify::Error::Incomplete(format!(
            "a measured run did not complete: {stats:?}"
        )));
    }
    Ok(Sample::of_run(seconds, &stats))
}

async fn timed_plan(engine: &Etlify) -> Result<Sample, etlify::Error> {
    reset_peak_rss();
    let started = Instant::now();
    let entries = engine.plan(&BatchSyncOptions::new()).await?;
    let seconds = started.elapsed().as_secs_f64();
    let archived = entries
        .iter()
        .filter_map(|entry| entry.archive.as_ref())
        .map(|archive| archive.deleted.len() + archive.left_scope.len())
        .sum();
    Ok(Sample {
        seconds,
        peak_rss_mib: peak_rss_mib(),
        found: entries.iter().map(|entry| entry.records).sum(),
        archived,
    })
}

/// Adds the soft-delete column, its index, and 1% of the users deleted
/// two days ago.
async fn add_soft_deletes(pool: &Pool) -> Result<(), sqlx::Error> {
    let postgres = matches!(pool, Pool::Postgres(_));
    let (ts, two_days_ago) = if postgres {
        (
            "timestamp(6) without time zone",
            "(now() AT TIME ZONE 'UTC' - interval '2 days')",
        )
    } else {
        (
            "datetime(6)",
            "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-2 days')",
        )
    };
    exec(
        pool,
        &format!("ALTER TABLE users ADD COLUMN deleted_at {ts}"),
    )
    .await?;
    exec(
        pool,
        &format!("UPDATE users SET deleted_at = {two_days_ago} WHERE id % 100 = 50"),
    )
    .await?;
    exec(
        pool,
        "CREATE INDEX idx_users_deleted_at ON users (deleted_at)",
    )
    .await?;
    exec(pool, &format!("DROP TABLE IF EXISTS {KEPT_ROWS}")).await?;
    if postgres {
        exec(pool, "ANALYZE users").await?;
    }
    Ok(())
}

pub(crate) async fn run(
    args: &Args,
    store: Store,
    pool: &Pool,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    generate(pool, args.users).await?;
    add_soft_deletes(pool).await?;
    let generated = started.elapsed().as_secs_f64();
    etlify::migrate(&store, &MigrateOptions::default()).await?;
    let adapter = Arc::new(NullAdapter::new());
    let engine = async |name: &str| {
        Etlify::builder(store.clone())
            .crm(Crm::new("hubspot", adapter.clone()))
            .model(model(name))
            .build()
            .await
    };
    let keep = engine(KEEP).await?;
    let archive = engine(ARCHIVE).await?;
    let soft = engine(SOFT).await?;
    let options = BatchSyncOptions::new().batch_size(args.batch_size);
    let complete = BatchSyncOptions::new()
        .batch_size(args.batch_size)
        .complete(true);
    let mut phases: Vec<Measured> = Vec::new();

    // (c) First syncs against the bare pipeline.
    reset_peak_rss();
    let (bare_records, bare_seconds) = bare::first_full_sync(pool).await?;
    let bare_peak = peak_rss_mib();
    let bare_rate = bare_records as f64 / bare_seconds.max(f64::EPSILON);
    let mut order = [(ARCHIVE, &archive), (KEEP, &keep), (SOFT, &soft)];
    let turns = args.rotate % order.len();
    order.rotate_left(turns);
    for (name, engine) in order {
        phases.push(Measured {
            name: format!("first_sync {name}"),
            samples: vec![timed_run(engine, &options).await?],
        });
    }

    if args.first_syncs_only {
        report(
            args,
            generated,
            bare_records,
            bare_seconds,
            bare_rate,
            bare_peak,
            &phases,
        );
        return Ok(());
    }

    // (a) Nothing changed: the soft-deleted query's cost in every run.
    let repetitions = args.repetitions as usize;
    let mut keep_quiet = Vec::new();
    let mut soft_quiet = Vec::new();
    for round in 0..repetitions {
        if round % 2 == 0 {
            keep_quiet.push(timed_run(&keep, &options).await?);
            soft_quiet.push(timed_run(&soft, &options).await?);
        } else {
            soft_quiet.push(timed_run(&soft, &options).await?);
            keep_quiet.push(timed_run(&keep, &options).await?);
        }
    }
    phases.push(Measured {
        name: format!("nothing_changed {KEEP}"),
        samples: keep_quiet,
    });
    phases.push(Measured {
        name: format!("nothing_changed {SOFT}"),
        samples: soft_quiet,
    });

    // (b) Hard-delete 0.1%; complete checks, each archiving the same rows.
    exec(
        pool,
        &format!(
            "CREATE TABLE {KEPT_ROWS} AS SELECT * FROM crm_synchronisations \
             WHERE resource_type = '{ARCHIVE}' AND resource_id % 1000 = 7"
        ),
    )
    .await?;
    exec(pool, "DELETE FROM users WHERE id % 1000 = 7").await?;
    let put_back = async || {
        exec(
            pool,
            &format!(
                "DELETE FROM crm_synchronisations WHERE resource_type = '{ARCHIVE}' \
                 AND resource_id % 1000 = 7"
            ),
        )
        .await?;
        exec(
            pool,
            &format!("INSERT INTO crm_synchronisations SELECT * FROM {KEPT_ROWS}"),
        )
        .await
    };
    let mut keep_complete = Vec::new();
    let mut archive_complete = Vec::new();
    for round in 0..repetitions {
        put_back().await?;
        if round % 2 == 0 {
            keep_complete.push(timed_run(&keep, &complete).await?);
            archive_complete.push(timed_run(&archive, &complete).await?);
        } else {
            archive_complete.push(timed_run(&archive, &complete).await?);
            keep_complete.push(timed_run(&keep, &complete).await?);
        }
    }
    put_back().await?;
    let mut keep_plan = Vec::new();
    let mut archive_plan = Vec::new();
    for round in 0..repetitions {
        if round % 2 == 0 {
            keep_plan.push(timed_plan(&keep).await?);
            archive_plan.push(timed_plan(&archive).await?);
        } else {
            archive_plan.push(timed_plan(&archive).await?);
            keep_plan.push(timed_plan(&keep).await?);
        }
    }
    phases.push(Measured {
        name: format!("complete_check {KEEP}"),
        samples: keep_complete,
    });
    phases.push(Measured {
        name: format!("complete_check {ARCHIVE}"),
        samples: archive_complete,
    });
    phases.push(Measured {
        name: format!("plan {KEEP}"),
        samples: keep_plan,
    });
    phases.push(Measured {
        name: format!("plan {ARCHIVE}"),
        samples: archive_plan,
    });

    // (d) Soft-delete 0.1% now: the next ordinary run archives them.
    let now = store
        .now()
        .await?
        .format(etlify::SQLITE_TIMESTAMP_FORMAT)
        .to_string();
    exec(
        pool,
        &format!("UPDATE users SET deleted_at = '{now}' WHERE id % 1000 = 3"),
    )
    .await?;
    phases.push(Measured {
        name: format!("after_soft_deleting_0.1pct {SOFT}"),
        samples: vec![timed_run(&soft, &options).await?],
    });

    report(
        args,
        generated,
        bare_records,
        bare_seconds,
        bare_rate,
        bare_peak,
        &phases,
    );
    Ok(())
}

fn report(
    args: &Args,
    generated: f64,
    bare_records: u64,
    bare_seconds: f64,
    bare_rate: f64,
    bare_peak: f64,
    phases: &[Measured],
) {
    println!(
        "scenario=deletes backend={} users={} batch_size={} repetitions={} generate={:.1}s",
        args.backend, args.users, args.batch_size, args.repetitions, generated
    );
    println!(
        "{:<44} {:>10} {:>28} {:>8} {:>9} {:>9}",
        "phase", "median s", "samples s", "found", "archived", "peak MiB"
    );
    for phase in phases {
        let samples: Vec<String> = phase
            .samples
            .iter()
            .map(|s| format!("{:.3}", s.seconds))
            .collect();
        let last = phase.samples.last();
        println!(
            "{:<44} {:>10.4} {:>28} {:>8} {:>9} {:>9.1}",
            phase.name,
            phase.median_seconds(),
            samples.join(","),
            last.map_or(0, |s| s.found),
            last.map_or(0, |s| s.archived),
            phase.peak()
        );
    }
    println!(
        "{:<44} {:>10.4} {:>28} {:>8} {:>9} {:>9.1}",
        "bare_pipeline (baseline)", bare_seconds, "", bare_records, "", bare_peak
    );
    let seconds_of = |name: String| {
        phases
            .iter()
            .find(|p| p.name == name)
            .map_or(f64::NAN, Measured::median_seconds)
    };
    let ratio = |name: &str| {
        phases
            .iter()
            .find(|p| p.name == format!("first_sync {name}"))
            .and_then(|p| p.samples.first())
            .map_or(f64::NAN, |s| {
                s.found as f64 / s.seconds.max(f64::EPSILON) / bare_rate.max(f64::EPSILON)
            })
    };
    let per_100k = 100_000.0 / args.users as f64;
    let anti_join = seconds_of(format!("plan {ARCHIVE}")) - seconds_of(format!("plan {KEEP}"));
    let complete_extra = seconds_of(format!("complete_check {ARCHIVE}"))
        - seconds_of(format!("complete_check {KEEP}"));
    let soft_extra = seconds_of(format!("nothing_changed {SOFT}"))
        - seconds_of(format!("nothing_changed {KEEP}"));
    println!(
        "first sync ÷ bare pipeline: {ARCHIVE} {:.2}x, {KEEP} {:.2}x, {SOFT} {:.2}x",
        ratio(ARCHIVE),
        ratio(KEEP),
        ratio(SOFT)
    );
    if !args.first_syncs_only {
        print_costs(anti_join, complete_extra, soft_extra, per_100k);
    }
    let report = json!({
        "scenario": "deletes",
        "backend": args.backend,
        "users": args.users,
        "batch_size": args.batch_size,
        "repetitions": args.repetitions,
        "bare_pipeline": {
            "records": bare_records,
            "seconds": bare_seconds,
            "records_per_second": bare_rate,
            "peak_rss_mib": bare_peak,
        },
        "first_sync_ratio": {
            ARCHIVE: ratio(ARCHIVE),
            KEEP: ratio(KEEP),
            SOFT: ratio(SOFT),
        },
        "anti_join_ms": anti_join * 1_000.0,
        "anti_join_ms_per_100k": anti_join * 1_000.0 * per_100k,
        "complete_check_extra_ms": complete_extra * 1_000.0,
        "soft_delete_query_extra_ms": soft_extra * 1_000.0,
        "phases": phases.iter().map(|p| json!({
            "name": p.name,
            "median_seconds": p.median_seconds(),
            "seconds": p.samples.iter().map(|s| s.seconds).collect::<Vec<_>>(),
            "found": p.samples.iter().map(|s| s.found).collect::<Vec<_>>(),
            "archived": p.samples.iter().map(|s| s.archived).collect::<Vec<_>>(),
            "peak_rss_mib": p.peak(),
        })).collect::<Vec<_>>(),
    });
    println!("{report}");
}

/// The derived costs, in milliseconds (seconds in).
fn print_costs(anti_join: f64, complete_extra: f64, soft_extra: f64, per_100k: f64) {
    println!(
        "complete look for deleted rows (plan, archive − keep): {:.1} ms = {:.1} ms per 100k synced; \
         complete check, archive − keep (including archiving 0.1%): {:.1} ms = {:.1} ms per 100k",
        anti_join * 1_000.0,
        anti_join * 1_000.0 * per_100k,
        complete_extra * 1_000.0,
        complete_extra * 1_000.0 * per_100k
    );
    println!(
        "soft-deleted query in an ordinary run (nothing changed, soft − keep): {:.2} ms",
        soft_extra * 1_000.0
    );
}
