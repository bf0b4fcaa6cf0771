//! One file per command: its flags (`Args`), its output types and `run`.
//! Commands on the configuration file take the `Session`; `demo`, `init`,
//! `schema`, `sandbox` and `completions` need no file. The `Args` structs have no doc
//! comment: clap would make it the command's help, which `main.rs`'s
//! `Command` gives.

pub(crate) mod check;
pub(crate) mod completions;
pub(crate) mod crm_schema;
pub(crate) mod crms;
pub(crate) mod delete_record;
pub(crate) mod demo;
pub(crate) mod errors;
pub(crate) mod forget;
pub(crate) mod init;
pub(crate) mod migrate;
pub(crate) mod new_model;
pub(crate) mod plan;
pub(crate) mod runs;
pub(crate) mod sandbox;
pub(crate) mod schema;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod sync_record;
pub(crate) mod worker;

use etlify::BatchSyncOptions;

// Which records `plan` and `sync` look at.
#[derive(Debug, clap::Args)]
pub(crate) struct Selection {
    /// Only this CRM.
    #[arg(long)]
    pub crm: Option<String>,
    /// Only these models (repeat the option).
    #[arg(long)]
    pub model: Vec<String>,
    /// Every record in scope, not only stale ones (a full reconcile).
    #[arg(long)]
    pub full: bool,
    /// Look at every record's sync state, not only at what changed since
    /// the last run (after deleting sync rows or resetting errors by hand).
    #[arg(long)]
    pub complete: bool,
}

impl Selection {
    pub(crate) fn options(&self) -> BatchSyncOptions {
        let mut options = BatchSyncOptions::new()
            .full_reconcile(self.full)
            .complete(self.complete);
        if let Some(crm) = &self.crm {
            options = options.crm(crm);
        }
        if !self.model.is_empty() {
            options = options.models(self.model.clone());
        }
        options
    }
}
