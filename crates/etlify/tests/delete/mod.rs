//! The deleter (G-3, G-4, X-11).

use std::time::Duration;

use etlify::adapters::{AdapterError, AdapterErrorKind, RemoteDelete};
use etlify::{Crm, DeleteOutcome, Error, SyncDispatch, SyncOutcome};

use crate::support::adapter::RecordingAdapter;
use crate::support::{engine, hubspot_users, user_model, TestDb};

// The database tests, compiled once per backend: `delete::sqlite::…` and
// `delete::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
