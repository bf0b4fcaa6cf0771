//! The worker's side of changes within seconds: it learns of the
//! application's commits and requests the batch jobs of the CRMs reading
//! the tables changed, so that their runs start within a second or two
//! instead of at the next interval.
//!
//! - **Listening** (PostgreSQL with `etlify migrate --triggers`): a
//!   connection of its own listens on `etlify_changes`; after a
//!   notification it waits [`COALESCE_WINDOW`] for others, then requests
//!   each CRM concerned once. A lost connection is opened again with a
//!   doubling pause ([`RECONNECT_PAUSE`] to [`MAX_RECONNECT_PAUSE`]), and
//!   every CRM is requested once it is back (a change may have been missed
//!   meanwhile); the interval loop stays the safety net.
//! - **Reading the triggers' counters** (SQLite with `etlify migrate
//!   --triggers`): one read of `etlify_changes` after each write to the
//!   database's files (its main file, `-wal`, `-journal`), and at least
//!   every [`SAFETY_PERIOD`] (or the [`ChangeWatch::Poll`] period); a
//!   moved counter is handled as a notification of its table. Any write
//!   wakes it, the queue's heartbeat included (one read each, no run: the
//!   heartbeat moves no counter). The job queue's
//!   table has one too: a job another process queued wakes the worker's
//!   fetch at once ([`crate::jobs::FetchWake`]), so the queue's own poll
//!   can be rare. No finder probe: the heartbeat and the worker's own
//!   writes move no counter of a table the models read.
//! - **Polling** (SQLite, or PostgreSQL without triggers, with
//!   [`ChangeWatch::Poll`]): every period, SQLite's commit counter (one
//!   light query); when it moved, or on PostgreSQL every period, each CRM
//!   whose finder finds a stale record (`probe.rs`) is requested. The
//!   worker's own writes move the counter too, but a run leaves nothing
//!   stale, so they cost one probe, never a run.
//!
//! A request is deduplicated in the database (`jobs/perform.rs`): one job
//! per CRM queued, and a request made while it runs gives one more run
//! after it, however many came. A busy table costs at most one request per
//! CRM per window, and at most one run after the one under way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indexmap::{IndexMap, IndexSet};
use tokio::sync::mpsc;

use crate::error::Result;
use crate::jobs::{perform, FetchWake, JobContext};
use crate::runs::BatchSyncOptions;
use crate::store::backend::{ChangeTriggers, CounterReads};

/// How long after a notification others are awaited before requesting:
/// the statements of a burst become one request per CRM.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(200);

/// How often a worker reads the triggers' counters where the database
/// cannot notify (SQLite) when its files were not written to, unless
/// [`ChangeWatch::Poll`] gives a period: a safety net for a missed file
/// event (every second when the files cannot be watched).
pub const SAFETY_PERIOD: Duration = Duration::from_secs(30);

/// The first pause before opening a lost listener's connection again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between two attempts to open it.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(30);

/// How a worker learns of the application's changes between its
/// intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChangeWatch {
    /// Listen where `etlify migrate --triggers` installed change triggers
    /// (PostgreSQL; SQLite, reading their counters when the database's
    /// files are written to); elsewhere only the interval (the default: a
    /// database without triggers runs as before).
    #[default]
    Auto,
    /// Only the interval, triggers or not.
    Off,
    /// Listen where triggers are installed (SQLite: read their counters
    /// when the files are written to and at least every this long);
    /// elsewhere poll every this long (at least 10 ms):
    /// SQLite's commit counter, then the finder.
    Poll(Duration),
}

/// What a watch did, for tests and benchmarks.
#[derive(Debug, Default)]
pub(crate) struct WatchCounts {
    /// Notifications received about tables the models read.
    pub(crate) notifications: AtomicU64,
    /// Batch jobs requested.
    pub(crate) requests: AtomicU64,
    /// Change detector reads (polls).
    pub(crate) polls: AtomicU64,
    /// Finder probes after a poll saw a commit.
    pub(crate) probes: AtomicU64,
    /// Listener connections opened (the first one included).
    pub(crate) connections: AtomicU64,
    /// Reads of SQLite's counters that a write to the database's files
    /// caused (shared with the reader).
    pub(crate) file_wakes: Arc<AtomicU64>,
    /// Fetches of the job queue woken by a job queued (the queue's table's
    /// counter moved).
    pub(crate) queue_wakes: AtomicU64,
}

