//! The pipelined batch path: a stream of pages of one (model, CRM) goes
//! through `page.rs`'s steps with up to the CRM's
//! [`max_in_flight`](crate::Crm::max_in_flight) requests waiting on the
//! CRM at once. While they wait, the next page is locked, loaded and
//! digested, and the page after it found. A page is prepared as soon as
//! the requests waiting for a slot all belong to one page, so its reads
//! overlap the earlier pages' requests and writes. (Prepared only once
//! every request had started, a run after a small change alternated
//! between one page's reads and the previous page's writes:
//! docs/BENCHMARKS.md, "Reads beside writes".)
//!
//! A request's slot is free as soon as the CRM answers; its records' sync
//! rows are written by one writer, in the order requests answer: the rows
//! of every request that answered while the previous write was under way
//! go in the next write, one statement per kind of change. A page is
//! finished once each of its requests is answered and written. (A write
//! per request, holding its slot until written, cost a first sync on
//! SQLite a sixth of its rate: docs/BENCHMARKS.md, "Answers written
//! together".)
//!
//! Memory is bounded by the pages open at once: no page is prepared while
//! `max_in_flight + 1` are open (their requests in flight, waiting for a
//! slot, or answered and waiting for the writer), so at most
//! `max_in_flight + 2` with the one being prepared, and the ids of the
//! next. A crash (SIGKILL) leaves in doubt the records of the requests in
//! flight and of those answered during the write under way, all within
//! those pages; the next run sends them again, matched by id value.
//!
//! A run error (the CRM unreachable after its retries, the database)
//! stops new requests; those in flight are let finish and written, the
//! locks of pages cut short are released, and the first error is
//! returned. Records never sent keep their rows and stay stale.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, FuturesUnordered, Stream, StreamExt};
use tokio::sync::{mpsc, Semaphore};

use super::lock;
use super::page::{finish, prepare, record, release, send, Answers, IdsFrom, Page, Request};
use crate::catalog::Target;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::id::ResourceId;
use crate::outcome::BatchStats;

/// Sync rows added between two refreshes of the sync table's statistics.
const ROWS_BETWEEN_STATISTICS: usize = 50_000;
/// Sync rows added by a run, at least, for its end to refresh them too:
/// the finder's plans depend on them, and a table that went from empty to
/// 40,000 rows in one run was planned as if empty by the next run (10×
/// slower than at 60,000 rows, where the periodic refresh had happened).
/// Rows updated in place do not count: they leave the statistics as they
/// were, and refreshing them cost 0.3 s at 1M rows after 10,000 updates.
const ROWS_FOR_A_FINAL_REFRESH: usize = 1_000;

/// A page whose every record has been handled.
#[derive(Debug, Clone)]
pub(crate) struct PageDone {
    /// Records in the page.
    pub(crate) records: usize,
    /// Sync rows the page added.
    pub(crate) new_rows: usize,
    /// Their outcomes.
    pub(crate) stats: BatchStats,
    /// Busy records left for the next run (`IdsFrom::Finder`).
    pub(crate) deferred: usize,
    /// Records out of scope whose objects the run archives (`on_leave_scope`).
    pub(crate) leaving: Vec<(ResourceId, String)>,
}

/// The pages of a run, and whether the run was asked to stop: once it
/// was, no page is read from the stream or prepared any more (a page
/// already found ahead included); the pages prepared go through.
pub(crate) struct Pages<'a, S> {
    pub(crate) ids: S,
    pub(crate) stopping: &'a (dyn Fn() -> bool + Sync),
}

/// How a run that returned no error ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Every page of the stream went through.
    AllPages,
    /// A stop request left pages unread, or a page found ahead
    /// unprepared (their records were not looked at: no checkpoint past
    /// them).
    Stopped,
}

/// A prepared page and the number of its requests not answered yet.
struct Tracked<'a> {
    page: Page<'a>,
    remaining: AtomicUsize,
}

/// What the prepare stage hands the send stage.
enum Prepared<'a> {
    /// A page and its requests.
    Page(Arc<Tracked<'a>>, Vec<Request>),
    /// Finding or preparing a page failed: nothing is sent after the
    /// requests handed over before it.
    Failed(Error),
}

