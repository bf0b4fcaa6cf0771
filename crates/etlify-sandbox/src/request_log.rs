//! What the sandbox received: counts per endpoint (method + route template),
//! per status, the most recent requests in full, and the peak number of
//! requests seen in each rate-limit window. Admin requests are not logged,
//! so a count of 0 proves that no request was made.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ratelimit::{FixedWindow, SlidingWindow};

/// Which emulated API a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// HubSpot CRM v3.
    Hubspot,
    /// Airtable Web API v0.
    Airtable,
    /// The webhook receiver.
    Webhook,
    /// Salesforce REST API.
    Salesforce,
    /// Brevo's contacts API v3.
    Brevo,
    /// Intercom REST API.
    Intercom,
    /// A path that belongs to neither API.
    Unknown,
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEntry {
    /// Milliseconds since the sandbox started.
    pub at_ms: u64,
    /// API addressed.
    pub api: Api,
    /// HTTP method.
    pub method: String,
    /// Route template, e.g. `/crm/v3/objects/{objectType}/batch/upsert`, or `<unmatched>`.
    pub route: String,
    /// Path actually requested (without the query string).
    pub path: String,
    /// Status sent; `None` when the connection was dropped without a response.
    pub status: Option<u16>,
}

/// Counters of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCount {
    /// API addressed.
    pub api: Api,
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
    /// Requests received.
    pub count: u64,
    /// Requests per response status (`"dropped"` for dropped connections).
    pub statuses: BTreeMap<String, u64>,
}

/// The highest number of requests seen in one rate-limit window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPeak {
    /// Bucket name: `hubspot.per_app`, `hubspot.daily`, `hubspot.search`,
    /// `airtable.per_base`, `airtable.per_token`.
    pub policy: String,
    /// Bucket instance: `app-0` (token index), `account`, a base id, `token-0`.
    pub key: String,
    /// Window length in ms.
    pub window_ms: u64,
    /// Most requests (admitted or not) that arrived within one window.
    pub peak: u64,
}

/// A copy of the request log, as the admin API returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLogSnapshot {
    /// Requests received by both APIs (admin requests excluded).
    pub total: u64,
    /// Counters per endpoint, sorted by API, route, method.
    pub endpoints: Vec<EndpointCount>,
    /// Peak requests per rate-limit window.
    pub peaks: Vec<WindowPeak>,
    /// The most recent requests, oldest first (bounded by `request_log_capacity`).
    pub recent: Vec<RequestEntry>,
}

impl RequestLogSnapshot {
    /// Requests received for `method` + `route` template (0 when none).
    pub fn count(&self, method: &str, route: &str) -> u64 {
        self.endpoints
            .iter()
            .filter(|e| e.method.eq_ignore_ascii_case(method) && e.route == route)
            .map(|e| e.count)
            .sum()
    }

    /// Requests received by one API.
    pub fn count_api(&self, api: Api) -> u64 {
        self.endpoints
            .iter()
            .filter(|e| e.api == api)
            .map(|e| e.count)
            .sum()
    }

    /// Responses with `status` over all endpoints.
    pub fn count_status(&self, status: u16) -> u64 {
        let key = status.to_string();
        self.endpoints
            .iter()
            .filter_map(|e| e.statuses.get(&key))
            .sum()
    }

    /// Peak of the bucket `policy` / `key`, if it saw any request.
    pub fn peak(&self, policy: &str, key: &str) -> Option<u64> {
        self.peaks
            .iter()
            .find(|p| p.policy == policy && p.key == key)
            .map(|p| p.peak)
    }
}

#[derive(Debug)]
enum PeakCounter {
    Sliding(SlidingWindow),
    Fixed(FixedWindow),
}

#[derive(Debug)]
struct PeakWindow {
    window_ms: u64,
    counter: PeakCounter,
    peak: u64,
}

/// Shape of a rate-limit window for peak tracking.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WindowShape {
    /// Rolling window (10-second, per-second buckets).
    Rolling(Duration),
    /// Fixed consecutive windows (the daily bucket).
    Fixed(Duration),
}

type EndpointKey = (Api, String, String);

/// The live log.
#[derive(Debug)]
pub(crate) struct RequestLog {
    started: Instant,
    capacity: usize,
    total: u64,
    endpoints: BTreeMap<EndpointKey, BTreeMap<String, u64>>,
    recent: VecDeque<RequestEntry>,
    peaks: BTreeMap<(String, String), PeakWindow>,
}

impl RequestLog {
    pub(crate) fn new(capacity: usize, started: Instant) -> Self {
        Self {
            started,
            capacity,
            total: 0,
            endpoints: BTreeMap::new(),
            recent: VecDeque::new(),
            peaks: BTreeMap::new(),
        }
    }

    pub(crate) fn millis_since_start(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
    }

    /// Records a finished (or dropped) request.
    pub(crate) fn record(&mut self, entry: RequestEntry) {
        self.total += 1;
        let status = entry
            .status
            .map_or_else(|| "dropped".to_owned(), |s| s.to_string());
        *self
            .endpoints
            .entry((entry.api, entry.route.clone(), entry.method.clone()))
            .or_default()
            .entry(status)
            .or_default() += 1;
        if self.capacity > 0 {
            if self.recent.len() == self.capacity {
                self.recent.pop_front();
            }
            self.recent.push_back(entry);
        }
    }

    /// Counts one arrival in the rate-limit bucket `policy`/`key`.
    pub(crate) fn observe_window(
        &mut self,
        policy: &str,
        key: &str,
        shape: WindowShape,
        now: Instant,
    ) {
        let window = self
            .peaks
            .entry((policy.to_owned(), key.to_owned()))
            .or_insert_with(|| match shape {
                WindowShape::Rolling(length) => PeakWindow {
                    window_ms: u64::try_from(length.as_millis()).unwrap_or(u64::MAX),
                    counter: PeakCounter::Sliding(SlidingWindow::new(length)),
                    peak: 0,
                },
                WindowShape::Fixed(length) => PeakWindow {
                    window_ms: u64::try_from(length.as_millis()).unwrap_or(u64::MAX),
                    counter: PeakCounter::Fixed(FixedWindow::new(length, now)),
                    peak: 0,
                },
            });
        let in_window = match &mut window.counter {
            PeakCounter::Sliding(counter) => counter.record(now),
            PeakCounter::Fixed(counter) => counter.record(now),
        };
        window.peak = window.peak.max(in_window);
    }

    /// Forgets everything (the start time stays).
    pub(crate) fn clear(&mut self) {
        self.total = 0;
        self.endpoints.clear();
        self.recent.clear();
        self.peaks.clear();
    }

    pub(crate) fn snapshot(&self) -> RequestLogSnapshot {
        RequestLogSnapshot {
            total: self.total,
            endpoints: self
                .endpoints
                .iter()
                .map(|((api, route, method), statuses)| EndpointCount {
                    api: *api,
                    method: method.clone(),
                    route: route.clone(),
                    count: statuses.values().sum(),
                    statuses: statuses.clone(),
                })
                .collect(),
            peaks: self
                .peaks
                .iter()
                .map(|((policy, key), window)| WindowPeak {
                    policy: policy.clone(),
                    key: key.clone(),
                    window_ms: window.window_ms,
                    peak: window.peak,
                })
                .collect(),
            recent: self.recent.iter().cloned().collect(),
        }
    }
}