/// What the watch reports to: its counts, and the job queue's fetch to
/// wake when the queue's table changes.
#[derive(Debug, Clone)]
pub(crate) struct WatchSinks {
    pub(crate) counts: Arc<WatchCounts>,
    pub(crate) fetch: Option<FetchWake>,
}

/// Watches for changes as `mode` says until aborted or `stop`; `name`
/// names the listener's session.
pub(crate) async fn watch(
    ctx: JobContext,
    mode: ChangeWatch,
    name: String,
    stop: Arc<AtomicBool>,
    sinks: WatchSinks,
) {
    if mode == ChangeWatch::Off {
        return;
    }
    let counts = sinks.counts.clone();
    if let Some(triggers) = ctx.store().backend().change_triggers() {
        match watched_tables(&ctx, triggers.as_ref()).await {
            Ok(watched) if !watched.tables.is_empty() || watched.queue.is_some() => {
                tracing::info!(
                    message = "Listening for the application's changes.",
                    tables = ?watched.tables.keys().collect::<Vec<_>>(),
                    queue = ?watched.queue,
                );
                let period = match mode {
                    ChangeWatch::Poll(every) => every.max(Duration::from_millis(10)),
                    _ => SAFETY_PERIOD,
                };
                let listening = Listening {
                    name,
                    period,
                    stop,
                    sinks,
                };
                return listen(ctx, triggers, watched, listening).await;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                message = "Reading the change triggers failed; changes are seen at the interval.",
                %error
            ),
        }
    }
    if let ChangeWatch::Poll(every) = mode {
        tracing::info!(
            message = "Polling for the application's changes.",
            every_s = every.as_secs_f64()
        );
        poll(ctx, every.max(Duration::from_millis(10)), stop, counts).await;
    }
}

/// The tables a listener watches.
#[derive(Debug, Default)]
struct Watched {
    /// Each table with a change trigger (`schema.table`) that enabled CRMs
    /// read, with those CRMs.
    tables: IndexMap<String, IndexSet<String>>,
    /// The job queue's table, when it has a trigger.
    queue: Option<String>,
}

/// Whether a worker's change watch in `mode` will wake its job queue's
/// fetch when another process queues a job (SQLite with the triggers on
/// the queue's table): its fetch then needs no frequent poll.
pub(crate) async fn wakes_fetch(ctx: &JobContext, mode: ChangeWatch) -> bool {
    if mode == ChangeWatch::Off {
        return false;
    }
    let Some(triggers) = ctx.store().backend().change_triggers() else {
        return false;
    };
    let installed = match triggers.installed().await {
        Ok(installed) => installed,
        // The watch logs it when it starts.
        Err(_) => return false,
    };
    matches!(
        watched_queue(triggers.as_ref(), &installed).await,
        Ok(Some(_))
    )
}

/// The job queue's table (`schema.table`) when it has a change trigger.
async fn watched_queue(
    triggers: &dyn ChangeTriggers,
    installed: &[String],
) -> Result<Option<String>> {
    let Some(queue) = triggers.queue_table() else {
        return Ok(None);
    };
    Ok(triggers
        .qualified(queue)
        .await?
        .filter(|qualified| installed.contains(qualified)))
}

/// The tables with a change trigger that enabled CRMs read, and the
/// queue's; tables read without a trigger are named in a warning (their
/// changes are seen at the interval).
async fn watched_tables(ctx: &JobContext, triggers: &dyn ChangeTriggers) -> Result<Watched> {
    let installed = triggers.installed().await?;
    let mut watched = Watched::default();
    if installed.is_empty() {
        return Ok(watched);
    }
    watched.queue = watched_queue(triggers, &installed).await?;
    let mut missing = Vec::new();
    for (table, crms) in super::tables::read_by_crm(ctx.context().catalog(), true) {
        match triggers.qualified(&table).await? {
            Some(qualified) if installed.contains(&qualified) => {
                watched.tables.insert(qualified, crms);
            }
            _ => missing.push(table),
        }
    }
    if !missing.is_empty() {
        tracing::warn!(
            message = "Tables the models read have no change trigger: their changes are seen at the interval. Run `etlify migrate --triggers`.",
            tables = ?missing,
        );
    }
    Ok(watched)
}