/// A request the CRM answered, whose rows are not written yet.
struct Answered<'a> {
    tracked: Arc<Tracked<'a>>,
    answers: Answers,
    /// Not cut short by a run error: its page can finish once it is written.
    complete: bool,
}

/// A page handed to the finish stage.
struct ToFinish<'a> {
    tracked: Arc<Tracked<'a>>,
    /// It needed no CRM request (not finished once the run failed: it is
    /// released as cut short, like a page whose requests were not sent).
    without_requests: bool,
}

/// What every stage of one run shares.
struct Shared<'a> {
    ctx: &'a Context,
    /// CRM requests and page finishes under way: `max_in_flight`.
    slots: Semaphore,
    /// Pages prepared and not finished, plus the one being prepared:
    /// `max_in_flight + 2` (the memory bound).
    open_slots: Semaphore,
    /// Pages prepared, to release those cut short at the end.
    open: Mutex<Vec<Arc<Tracked<'a>>>>,
    /// A run error happened: no request is sent any more.
    failed: AtomicBool,
    first_error: Mutex<Option<Error>>,
    /// Whether the run was asked to stop.
    stopping: &'a (dyn Fn() -> bool + Sync),
    /// A stop request left pages unread or unprepared.
    stopped: AtomicBool,
}

impl Shared<'_> {
    fn fail(&self, error: Error) {
        self.failed.store(true, Ordering::SeqCst);
        lock(&self.first_error).get_or_insert(error);
    }

    fn has_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

/// Syncs every page of `pages` with `target`'s CRM; `on_page` is called
/// as each page is done (pages may finish out of order).
pub(crate) async fn run<'a, S>(
    ctx: &'a Context,
    target: Target<'a>,
    crm: &'a str,
    model: &'a str,
    pages: Pages<'a, S>,
    ids_from: IdsFrom,
    mut on_page: impl FnMut(PageDone),
) -> Result<Ended>
where
    S: Stream<Item = Result<Vec<ResourceId>>> + Send + 'a,
{
    let Pages {
        ids: pages,
        stopping,
    } = pages;
    let in_flight = target.crm.max_in_flight;
    let shared = Shared {
        ctx,
        slots: Semaphore::new(in_flight),
        open_slots: Semaphore::new(in_flight + 2),
        open: Mutex::new(Vec::new()),
        failed: AtomicBool::new(false),
        first_error: Mutex::new(None),
        stopping,
        stopped: AtomicBool::new(false),
    };
    // One page found ahead; one page prepared ahead of the send stage.
    let (found_tx, found_rx) = mpsc::channel(1);
    let (prepared_tx, prepared_rx) = mpsc::channel(1);
    // Answers and finishes are bounded by the open pages, not by these.
    let (answered_tx, answered_rx) = mpsc::unbounded_channel();
    let (finish_tx, finish_rx) = mpsc::unbounded_channel();
    let prepare_page = move |ids| prepare(ctx, target, crm, model, ids, ids_from);

    tokio::join!(
        // 1. find: the next page's ids, while the page before it is prepared
        find_pages(&shared, pages, found_tx),
        // 2. prepare: lock, read and decide a page once the send stage took the previous one
        prepare_pages(
            &shared,
            found_rx,
            prepared_tx,
            finish_tx.clone(),
            prepare_page
        ),
        // 3. send: up to max_in_flight requests waiting on the CRM; a slot is free when it answers
        send_requests(&shared, in_flight, prepared_rx, answered_tx),
        // 4. write: the answers received during the previous write, together
        write_answers(&shared, answered_rx, finish_tx),
        // 5. finish: pages whose every request is answered and written
        finish_pages(&shared, finish_rx, &mut on_page),
    );

    // Pages cut short by an error: their locks go now, not at expiry, and
    // the records their written answers covered are counted.
    let open = std::mem::take(&mut *lock(&shared.open));
    for tracked in open.iter().filter(|t| !t.page.is_released()) {
        if let Err(error) = release(&tracked.page).await {
            shared.fail(error);
        }
        let stats = tracked.page.take_stats();
        on_page(PageDone {
            records: stats.handled(),
            new_rows: 0,
            stats,
            deferred: 0,
            leaving: Vec::new(),
        });
    }
    let first_error = lock(&shared.first_error).take();
    match first_error {
        Some(error) => Err(error),
        None if shared.stopped.load(Ordering::SeqCst) => Ok(Ended::Stopped),
        None => Ok(Ended::AllPages),
    }
}

