//! The pipelined batch path: a stream of pages of one (model, CRM) goes
//! through `batch.rs`'s steps with up to the CRM's
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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::stream::{FuturesUnordered, Stream, StreamExt};

use super::batch::{finish, prepare, record, release, send, Answers, BusyRecords, Page, Request};
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageDone {
    /// Records in the page.
    pub(crate) records: usize,
    /// Sync rows the page added.
    pub(crate) new_rows: usize,
    /// Their outcomes.
    pub(crate) stats: BatchStats,
    /// Busy records left for the next run (`BusyRecords::DeferMany`).
    pub(crate) deferred: usize,
}

/// A prepared page and the number of its requests not answered yet.
struct Tracked<'a> {
    page: Page<'a>,
    remaining: AtomicUsize,
}

/// A request the CRM answered, whose rows are not written yet.
struct Answered<'a> {
    tracked: Arc<Tracked<'a>>,
    answers: Answers,
    /// Not cut short by a run error: its page can finish once it is written.
    complete: bool,
}

/// One unit of work for the in-flight window.
enum Work<'a> {
    Request(Arc<Tracked<'a>>, Request),
    /// A page that needs no CRM request.
    Finish(Arc<Tracked<'a>>),
    Failed(Error),
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

/// Syncs every page of `pages` with `target`'s CRM; `on_page` is called
/// as each page is done (pages may finish out of order).
pub(crate) async fn run<'a, S>(
    ctx: &'a Context,
    target: Target<'a>,
    crm_name: &'a str,
    resource_type: &'a str,
    pages: Pages<'a, S>,
    busy: BusyRecords,
    mut on_page: impl FnMut(PageDone),
) -> Result<Ended>
where
    S: Stream<Item = Result<Vec<ResourceId>>> + Send + 'a,
{
    let Pages {
        ids: pages,
        stopping,
    } = pages;
    let mut ended = Ended::AllPages;
    let in_flight = target.crm.get_max_in_flight().max(1);
    let open: Mutex<Vec<Arc<Tracked<'a>>>> = Mutex::new(Vec::new());
    // Requests waiting on the CRM, and pages finishing: the slots.
    let mut asking = FuturesUnordered::new();
    let mut finishing = FuturesUnordered::new();
    let mut queue: VecDeque<Work<'a>> = VecDeque::new();
    // Answered requests whose rows wait for the write under way to end.
    let mut answered: Vec<Answered<'a>> = Vec::new();
    let mut writing = None;
    // The page stream, lent to the search for the next page and given back.
    let mut idle_pages = Some(Box::pin(pages));
    let mut finding = None;
    // The next page's ids, found while the page before it is prepared.
    let mut found: Option<Result<Vec<ResourceId>>> = None;
    let mut preparing = None;
    let mut stopped = false;
    let mut first_error = None;
    let mut written_since_statistics = 0;
    loop {
        while !stopped && asking.len() + finishing.len() < in_flight {
            match queue.pop_front() {
                None => break,
                Some(Work::Request(tracked, request)) => asking.push(ask(tracked, request)),
                Some(Work::Finish(tracked)) => finishing.push(finish_page(tracked)),
                Some(Work::Failed(error)) => {
                    stopped = true;
                    first_error.get_or_insert(error);
                }
            }
        }
        if writing.is_none() && !answered.is_empty() {
            writing = Some(Box::pin(write(ctx, std::mem::take(&mut answered))));
        }
        let unread = idle_pages.is_some() || matches!(found, Some(Ok(_)));
        if !stopped && unread && stopping() {
            // Asked to stop: the pages not read or prepared yet are left
            // (an error found stays, to be returned).
            idle_pages = None;
            found = found.filter(Result::is_err);
            ended = Ended::Stopped;
        }
        if !stopped
            && preparing.is_none()
            && at_most_one_page_queued(&queue)
            && open_pages(&open) <= in_flight + 1
        {
            match found.take() {
                Some(Ok(ids)) => {
                    preparing = Some(Box::pin(prepare(
                        ctx,
                        target,
                        crm_name,
                        resource_type,
                        ids,
                        busy,
                    )));
                }
                Some(Err(error)) => queue.push_back(Work::Failed(error)),
                None => {}
            }
        }
        if !stopped && found.is_none() && finding.is_none() {
            if let Some(mut pages) = idle_pages.take() {
                finding = Some(Box::pin(async move {
                    let next = pages.next().await;
                    (pages, next)
                }));
            }
        }
        let nothing_left = queue.is_empty() && found.is_none();
        if asking.is_empty()
            && finishing.is_empty()
            && writing.is_none()
            && answered.is_empty()
            && preparing.is_none()
            && finding.is_none()
            && (stopped || nothing_left)
        {
            break;
        }
        tokio::select! {
            Some((tracked, answers, sent)) = asking.next(), if !asking.is_empty() => {
                let complete = sent.is_ok();
                if let Err(error) = sent {
                    stopped = true;
                    first_error.get_or_insert(error);
                }
                answered.push(Answered { tracked, answers, complete });
            },
            (group, written) = async { writing.as_mut().expect("guarded by the condition").await }, if writing.is_some() => {
                writing = None;
                match written {
                    Ok(()) => {
                        // A page whose every request is answered and written
                        // is finished (a request cut short never counts).
                        for done in group.into_iter().filter(|a| a.complete) {
                            if done.tracked.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
                                finishing.push(finish_page(done.tracked));
                            }
                        }
                    }
                    Err(error) => {
                        stopped = true;
                        first_error.get_or_insert(error);
                    }
                }
            }
            Some(result) = finishing.next(), if !finishing.is_empty() => match result {
                Ok(done) => {
                    written_since_statistics += done.new_rows;
                    on_page(done);
                    if written_since_statistics >= ROWS_BETWEEN_STATISTICS {
                        written_since_statistics = 0;
                        if let Err(error) = ctx.store().backend().refresh_sync_statistics().await {
                            stopped = true;
                            first_error.get_or_insert(error);
                        }
                    }
                }
                Err(error) => {
                    stopped = true;
                    first_error.get_or_insert(error);
                }
            },
            prepared = async { preparing.as_mut().expect("guarded by the condition").await }, if preparing.is_some() => {
                preparing = None;
                queue.extend(work_of(prepared, &open));
            }
            (pages, next) = async { finding.as_mut().expect("guarded by the condition").await }, if finding.is_some() => {
                finding = None;
                // `None`: every page read; the stream is not lent again.
                if next.is_some() {
                    idle_pages = Some(pages);
                }
                found = next;
            }
        }
    }
    if written_since_statistics >= ROWS_FOR_A_FINAL_REFRESH {
        if let Err(error) = ctx.store().backend().refresh_sync_statistics().await {
            first_error.get_or_insert(error);
        }
    }
    // Pages cut short by an error: their locks go now, not at expiry, and
    // the records their written answers covered are counted.
    drop(queue);
    let open = std::mem::take(&mut *open.lock().unwrap_or_else(|p| p.into_inner()));
    for tracked in open.iter().filter(|t| !t.page.is_released()) {
        if let Err(error) = release(&tracked.page).await {
            first_error.get_or_insert(error);
        }
        let stats = tracked.page.take_stats();
        on_page(PageDone {
            records: stats.handled(),
            new_rows: 0,
            stats,
            deferred: 0,
        });
    }
    first_error.map_or(Ok(ended), Err)
}