/// What the listener's task tells the loop.
enum Event {
    /// A notification: the table changed.
    Changed(String),
    /// The connection is (again) listening; `after_loss`: notifications
    /// may have been missed.
    Listening { after_loss: bool },
}

/// How a listener runs: its session's name, how often a database that
/// cannot notify is read, when to stop, and what it reports to.
struct Listening {
    name: String,
    period: Duration,
    stop: Arc<AtomicBool>,
    sinks: WatchSinks,
}

async fn listen(
    ctx: JobContext,
    triggers: Arc<dyn ChangeTriggers>,
    watched: Watched,
    listening: Listening,
) {
    let Listening {
        name,
        period,
        stop,
        sinks,
    } = listening;
    let counts = &sinks.counts;
    let (events, mut received) = mpsc::channel(1024);
    // Its own task: a receive is never cancelled half-way by the window's
    // timeout, and the loop below only reads the channel.
    // Aborted with this task too (the worker aborts the watch at its end).
    let _connection = AbortOnDrop(tokio::spawn(keep_listening(
        triggers,
        name,
        period,
        events,
        counts.clone(),
    )));
    let every_crm: IndexSet<String> = watched.tables.values().flatten().cloned().collect();
    while let Some(event) = received.recv().await {
        let mut crms = IndexSet::new();
        match event {
            Event::Listening { after_loss: false } => continue,
            Event::Listening { after_loss: true } => crms.extend(every_crm.iter().cloned()),
            Event::Changed(table) => {
                if !add_readers(&watched, &table, &mut crms, &sinks) {
                    continue;
                }
                // The rest of the burst: what arrives within the window.
                let window = tokio::time::sleep(COALESCE_WINDOW);
                tokio::pin!(window);
                loop {
                    tokio::select! {
                        () = &mut window => break,
                        next = received.recv() => match next {
                            Some(Event::Changed(table)) => {
                                add_readers(&watched, &table, &mut crms, &sinks);
                            }
                            Some(Event::Listening { after_loss }) => {
                                if after_loss {
                                    crms.extend(every_crm.iter().cloned());
                                }
                            }
                            None => break,
                        },
                    }
                }
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        request(&ctx, crms.iter(), counts).await;
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Adds the CRMs reading `table`, and says whether any does: the channel
/// is the database's, and notifications of tables no model reads (another
/// application's schema) are ignored. The queue's table wakes the fetch
/// at once instead (a job was queued: nothing to request).
fn add_readers(
    watched: &Watched,
    table: &str,
    crms: &mut IndexSet<String>,
    sinks: &WatchSinks,
) -> bool {
    if watched.queue.as_deref() == Some(table) {
        if let Some(fetch) = &sinks.fetch {
            sinks.counts.queue_wakes.fetch_add(1, Ordering::Relaxed);
            fetch.wake();
        }
        return false;
    }
    match watched.tables.get(table) {
        Some(readers) => {
            sinks.counts.notifications.fetch_add(1, Ordering::Relaxed);
            crms.extend(readers.iter().cloned());
            true
        }
        None => false,
    }
}

/// Holds a listening connection, opening it again when lost, and hands
/// its notifications to `events`.
async fn keep_listening(
    triggers: Arc<dyn ChangeTriggers>,
    name: String,
    period: Duration,
    events: mpsc::Sender<Event>,
    counts: Arc<WatchCounts>,
) {
    let mut pause = RECONNECT_PAUSE;
    let mut after_loss = false;
    loop {
        let reads = CounterReads {
            period,
            file_wakes: counts.file_wakes.clone(),
        };
        let mut listener = match triggers.listen(&name, reads).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(
                    message = "Opening the change listener failed; trying again (changes are seen at the interval meanwhile).",
                    %error,
                    pause_s = pause.as_secs_f64(),
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
                after_loss = true;
                continue;
            }
        };
        counts.connections.fetch_add(1, Ordering::Relaxed);
        pause = RECONNECT_PAUSE;
        if events.send(Event::Listening { after_loss }).await.is_err() {
            return;
        }
        loop {
            match listener.next().await {
                Ok(table) => {
                    if events.send(Event::Changed(table)).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        message = "The change listener's connection was lost; opening it again.",
                        %error
                    );
                    break;
                }
            }
        }
        after_loss = true;
        tokio::time::sleep(pause).await;
    }
}

async fn poll(ctx: JobContext, every: Duration, stop: Arc<AtomicBool>, counts: Arc<WatchCounts>) {
    let mut counter = ctx.store().backend().commit_counter();
    let mut seen: Option<i64> = None;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Some(counter) = counter.as_mut() {
            counts.polls.fetch_add(1, Ordering::Relaxed);
            match counter.read().await {
                Ok(now) if seen == Some(now) => continue,
                Ok(now) => seen = Some(now),
                Err(error) => {
                    tracing::warn!(message = "Reading the commit counter failed; trying again at the next poll.", %error);
                    seen = None;
                    continue;
                }
            }
        }
        match stale_crms(&ctx, &counts).await {
            Ok(crms) => request(&ctx, crms.iter(), &counts).await,
            Err(error) => {
                tracing::warn!(message = "Looking for changes failed; trying again at the next poll.", %error);
                // Looked at again at the next poll.
                seen = None;
            }
        }
    }
}

/// The enabled CRMs whose finder finds a stale record now.
async fn stale_crms(ctx: &JobContext, counts: &WatchCounts) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for crm in crate::runs::batch_run::async_crms(ctx.context(), &BatchSyncOptions::new())? {
        counts.probes.fetch_add(1, Ordering::Relaxed);
        if super::probe::anything_stale(ctx.context(), &crm).await? {
            stale.push(crm);
        }
    }
    Ok(stale)
}