/// Stage 1: reads the page stream, one page ahead of the prepare stage,
/// until the stream ends or the prepare stage stops taking pages.
async fn find_pages<S>(shared: &Shared<'_>, pages: S, found: mpsc::Sender<Result<Vec<ResourceId>>>)
where
    S: Stream<Item = Result<Vec<ResourceId>>>,
{
    let mut pages = std::pin::pin!(pages);
    // A free place first: the page after the next is not looked for.
    while let Ok(place) = found.reserve().await {
        if shared.has_failed() {
            return;
        }
        if (shared.stopping)() {
            shared.stopped.store(true, Ordering::SeqCst);
            return;
        }
        match pages.next().await {
            Some(page) => place.send(page),
            None => return,
        }
    }
}

/// Stage 2: prepares each page found, once the send stage has taken the
/// previous one (the requests waiting for a slot then belong to one page,
/// and this page's reads overlap their sending and writing) and fewer
/// than `max_in_flight + 2` pages are open.
async fn prepare_pages<'a, F, Fut>(
    shared: &Shared<'a>,
    mut found: mpsc::Receiver<Result<Vec<ResourceId>>>,
    prepared: mpsc::Sender<Prepared<'a>>,
    finish: mpsc::UnboundedSender<ToFinish<'a>>,
    prepare_page: F,
) where
    F: Fn(Vec<ResourceId>) -> Fut,
    Fut: std::future::Future<Output = Result<(Page<'a>, Vec<Request>)>>,
{
    loop {
        // The send stage has taken the previous page, and fewer than
        // `max_in_flight + 2` pages are open: only then is the page found
        // ahead taken (the find stage then looks for the next one).
        let Ok(place) = prepared.reserve().await else {
            return;
        };
        // The semaphore is never closed.
        let open_slot = shared.open_slots.acquire().await.ok();
        let Some(ids) = found.recv().await else {
            // The stream ended, or a stop request was seen while finding.
            return;
        };
        let ids = match ids {
            Ok(ids) if !shared.has_failed() => ids,
            Ok(_) => return,
            Err(error) => return place.send(Prepared::Failed(error)),
        };
        // A page found ahead is not prepared after a stop request.
        if (shared.stopping)() {
            shared.stopped.store(true, Ordering::SeqCst);
            return;
        }
        // Given back when the page finishes (`finish_page`).
        if let Some(open_slot) = open_slot {
            open_slot.forget();
        }
        let (page, requests) = match prepare_page(ids).await {
            Ok(prepared) => prepared,
            Err(error) => return place.send(Prepared::Failed(error)),
        };
        let tracked = Arc::new(Tracked {
            page,
            remaining: AtomicUsize::new(requests.len()),
        });
        {
            let mut open = lock(&shared.open);
            // Finished pages have released their lock: forget them (what
            // they hold goes with them, so memory follows the open pages).
            open.retain(|t| !t.page.is_released());
            open.push(Arc::clone(&tracked));
        }
        if requests.is_empty() {
            let _ = finish.send(ToFinish {
                tracked,
                without_requests: true,
            });
        } else {
            place.send(Prepared::Page(tracked, requests));
        }
    }
}

/// Stage 3: sends the requests of the pages prepared, each once a slot is
/// free (at most `max_in_flight` requests and page finishes at once); the
/// slot is given back as soon as the CRM answers. After a run error no
/// request is sent: the pages they belong to are released as cut short.
async fn send_requests<'a>(
    shared: &Shared<'a>,
    in_flight: usize,
    prepared: mpsc::Receiver<Prepared<'a>>,
    answered: mpsc::UnboundedSender<Answered<'a>>,
) {
    let requests = receive(prepared).flat_map(|prepared| {
        let items: Vec<(Arc<Tracked<'a>>, Request)> = match prepared {
            Prepared::Page(tracked, requests) => requests
                .into_iter()
                .map(|request| (Arc::clone(&tracked), request))
                .collect(),
            Prepared::Failed(error) => {
                shared.fail(error);
                Vec::new()
            }
        };
        stream::iter(items)
    });
    requests
        .for_each_concurrent(in_flight, |(tracked, request)| {
            let answered = answered.clone();
            async move {
                // The slots' semaphore is never closed.
                let slot = shared.slots.acquire().await.ok();
                if shared.has_failed() {
                    return;
                }
                let (answers, sent) = send(&tracked.page, request).await;
                drop(slot);
                let complete = sent.is_ok();
                if let Err(error) = sent {
                    shared.fail(error);
                }
                // The writer outlives every sender: a send cannot fail.
                let _ = answered.send(Answered {
                    tracked,
                    answers,
                    complete,
                });
            }
        })
        .await;
}

