//! A command's session on a configuration file: its settings, read and
//! checked once, and the engine built from them when the command first
//! asks for it (some commands need only the database, `migrate` not even
//! its tables). Engine errors are worded here, with the file's path, so
//! that commands hand them on with `?`.

use std::path::Path;

use etlify::jobs::JobQueue;
use etlify::{Etlify, Store};
use tokio::sync::OnceCell;

use crate::error::{CliError, CommandError};
use crate::settings::{self, Settings};

/// The configuration file read, and the engine once built.
#[derive(Debug)]
pub(crate) struct Session {
    settings: Settings,
    /// The engine running everything inline.
    inline: OnceCell<Etlify>,
    /// The engine on the job queue, and the queue.
    queued: OnceCell<(Etlify, JobQueue)>,
}

impl Session {
    /// Reads and checks the configuration file at `path` (without the
    /// database).
    pub(crate) fn load(path: &Path) -> Result<Self, CliError> {
        Ok(Self {
            settings: settings::load(path)?,
            inline: OnceCell::new(),
            queued: OnceCell::new(),
        })
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The configuration file, as messages name it.
    pub(crate) fn path(&self) -> &str {
        &self.settings.path
    }

    /// A command's failure, for the user: an engine error's configuration
    /// mistakes are prefixed by the file's path.
    pub(crate) fn error(&self, error: CommandError) -> CliError {
        match error {
            CommandError::Cli(error) => error,
            CommandError::Engine(error) => CliError::engine(self.path(), error),
        }
    }

    /// The database, which must exist already (only `migrate` creates it).
    pub(crate) async fn store(&self) -> etlify::Result<Store> {
        self.connect(true).await
    }

    /// The database; with `must_exist` false a SQLite file is created.
    pub(crate) async fn connect(&self, must_exist: bool) -> etlify::Result<Store> {
        let options = self.settings.store.clone().must_exist(must_exist);
        Store::connect_with(&self.settings.database_url, &options).await
    }

    /// The engine, running everything inline.
    pub(crate) async fn engine(&self) -> etlify::Result<&Etlify> {
        self.inline
            .get_or_try_init(|| async { self.build(self.store().await?, None).await })
            .await
    }

    /// The engine on the job queue (`[queue]`, or its defaults): `sync` and
    /// follow-up syncs are requested as jobs, batch jobs can be requested.
    /// Opening the queue creates its tables if needed.
    pub(crate) async fn engine_with_queue(&self) -> etlify::Result<(&Etlify, &JobQueue)> {
        let (etlify, queue) = self
            .queued
            .get_or_try_init(|| async {
                let store = self.store().await?;
                // Before the queue's tables are made: an unmigrated database
                // is refused with what to run, and gets nothing of the queue's.
                etlify::require_schema_up_to_date(&store).await?;
                let queue = JobQueue::open(&store, self.settings.queue.options.clone()).await?;
                let etlify = self.build(store, Some(queue.clone())).await?;
                Ok::<_, etlify::Error>((etlify, queue))
            })
            .await?;
        Ok((etlify, queue))
    }

    /// Builds the engine on `store`, which validates every declaration
    /// against the database.
    async fn build(&self, store: Store, queue: Option<JobQueue>) -> etlify::Result<Etlify> {
        let settings = &self.settings;
        let mut builder = Etlify::builder(store)
            .config(settings.config.clone())
            .metrics_min_interval(settings.metrics_min_interval)
            .metrics_change_latency(settings.metrics_change_latency);
        if let Some(queue) = queue {
            builder = builder.queue(queue).job_options(settings.queue.jobs);
        }
        for crm in &settings.crms {
            builder = builder.crm(crm.clone());
        }
        for model in &settings.models {
            builder = builder.model(model.clone());
        }
        builder.build().await
    }
}