/// Pages prepared and not finished yet.
fn open_pages(open: &Mutex<Vec<Arc<Tracked<'_>>>>) -> usize {
    let open = open.lock().unwrap_or_else(|p| p.into_inner());
    open.iter().filter(|t| !t.page.is_released()).count()
}

/// Whether the requests waiting for a slot belong to one page at most:
/// the next page is then prepared while they wait and while the requests
/// in flight answer, so its reads overlap their writes.
fn at_most_one_page_queued(queue: &VecDeque<Work<'_>>) -> bool {
    match (queue.front(), queue.back()) {
        (Some(Work::Request(first, _)), Some(Work::Request(last, _))) => Arc::ptr_eq(first, last),
        (Some(_), Some(_)) => queue.len() == 1,
        _ => true,
    }
}

/// The work items of a prepared page (or of its failure).
fn work_of<'a>(
    prepared: Result<(Page<'a>, Vec<Request>)>,
    open: &Mutex<Vec<Arc<Tracked<'a>>>>,
) -> Vec<Work<'a>> {
    let (page, requests) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return vec![Work::Failed(error)],
    };
    let tracked = Arc::new(Tracked {
        page,
        remaining: AtomicUsize::new(requests.len()),
    });
    {
        let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
        // Finished pages have released their lock: forget them.
        open.retain(|t| !t.page.is_released());
        open.push(Arc::clone(&tracked));
    }
    if requests.is_empty() {
        return vec![Work::Finish(tracked)];
    }
    requests
        .into_iter()
        .map(|request| Work::Request(Arc::clone(&tracked), request))
        .collect()
}

/// Sends one request of a page; returns its answers and whether it was
/// cut short by a run error.
async fn ask<'a>(
    tracked: Arc<Tracked<'a>>,
    request: Request,
) -> (Arc<Tracked<'a>>, Answers, Result<()>) {
    let (answers, sent) = send(&tracked.page, request).await;
    (tracked, answers, sent)
}

/// Writes the rows of answered requests, of one page or several, in one
/// statement per kind of change; returns them, to count what they finish.
async fn write<'a>(ctx: &Context, group: Vec<Answered<'a>>) -> (Vec<Answered<'a>>, Result<()>) {
    let answered: Vec<(&Page<'a>, &Answers)> = group
        .iter()
        .map(|a| (&a.tracked.page, &a.answers))
        .collect();
    let written = record(ctx.store(), &answered).await;
    (group, written)
}

/// Step 3 of a page whose every request is answered and written.
async fn finish_page(tracked: Arc<Tracked<'_>>) -> Result<PageDone> {
    let (stats, deferred) = finish(&tracked.page).await?;
    Ok(PageDone {
        records: tracked.page.records,
        new_rows: tracked.page.new_rows,
        stats,
        deferred,
    })
}