/// Stage 4: writes the rows of the answers received, one write at a time:
/// those that arrived during a write go together in the next one, one
/// statement per kind of change. A page whose every request is answered
/// and written goes to the finish stage. Answers are written after a run
/// error too: the CRM has them.
async fn write_answers<'a>(
    shared: &Shared<'a>,
    mut answered: mpsc::UnboundedReceiver<Answered<'a>>,
    finish: mpsc::UnboundedSender<ToFinish<'a>>,
) {
    while let Some(first) = answered.recv().await {
        let mut group = vec![first];
        while let Ok(more) = answered.try_recv() {
            group.push(more);
        }
        let pages: Vec<(&Page<'a>, &Answers)> = group
            .iter()
            .map(|a| (&a.tracked.page, &a.answers))
            .collect();
        if let Err(error) = record(shared.ctx.store(), &pages).await {
            shared.fail(error);
            continue;
        }
        // A request cut short never counts: its page is not finished.
        for done in group.into_iter().filter(|a| a.complete) {
            if done.tracked.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
                let _ = finish.send(ToFinish {
                    tracked: done.tracked,
                    without_requests: false,
                });
            }
        }
    }
}

/// Stage 5: finishes pages (the records left for later, the lock, the
/// follow-up work, busy records), each in a slot, and reports them; the
/// sync table's statistics are refreshed as it grows.
async fn finish_pages<'a>(
    shared: &Shared<'a>,
    mut to_finish: mpsc::UnboundedReceiver<ToFinish<'a>>,
    on_page: &mut impl FnMut(PageDone),
) {
    let mut finishing = FuturesUnordered::new();
    let mut new_rows_since_statistics = 0;
    loop {
        tokio::select! {
            Some(next) = to_finish.recv() => {
                if next.without_requests && shared.has_failed() {
                    continue;
                }
                finishing.push(finish_page(shared, next.tracked));
            }
            Some(done) = finishing.next() => {
                let done: Result<PageDone> = done;
                match done {
                    Ok(done) => {
                        new_rows_since_statistics += done.new_rows;
                        on_page(done);
                        if new_rows_since_statistics >= ROWS_BETWEEN_STATISTICS {
                            new_rows_since_statistics = 0;
                            refresh_statistics(shared).await;
                        }
                    }
                    Err(error) => shared.fail(error),
                }
            }
            else => break,
        }
    }
    if new_rows_since_statistics >= ROWS_FOR_A_FINAL_REFRESH {
        refresh_statistics(shared).await;
    }
}

/// Refreshes the sync table's planner statistics.
async fn refresh_statistics(shared: &Shared<'_>) {
    if let Err(error) = shared.ctx.store().backend().refresh_sync_statistics().await {
        shared.fail(error);
    }
}

/// Step 3 of a page whose every request is answered and written, in a
/// slot; the page's open slot is given back once it is done.
async fn finish_page(shared: &Shared<'_>, tracked: Arc<Tracked<'_>>) -> Result<PageDone> {
    // The slots' semaphore is never closed.
    let slot = shared.slots.acquire().await.ok();
    let finished = finish(&tracked.page).await;
    drop(slot);
    shared.open_slots.add_permits(1);
    let finished = finished?;
    Ok(PageDone {
        records: tracked.page.records,
        new_rows: tracked.page.new_rows,
        stats: finished.stats,
        deferred: finished.deferred,
        leaving: finished.leaving,
    })
}

/// A channel's receiving end as a stream.
fn receive<T>(receiver: mpsc::Receiver<T>) -> impl Stream<Item = T> {
    stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}
