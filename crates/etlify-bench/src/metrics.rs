//! `--scenario metrics`: what a Prometheus scrape costs (issue 28, item 2;
//! docs/BENCHMARKS.md "Metrics").
//!
//! The throughput scenario's tables at the requested scale, synced once
//! with the Null adapter, then 1% of the companies touched (their users
//! stale by the dependency). Each measured `--repetitions` times (median,
//! fastest, slowest):
//! - `scrape_computing`: the first `Etlify::encode_metrics` of a new
//!   engine, which computes the gauges that need a query (where the
//!   records stand, counted from the first run's checkpoint: the touched
//!   users classed, the others one count of the table; and the job
//!   queue, two statements) and encodes every family;
//! - `status`: `Etlify::status`, the same counts as `etlify status`
//!   prints them, for comparison;
//! - `scrape_cached`: `encode_metrics` within the default interval (15 s),
//!   which reads the last values: what any scrape after the first costs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use etlify::adapters::NullAdapter;
use etlify::{BatchSyncOptions, Crm, Etlify, MigrateOptions, Model, Store};

use crate::{binding, exec, generate, median, Args, Pool};

/// Runs the scenario and prints its figures.
pub(crate) async fn run(
    args: &Args,
    store: Store,
    pool: &Pool,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    generate(pool, args.users).await?;
    let generated = started.elapsed();
    etlify::migrate(&store, &MigrateOptions::default()).await?;
    let engine = |interval: Duration| {
        Etlify::builder(store.clone())
            .crm(Crm::new("hubspot", Arc::new(NullAdapter::new())))
            .model(Model::new("User", "users").bind("hubspot", binding()))
            .metrics_min_interval(interval)
            .build()
    };
    // An engine computes the gauges at most every ten times the last
    // computation's time: each computation timed is a new engine's first.
    let computing = engine(Duration::ZERO).await?;
    let started = Instant::now();
    let first = computing
        .batch_sync(&BatchSyncOptions::new().batch_size(args.batch_size))
        .await?;
    let first_sync = started.elapsed().as_secs_f64();
    let now = computing
        .store()
        .now()
        .await?
        .format(etlify::SQLITE_TIMESTAMP_FORMAT);
    exec(
        pool,
        &format!(
            "UPDATE companies SET name = name || '*', updated_at = '{now}' WHERE id % 100 = 0"
        ),
    )
    .await?;

    let mut scrape_computing = Vec::new();
    let mut status = Vec::new();
    let mut text_bytes = 0;
    for _ in 0..args.repetitions {
        let fresh = engine(Duration::ZERO).await?;
        let started = Instant::now();
        text_bytes = fresh.encode_metrics().await.len();
        scrape_computing.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let entries = computing.status().await?;
        status.push(started.elapsed().as_secs_f64());
        std::hint::black_box(entries);
    }
    let cached = engine(etlify::DEFAULT_METRICS_MIN_INTERVAL).await?;
    cached.encode_metrics().await;
    let mut scrape_cached = Vec::new();
    for _ in 0..args.repetitions {
        let started = Instant::now();
        std::hint::black_box(cached.encode_metrics().await);
        scrape_cached.push(started.elapsed().as_secs_f64());
    }
    let stale = computing
        .status()
        .await?
        .first()
        .map_or(0, |entry| entry.stale);

    println!(
        "backend={} users={} generate={:.1}s first_sync={:.1}s ({} records) stale_after_touch={} repetitions={} exposition={} bytes",
        args.backend,
        args.users,
        generated.as_secs_f64(),
        first_sync,
        first.total,
        stale,
        args.repetitions,
        text_bytes,
    );
    println!(
        "{:<20} {:>12} {:>12} {:>12}",
        "measure", "median ms", "fastest ms", "slowest ms"
    );
    for (name, samples) in [
        ("scrape_computing", &scrape_computing),
        ("status", &status),
        ("scrape_cached", &scrape_cached),
    ] {
        let fastest = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let slowest = samples.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<20} {:>12.3} {:>12.3} {:>12.3}",
            name,
            median(samples) * 1e3,
            fastest * 1e3,
            slowest * 1e3
        );
    }
    Ok(())
}