/// Requests the batch job of each of `crms`; a failure is logged (the
/// interval loop requests it again).
async fn request<'a>(
    ctx: &JobContext,
    crms: impl Iterator<Item = &'a String>,
    counts: &WatchCounts,
) {
    for crm in crms {
        counts.requests.fetch_add(1, Ordering::Relaxed);
        match perform::request_batch(ctx, crm, crate::RunTrigger::Change).await {
            Ok(answer) => tracing::debug!(
                message = "Batch job requested after a change.",
                crm,
                ?answer
            ),
            Err(error) => {
                tracing::warn!(message = "Requesting a batch job after a change failed; the interval loop requests it again.", crm, %error)
            }
        }
    }
}

/// What a worker's change watch did since it started
/// ([`crate::HealthHandle::change_watch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ChangeWatchCounts {
    /// Notifications received from the change triggers of the tables the
    /// models read.
    pub notifications: u64,
    /// Batch jobs requested after a change (each deduplicated by the
    /// queue).
    pub requests: u64,
    /// Reads of the commit counter (polling).
    pub polls: u64,
    /// Finder probes (polling, after the counter moved).
    pub probes: u64,
    /// Listener connections opened, the first one included (SQLite:
    /// readers of the triggers' counters started).
    pub connections: u64,
    /// Fetches of the job queue woken because a job was queued (SQLite's
    /// trigger on the queue's table).
    pub queue_wakes: u64,
    /// Reads of SQLite's counters that a write to the database's files
    /// caused (the worker's own and the queue's heartbeat included).
    pub file_wakes: u64,
}

impl ChangeWatchCounts {
    pub(crate) fn of(counts: &WatchCounts) -> Self {
        Self {
            notifications: counts.notifications.load(Ordering::Relaxed),
            requests: counts.requests.load(Ordering::Relaxed),
            polls: counts.polls.load(Ordering::Relaxed),
            probes: counts.probes.load(Ordering::Relaxed),
            connections: counts.connections.load(Ordering::Relaxed),
            queue_wakes: counts.queue_wakes.load(Ordering::Relaxed),
            file_wakes: counts.file_wakes.load(Ordering::Relaxed),
        }
    }
}
