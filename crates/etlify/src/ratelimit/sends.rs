//! The requests one limiter counted in this process, and when each leaves
//! the CRM's window.
//!
//! A CRM counts a request when it arrives, somewhere between its send and
//! its answer. The window keeps each request for its period from a time
//! that cannot be earlier than that arrival, relative to the requests that
//! follow it: its send, plus how much later than the fastest request it
//! may have arrived. Until it is answered that is the spread of recent
//! latencies (the worst); once answered, its own lateness: how much longer
//! than the fastest request it took. Most requests are answered close to
//! the fastest, so the place of an answered request is freed tens of
//! milliseconds before the worst spread would free it (issue 26, item 5:
//! on a 1-second window at 1 s of latency the worst spread cost 5% of the
//! bound).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// One counted request.
#[derive(Debug, Clone, Copy)]
struct Send {
    /// Which request (a counter of the limiter's takes).
    id: u64,
    /// When it was counted as sent.
    at: Instant,
    /// How much later than the fastest request the CRM may have counted
    /// it, once it is answered; `None` while it is not.
    late_by: Option<Duration>,
}

/// The last `capacity` requests of one limit, in the order they were sent.
#[derive(Debug)]
pub(super) struct SendLog {
    sends: VecDeque<Send>,
    capacity: usize,
    next_id: u64,
}

/// What the window is when a send's place in it is reckoned: the period
/// with its fixed margin, and how late an unanswered request may have
/// been counted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reckoning {
    /// The period plus the fixed margin.
    pub window: Duration,
    /// The lateness assumed of a request not answered yet.
    pub unanswered_late_by: Duration,
}

impl Reckoning {
    /// When `send` leaves the window.
    fn leaves(&self, send: &Send) -> Instant {
        send.at + send.late_by.unwrap_or(self.unanswered_late_by) + self.window
    }
}

impl SendLog {
    /// An empty log of `capacity` (the limit's requests per period).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            sends: VecDeque::with_capacity(capacity),
            capacity,
            next_id: 0,
        }
    }

    /// The send whose place in the window frees first, when the log is
    /// full (no place is free before it leaves).
    fn first_to_leave(&self, reckoning: Reckoning) -> Option<(usize, Instant)> {
        if self.sends.len() < self.capacity {
            return None;
        }
        self.sends
            .iter()
            .enumerate()
            .map(|(index, send)| (index, reckoning.leaves(send)))
            .min_by_key(|(_, leaves)| *leaves)
    }

    /// How long from `now` until one more request may go.
    pub(super) fn wait(&self, now: Instant, reckoning: Reckoning) -> Duration {
        self.first_to_leave(reckoning)
            .map_or(Duration::ZERO, |(_, leaves)| {
                leaves.saturating_duration_since(now)
            })
    }

    /// Counts a request sent at `at` in the place of the one that leaves
    /// first (the log is kept to `capacity`); its id.
    pub(super) fn push(&mut self, at: Instant, reckoning: Reckoning) -> u64 {
        if let Some((index, _)) = self.first_to_leave(reckoning) {
            self.sends.remove(index);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.sends.push_back(Send {
            id,
            at,
            late_by: None,
        });
        id
    }

    /// Request `id` was answered: the CRM counted it at most `late_by`
    /// later than the fastest request (it may have left the log).
    pub(super) fn answered(&mut self, id: u64, late_by: Duration) {
        if let Some(send) = self.sends.iter_mut().find(|send| send.id == id) {
            send.late_by = Some(late_by);
        }
    }

    /// Request `id` leaves only `now` (it waited for another limit after
    /// it was counted): counted as sent now, the latest send.
    pub(super) fn move_to(&mut self, id: u64, now: Instant) {
        if let Some(index) = self.sends.iter().position(|send| send.id == id) {
            if let Some(mut send) = self.sends.remove(index) {
                send.at = now;
                send.late_by = None;
                self.sends.push_back(send);
            }
        }
    }

    /// The send time of the `back`-th last request (0: the last one).
    pub(super) fn sent_at(&self, back: usize) -> Option<Instant> {
        let index = self.sends.len().checked_sub(back + 1)?;
        self.sends.get(index).map(|send| send.at)
    }

    /// Requests still in the window at `now`.
    pub(super) fn in_window(&self, now: Instant, reckoning: Reckoning) -> usize {
        self.sends
            .iter()
            .filter(|send| reckoning.leaves(send) > now)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reckoning() -> Reckoning {
        Reckoning {
            window: Duration::from_millis(1_010),
            unanswered_late_by: Duration::from_millis(50),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ratelimit_an_unanswered_request_keeps_its_place_for_the_worst_lateness() {
        let mut log = SendLog::new(1);
        let start = Instant::now();
        log.push(start, reckoning());
        assert_eq!(
            log.wait(start, reckoning()),
            Duration::from_millis(1_010 + 50)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ratelimit_an_answered_request_keeps_its_place_for_its_own_lateness() {
        let mut log = SendLog::new(1);
        let start = Instant::now();
        let id = log.push(start, reckoning());
        log.answered(id, Duration::from_millis(5));
        assert_eq!(
            log.wait(start, reckoning()),
            Duration::from_millis(1_010 + 5)
        );
    }

    /// A later request answered early leaves before an earlier one still
    /// unanswered: the next request takes its place, and the unanswered
    /// one keeps counting.
    #[tokio::test(start_paused = true)]
    async fn ratelimit_the_request_that_leaves_first_gives_up_its_place() {
        let mut log = SendLog::new(2);
        let start = Instant::now();
        let slow = log.push(start, reckoning());
        let fast = log.push(start + Duration::from_millis(20), reckoning());
        log.answered(fast, Duration::ZERO);
        let now = start + Duration::from_millis(1_030);
        assert_eq!(log.wait(now, reckoning()), Duration::ZERO);
        log.push(now, reckoning());
        assert_eq!(log.in_window(now, reckoning()), 2);
        assert_eq!(
            log.wait(now, reckoning()),
            Duration::from_millis(1_060 - 1_030),
            "the unanswered one is still counted until its worst lateness"
        );
        log.answered(slow, Duration::from_millis(40));
        assert_eq!(log.wait(now, reckoning()), Duration::from_millis(20));
    }
}
