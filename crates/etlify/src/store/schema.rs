//! The sync-state schema: embedded, idempotent migrations and the check
//! that reports what is missing (as the gem's generators and boot check did; X-6, G-26).
//!
//! Tables and columns keep the Rails gem's names and meanings, so a database
//! the gem already fills is taken over as is. The indexes differ on purpose:
//! the gem's global unique `crm_id` index and its unique
//! `(resource_type, resource_id)` index are dropped (they forbid multi-CRM
//! and equal ids across CRMs); uniqueness is per `(crm_name, resource_type,
//! resource_id)` and per `(crm_name, resource_type, crm_id)`.

use std::borrow::Cow;
use std::fmt;

use sea_query::{Alias, Expr, ExprTrait, Query};

use super::backend::StateTable;
use super::Store;
use crate::error::{Error, Result};
use crate::id::KeyType;

/// Table of sync rows.
pub(crate) const SYNC_TABLE: &str = "crm_synchronisations";
/// Table of records waiting for a sync dependency.
pub(crate) const PENDING_TABLE: &str = "etlify_pending_syncs";
/// Table of named leases: one batch run per CRM (G-10).
pub(crate) const LEASE_TABLE: &str = "etlify_leases";
/// Table of leases on ranges of record ids: record locks (X-8).
pub(crate) const RECORD_LEASE_TABLE: &str = "etlify_record_leases";
/// Table of batch-run checkpoints: where the next run starts looking.
pub(crate) const CHECKPOINT_TABLE: &str = "etlify_sync_checkpoints";
/// Table of the send times of each CRM's last requests, shared by workers.
pub(crate) const RATE_SLOT_TABLE: &str = "etlify_rate_slots";
/// Table of sync jobs queued or running: one per record or CRM batch.
pub(crate) const JOB_REQUEST_TABLE: &str = "etlify_job_requests";
/// Table of batch runs, one row per run of a CRM (`etlify runs`).
pub(crate) const RUN_TABLE: &str = "etlify_runs";
/// Table of alert incidents: one alert per incident, over every worker.
pub(crate) const ALERT_INCIDENT_TABLE: &str = "etlify_alert_incidents";
/// Table of what each record is linked to in each CRM (`store/links.rs`).
pub(crate) const LINK_TABLE: &str = "etlify_links";

/// The command that fixes every problem [`check_schema`](crate::check_schema)
/// reports, as [`SchemaReport`] prints it for Rust callers (the CLI
/// renders [`crate::Remedy::Migrate`] as `etlify migrate` alone).
pub const FIX_COMMAND: &str =
    "etlify migrate (or etlify::migrate(&store, &MigrateOptions::default()).await from Rust)";

const SYNC_COLUMNS: &[&str] = &[
    "id",
    "crm_id",
    "resource_type",
    "resource_id",
    "last_digest",
    "field_digests",
    "last_synced_at",
    "last_error",
    "crm_name",
    "error_count",
    "created_at",
    "updated_at",
];

const LEASE_COLUMNS: &[&str] = &["name", "owner", "expires_at"];

const RECORD_LEASE_COLUMNS: &[&str] = &[
    "crm_name",
    "resource_type",
    "first_id",
    "last_id",
    "owner",
    "expires_at",
];

const CHECKPOINT_COLUMNS: &[&str] = &[
    "crm_name",
    "resource_type",
    "finder",
    "changes_through",
    "ids_through",
    "lowest_synced_id",
    "complete_at",
];

const RATE_SLOT_COLUMNS: &[&str] = &["crm_name", "slot", "sent_at"];

const JOB_REQUEST_COLUMNS: &[&str] = &[
    "kind",
    "crm_name",
    "resource_type",
    "resource_id",
    "running",
    "again",
    "requested_at",
];

const RUN_COLUMNS: &[&str] = &[
    "id",
    "crm_name",
    "triggered_by",
    "runner",
    "status",
    "started_at",
    "finished_at",
    "records",
    "errors",
    "per_model",
    "interruption",
];

const ALERT_INCIDENT_COLUMNS: &[&str] = &[
    "kind",
    "crm_name",
    "subject",
    "opened_at",
    "resolved_at",
    "notified_at",
    "summary",
];

const LINK_COLUMNS: &[&str] = &[
    "crm_name",
    "from_type",
    "from_id",
    "link_name",
    "to_type",
    "to_id",
    "from_object_type",
    "to_object_type",
    "from_crm_id",
    "to_crm_id",
    "association",
    "linked_at",
];

/// `etlify_runs` by start time: pruning the oldest runs.
pub(crate) const RUN_STARTED_INDEX: &str = "idx_etlify_runs_started_at";
/// `etlify_runs` per CRM by start time: a CRM's newest runs, and pruning
/// a CRM's runs past the count kept.
pub(crate) const RUN_CRM_INDEX: &str = "idx_etlify_runs_crm_started_at";

const PENDING_COLUMNS: &[&str] = &[
    "id",
    "dependent_type",
    "dependent_id",
    "dependency_type",
    "dependency_id",
    "crm_name",
    "created_at",
    "updated_at",
];

/// Unique `(crm_name, resource_type, resource_id)`; the gem's own name, so
/// a database migrated by the gem keeps its index.
pub(crate) const UNIQUE_RESOURCE_INDEX: &str = "idx_unique_crm_sync_resource_crm";
/// Unique `(crm_name, resource_type, crm_id)` (X-6).
pub(crate) const UNIQUE_CRM_ID_INDEX: &str = "idx_etlify_sync_unique_crm_id";
/// The gem's indexes that break multi-CRM setups (X-6):
/// its global `crm_id` index, and its pre-0.9 `(resource_type,
/// resource_id)` index (the same name with `crm_name` added is kept).
pub(crate) const OBSOLETE_INDEXES: &[&str] = &[
    "index_crm_synchronisations_on_crm_id",
    "idx_crm_sync_on_resource",
];

/// The `last_synced_at` index of etlify before 2026-12 (dropped by
/// [`migrate`]; recreated by [`revert`] where it was dropped).
const SYNCED_AT_INDEX: &str = r#"CREATE INDEX IF NOT EXISTS "idx_etlify_sync_last_synced_at" ON "crm_synchronisations" ("crm_name", "resource_type", "last_synced_at")"#;
/// The partial index of the rows never stamped, of etlify before
/// 2026-12-06 (dropped by [`migrate`]; recreated by [`revert`] where it
/// was dropped).
pub(crate) const NEVER_STAMPED_INDEX: &str = "idx_etlify_sync_never_stamped";
const NEVER_STAMPED_INDEX_SQL: &str = r#"CREATE INDEX IF NOT EXISTS "idx_etlify_sync_never_stamped" ON "crm_synchronisations" ("crm_name", "resource_type", "resource_id") WHERE "last_synced_at" IS NULL"#;

/// Table recording what [`migrate`] changed, for [`revert`].
pub(crate) const HISTORY_TABLE: &str = "etlify_schema_migrations";

/// One schema change [`migrate`] may make, with its inverse. Statements are
/// constants (identical on both backends unless noted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    CreateSyncTable,
    CreatePendingTable,
    CreateLeaseTable,
    CreateRecordLeaseTable,
    CreateCheckpointTable,
    CreateRateSlotTable,
    CreateJobRequestTable,
    AddErrorCount,
    AddCrmName,
    AddFieldDigests,
    /// PostgreSQL only.
    CrmNameNotNull,
    DropGemCrmIdIndex,
    DropGemResourceIndex,
    CreateResourceIndex,
    CreateCrmIdIndex,
    CreatePendingDependencyIndex,
    CreatePendingUniqueIndex,
    /// Superseded by [`Step::CreateNeverStampedIndex`]: kept so that a
    /// history recorded before it still reverts.
    CreateSyncedAtIndex,
    CreateErrorRowsIndex,
    DropSyncedAtIndex,
    /// Superseded by [`Step::DropNeverStampedIndex`]: kept so that a
    /// history recorded before it still reverts.
    CreateNeverStampedIndex,
    DropNeverStampedIndex,
    /// PostgreSQL only.
    SetSyncFillfactor,
    CreateRunTable,
    CreateRunStartedIndex,
    CreateRunCrmIndex,
    CreateAlertIncidentTable,
    CreateLinkTable,
    /// Where indexes cannot be partial (MySQL), in place of
    /// [`Step::CreateErrorRowsIndex`].
    CreateErrorCountIndex,
}

const ALL_STEPS: [Step; 29] = [
    Step::CreateSyncTable,
    Step::CreatePendingTable,
    Step::CreateLeaseTable,
    Step::CreateRecordLeaseTable,
    Step::CreateCheckpointTable,
    Step::CreateRateSlotTable,
    Step::CreateJobRequestTable,
    Step::AddErrorCount,
    Step::AddCrmName,
    Step::AddFieldDigests,
    Step::CrmNameNotNull,
    Step::DropGemCrmIdIndex,
    Step::DropGemResourceIndex,
    Step::CreateResourceIndex,
    Step::CreateCrmIdIndex,
    Step::CreatePendingDependencyIndex,
    Step::CreatePendingUniqueIndex,
    Step::CreateSyncedAtIndex,
    Step::CreateErrorRowsIndex,
    Step::DropSyncedAtIndex,
    Step::CreateNeverStampedIndex,
    Step::DropNeverStampedIndex,
    Step::SetSyncFillfactor,
    Step::CreateRunTable,
    Step::CreateRunStartedIndex,
    Step::CreateRunCrmIndex,
    Step::CreateAlertIncidentTable,
    Step::CreateLinkTable,
    Step::CreateErrorCountIndex,
];

impl Step {
    /// Name recorded in the history table.
    fn name(self) -> &'static str {
        match self {
            Step::CreateSyncTable => "create_table:crm_synchronisations",
            Step::CreatePendingTable => "create_table:etlify_pending_syncs",
            Step::CreateLeaseTable => "create_table:etlify_leases",
            Step::CreateRecordLeaseTable => "create_table:etlify_record_leases",
            Step::CreateCheckpointTable => "create_table:etlify_sync_checkpoints",
            Step::CreateRateSlotTable => "create_table:etlify_rate_slots",
            Step::CreateJobRequestTable => "create_table:etlify_job_requests",
            Step::AddErrorCount => "add_column:crm_synchronisations.error_count",
            Step::AddCrmName => "add_column:crm_synchronisations.crm_name",
            Step::AddFieldDigests => "add_column:crm_synchronisations.field_digests",
            Step::CrmNameNotNull => "set_not_null:crm_synchronisations.crm_name",
            Step::DropGemCrmIdIndex => "drop_index:index_crm_synchronisations_on_crm_id",
            Step::DropGemResourceIndex => "drop_index:idx_crm_sync_on_resource",
            Step::CreateResourceIndex => "create_index:idx_unique_crm_sync_resource_crm",
            Step::CreateCrmIdIndex => "create_index:idx_etlify_sync_unique_crm_id",
            Step::CreatePendingDependencyIndex => {
                "create_index:idx_pending_syncs_on_dependency_crm"
            }
            Step::CreatePendingUniqueIndex => "create_index:idx_unique_pending_sync",
            Step::CreateSyncedAtIndex => "create_index:idx_etlify_sync_last_synced_at",
            Step::CreateErrorRowsIndex => "create_index:idx_etlify_sync_errors",
            Step::DropSyncedAtIndex => "drop_index:idx_etlify_sync_last_synced_at",
            Step::CreateNeverStampedIndex => "create_index:idx_etlify_sync_never_stamped",
            Step::DropNeverStampedIndex => "drop_index:idx_etlify_sync_never_stamped",
            Step::SetSyncFillfactor => "set_fillfactor:crm_synchronisations",
            Step::CreateRunTable => "create_table:etlify_runs",
            Step::CreateRunStartedIndex => "create_index:idx_etlify_runs_started_at",
            Step::CreateRunCrmIndex => "create_index:idx_etlify_runs_crm_started_at",
            Step::CreateAlertIncidentTable => "create_table:etlify_alert_incidents",
            Step::CreateLinkTable => "create_table:etlify_links",
            Step::CreateErrorCountIndex => "create_index:idx_etlify_sync_error_count",
        }
    }

    fn parse(name: &str) -> Option<Step> {
        ALL_STEPS.into_iter().find(|step| step.name() == name)
    }

    /// The index a step creates or drops.
    fn index_name(self) -> Option<&'static str> {
        self.name().split_once("_index:").map(|(_, index)| index)
    }

    /// The statement applying the step on `store`'s backend; tables are
    /// created with record keys of `keys`.
    fn forward(self, store: &Store, keys: KeyType) -> Cow<'static, str> {
        let create = |table| Cow::Owned(store.dialect().create_table(table, keys));
        Cow::Borrowed(match self {
            Step::CreateSyncTable => return create(StateTable::Sync),
            Step::CreatePendingTable => return create(StateTable::Pending),
            Step::CreateLeaseTable => return create(StateTable::Leases),
            Step::CreateRecordLeaseTable => return create(StateTable::RecordLeases),
            Step::CreateCheckpointTable => return create(StateTable::Checkpoints),
            Step::CreateRateSlotTable => return create(StateTable::RateSlots),
            Step::CreateJobRequestTable => return create(StateTable::JobRequests),
            Step::CreateRunTable => return create(StateTable::Runs),
            Step::CreateAlertIncidentTable => return create(StateTable::AlertIncidents),
            Step::CreateLinkTable => return create(StateTable::Links),
            Step::CreateRunStartedIndex => {
                r#"CREATE INDEX IF NOT EXISTS "idx_etlify_runs_started_at" ON "etlify_runs" ("started_at")"#
            }
            Step::CreateRunCrmIndex => {
                r#"CREATE INDEX IF NOT EXISTS "idx_etlify_runs_crm_started_at" ON "etlify_runs" ("crm_name", "started_at")"#
            }
            Step::AddErrorCount => {
                r#"ALTER TABLE "crm_synchronisations" ADD COLUMN "error_count" integer DEFAULT 0 NOT NULL"#
            }
            Step::AddCrmName => {
                r#"ALTER TABLE "crm_synchronisations" ADD COLUMN "crm_name" varchar"#
            }
            Step::AddFieldDigests => {
                r#"ALTER TABLE "crm_synchronisations" ADD COLUMN "field_digests" text"#
            }
            Step::CrmNameNotNull => {
                r#"ALTER TABLE "crm_synchronisations" ALTER COLUMN "crm_name" SET NOT NULL"#
            }
            Step::DropGemCrmIdIndex => {
                r#"DROP INDEX IF EXISTS "index_crm_synchronisations_on_crm_id""#
            }
            Step::DropGemResourceIndex => r#"DROP INDEX IF EXISTS "idx_crm_sync_on_resource""#,
            Step::CreateResourceIndex => {
                r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_unique_crm_sync_resource_crm" ON "crm_synchronisations" ("crm_name", "resource_type", "resource_id")"#
            }
            // Partial: rows without a CRM id are not indexed, and the planner
            // never mistakes this index for the resource index (same leading columns).
            Step::CreateCrmIdIndex => {
                r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_etlify_sync_unique_crm_id" ON "crm_synchronisations" ("crm_name", "resource_type", "crm_id") WHERE "crm_id" IS NOT NULL"#
            }
            Step::CreatePendingDependencyIndex => {
                r#"CREATE INDEX IF NOT EXISTS "idx_pending_syncs_on_dependency_crm" ON "etlify_pending_syncs" ("dependency_type", "dependency_id", "crm_name")"#
            }
            Step::CreatePendingUniqueIndex => {
                r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_unique_pending_sync" ON "etlify_pending_syncs" ("dependent_type", "dependent_id", "dependency_type", "dependency_id", "crm_name")"#
            }
            Step::CreateSyncedAtIndex => SYNCED_AT_INDEX,
            // Partial: only failing rows, which a run since a checkpoint
            // looks at again whatever their timestamps.
            Step::CreateErrorRowsIndex => {
                r#"CREATE INDEX IF NOT EXISTS "idx_etlify_sync_errors" ON "crm_synchronisations" ("crm_name", "resource_type", "resource_id") WHERE "error_count" > 0"#
            }
            // Every sync rewrites `last_synced_at`: indexing it made each
            // update of a scattered row rewrite a second scattered index
            // page (half of a touched run's write time on SQLite).
            // The failing rows of a model are one range of it: without a
            // partial index, the resource index alone made MariaDB read
            // every sync row in each run where nothing changed
            // (docs/BENCHMARKS.md, "MariaDB: nothing changed in
            // milliseconds").
            Step::CreateErrorCountIndex => {
                r#"CREATE INDEX IF NOT EXISTS "idx_etlify_sync_error_count" ON "crm_synchronisations" ("crm_name", "resource_type", "error_count")"#
            }
            Step::DropSyncedAtIndex => r#"DROP INDEX IF EXISTS "idx_etlify_sync_last_synced_at""#,
            Step::CreateNeverStampedIndex => NEVER_STAMPED_INDEX_SQL,
            // An index whose predicate reads `last_synced_at`, which every
            // sync rewrites, kept every sync's update on PostgreSQL from
            // being heap-only: each rewrote an entry in every index
            // (docs/DECISIONS.md, "Heap-only sync-row updates").
            Step::DropNeverStampedIndex => {
                r#"DROP INDEX IF EXISTS "idx_etlify_sync_never_stamped""#
            }
            // Inserts fill the sync table's pages to 85% on PostgreSQL: a
            // sync's update of a row then fits on the row's own page, as
            // a heap-only update that adds no index entry.
            Step::SetSyncFillfactor => {
                r#"ALTER TABLE "crm_synchronisations" SET (fillfactor = 85)"#
            }
        })
    }

    /// The statement undoing the step.
    fn backward(self) -> &'static str {
        match self {
            Step::CreateSyncTable => r#"DROP TABLE IF EXISTS "crm_synchronisations""#,
            Step::CreatePendingTable => r#"DROP TABLE IF EXISTS "etlify_pending_syncs""#,
            Step::CreateLeaseTable => r#"DROP TABLE IF EXISTS "etlify_leases""#,
            Step::CreateRecordLeaseTable => r#"DROP TABLE IF EXISTS "etlify_record_leases""#,
            Step::CreateCheckpointTable => r#"DROP TABLE IF EXISTS "etlify_sync_checkpoints""#,
            Step::CreateRateSlotTable => r#"DROP TABLE IF EXISTS "etlify_rate_slots""#,
            Step::CreateJobRequestTable => r#"DROP TABLE IF EXISTS "etlify_job_requests""#,
            Step::AddErrorCount => {
                r#"ALTER TABLE "crm_synchronisations" DROP COLUMN "error_count""#
            }
            Step::AddCrmName => r#"ALTER TABLE "crm_synchronisations" DROP COLUMN "crm_name""#,
            Step::AddFieldDigests => {
                r#"ALTER TABLE "crm_synchronisations" DROP COLUMN "field_digests""#
            }
            Step::CrmNameNotNull => {
                r#"ALTER TABLE "crm_synchronisations" ALTER COLUMN "crm_name" DROP NOT NULL"#
            }
            Step::DropGemCrmIdIndex => {
                r#"CREATE UNIQUE INDEX "index_crm_synchronisations_on_crm_id" ON "crm_synchronisations" ("crm_id")"#
            }
            Step::DropGemResourceIndex => {
                r#"CREATE UNIQUE INDEX "idx_crm_sync_on_resource" ON "crm_synchronisations" ("resource_type", "resource_id")"#
            }
            Step::CreateResourceIndex => {
                r#"DROP INDEX IF EXISTS "idx_unique_crm_sync_resource_crm""#
            }
            Step::CreateCrmIdIndex => r#"DROP INDEX IF EXISTS "idx_etlify_sync_unique_crm_id""#,
            Step::CreatePendingDependencyIndex => {
                r#"DROP INDEX IF EXISTS "idx_pending_syncs_on_dependency_crm""#
            }
            Step::CreatePendingUniqueIndex => r#"DROP INDEX IF EXISTS "idx_unique_pending_sync""#,
            Step::CreateSyncedAtIndex => r#"DROP INDEX IF EXISTS "idx_etlify_sync_last_synced_at""#,
            Step::CreateErrorRowsIndex => r#"DROP INDEX IF EXISTS "idx_etlify_sync_errors""#,
            Step::DropSyncedAtIndex => SYNCED_AT_INDEX,
            Step::CreateNeverStampedIndex => {
                r#"DROP INDEX IF EXISTS "idx_etlify_sync_never_stamped""#
            }
            Step::DropNeverStampedIndex => NEVER_STAMPED_INDEX_SQL,
            Step::SetSyncFillfactor => r#"ALTER TABLE "crm_synchronisations" RESET (fillfactor)"#,
            Step::CreateRunTable => r#"DROP TABLE IF EXISTS "etlify_runs""#,
            Step::CreateRunStartedIndex => r#"DROP INDEX IF EXISTS "idx_etlify_runs_started_at""#,
            Step::CreateRunCrmIndex => r#"DROP INDEX IF EXISTS "idx_etlify_runs_crm_started_at""#,
            Step::CreateAlertIncidentTable => r#"DROP TABLE IF EXISTS "etlify_alert_incidents""#,
            Step::CreateLinkTable => r#"DROP TABLE IF EXISTS "etlify_links""#,
            Step::CreateErrorCountIndex => r#"DROP INDEX IF EXISTS "idx_etlify_sync_error_count""#,
        }
    }

    /// Rows that would make the inverse fail (the gem's indexes forbid
    /// what multi-CRM data allows), counted before anything is reverted.
    fn blocking_rows_query(self) -> Option<(&'static str, &'static str)> {
        match self {
            Step::DropGemCrmIdIndex => Some((
                r#"SELECT COUNT(*) FROM (SELECT "crm_id" FROM "crm_synchronisations" WHERE "crm_id" IS NOT NULL GROUP BY "crm_id" HAVING COUNT(*) > 1) AS d"#,
                "CRM ids are shared by several rows (several CRMs or types), which the gem's global crm_id index forbids",
            )),
            Step::DropGemResourceIndex => Some((
                r#"SELECT COUNT(*) FROM (SELECT 1 FROM "crm_synchronisations" GROUP BY "resource_type", "resource_id" HAVING COUNT(*) > 1) AS d"#,
                "records have rows for several CRMs, which the gem's (resource_type, resource_id) index forbids",
            )),
            _ => None,
        }
    }
}

async fn record(store: &Store, step: Step) -> Result<()> {
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(HISTORY_TABLE))
        .columns([Alias::new("step")])
        .values([Expr::val(step.name())])
        // Internal invariant: one value for one column.
        .expect("values match the column list");
    let (sql, values) = store.build(&insert);
    store.execute(sql, values).await?;
    Ok(())
}

/// The first column of the first row of a constant counting query.
async fn count(store: &Store, query: &'static str) -> Result<i64> {
    let rows: Vec<(i64,)> = store
        .fetch_all(
            query.to_owned(),
            sea_query_sqlx::SqlxValues(sea_query::Values(Vec::new())),
        )
        .await?;
    Ok(rows.first().map_or(0, |(n,)| *n))
}

/// Undoes what [`migrate`] changed, newest change first, as recorded in
/// `etlify_schema_migrations` (G-26): tables it created are dropped,
/// columns it added removed, the gem's indexes it dropped recreated. Data in
/// tables that existed before is kept. Refused, with nothing changed, when
/// the rows no longer fit the gem's indexes.
pub(crate) async fn revert(store: &Store) -> Result<()> {
    if store
        .backend()
        .table_columns(HISTORY_TABLE)
        .await?
        .is_none()
    {
        return Err(Error::schema(
            "nothing to revert: no etlify_schema_migrations table (the schema was not changed by etlify migrate)",
            None,
        ));
    }
    let mut select = Query::select();
    select
        .column(Alias::new("step"))
        .from(Alias::new(HISTORY_TABLE))
        .order_by(Alias::new("id"), sea_query::Order::Desc);
    let (sql, values) = store.build(&select);
    let names: Vec<String> = store
        .fetch_all::<(String,)>(sql, values)
        .await?
        .into_iter()
        .map(|(name,)| name)
        .collect();
    let steps: Vec<Step> = names
        .iter()
        .map(|name| {
            Step::parse(name).ok_or_else(|| {
                Error::schema(
                    format!("unknown step {name:?} in etlify_schema_migrations"),
                    None,
                )
            })
        })
        .collect::<Result<_>>()?;
    // Checked first: a refused revert changes nothing.
    let sync_table_dropped = steps.contains(&Step::CreateSyncTable);
    for step in &steps {
        if let (Some((query, reason)), false) = (step.blocking_rows_query(), sync_table_dropped) {
            let blocking = count(store, query).await?;
            if blocking > 0 {
                return Err(Error::schema(
                    format!("cannot revert: {blocking} {reason}"),
                    None,
                ));
            }
        }
    }
    for step in steps {
        run(store, step.backward()).await?;
    }
    run(store, r#"DROP TABLE "etlify_schema_migrations""#).await?;
    // The change triggers `migrate --triggers` installed go too.
    if let Some(triggers) = store.backend().change_triggers() {
        triggers.remove().await?;
    }
    Ok(())
}

/// Options of [`migrate`](crate::migrate).
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    default_crm_name: Option<String>,
    key_type: KeyType,
}

impl MigrateOptions {
    /// No options: what an up-to-date or new database needs.
    pub fn new() -> Self {
        Self::default()
    }

    /// CRM name written into rows that have none (a pre-0.9 gem schema
    /// without `crm_name`). Required only when such rows exist.
    pub fn default_crm_name(mut self, crm_name: impl Into<String>) -> Self {
        self.default_crm_name = Some(crm_name.into());
        self
    }

    /// The CRM name written into rows that have none, if set.
    pub fn get_default_crm_name(&self) -> Option<&str> {
        self.default_crm_name.as_deref()
    }

    /// The type of the application's record keys (default
    /// [`KeyType::Integer`]): the tables this migration creates hold keys
    /// of that type (`crm_synchronisations.resource_id` and the record
    /// keys of the `etlify_*` tables: `uuid` on PostgreSQL, `char(36)` or
    /// `binary(16)` on MySQL, for a UUID application). Tables that exist
    /// are never changed.
    pub fn key_type(mut self, key_type: KeyType) -> Self {
        self.key_type = key_type;
        self
    }

    /// The type of the record keys of the tables created.
    pub fn get_key_type(&self) -> KeyType {
        self.key_type
    }
}

/// Creates or upgrades the sync-state tables. Idempotent: running it on an
/// up-to-date database changes nothing. Every change it makes is recorded in
/// `etlify_schema_migrations`, so [`revert`] can undo exactly those.
pub(crate) async fn migrate(store: &Store, options: &MigrateOptions) -> Result<Migrated> {
    let mut applier = Applier {
        store,
        keys: options.key_type,
        dry_run: None,
        applied: Vec::new(),
    };
    apply_migration(&mut applier, options).await?;
    Ok(Migrated {
        applied: applier.applied,
    })
}

/// What [`migrate`](crate::migrate) changed: each change as recorded in
/// `etlify_schema_migrations` (`create_table:etlify_leases`,
/// `add_column:crm_synchronisations.error_count`, …), in the order applied;
/// none when the schema was up to date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migrated {
    /// The changes applied.
    pub applied: Vec<&'static str>,
}

/// The statements [`migrate`] would run now, in order, without running
/// any (`etlify migrate --dry-run`); empty when the schema is up to date.
pub(crate) async fn migrate_dry_run(
    store: &Store,
    options: &MigrateOptions,
) -> Result<Vec<String>> {
    let mut applier = Applier {
        store,
        keys: options.key_type,
        dry_run: Some(Vec::new()),
        applied: Vec::new(),
    };
    apply_migration(&mut applier, options).await?;
    Ok(applier.dry_run.unwrap_or_default())
}

/// Runs schema statements, or only lists them (a dry run).
struct Applier<'a> {
    store: &'a Store,
    /// The record keys of the tables created.
    keys: KeyType,
    dry_run: Option<Vec<String>>,
    /// The steps applied (not in a dry run).
    applied: Vec<&'static str>,
}

impl Applier<'_> {
    /// Applies `step` and records it in the history table.
    async fn step(&mut self, step: Step) -> Result<()> {
        let statement = step.forward(self.store, self.keys);
        match &mut self.dry_run {
            Some(planned) => planned.push(self.store.dialect().adapt_step(statement).into_owned()),
            None => {
                run(self.store, statement).await?;
                record(self.store, step).await?;
                self.applied.push(step.name());
            }
        }
        Ok(())
    }

    /// Runs DDL that is not a recorded step.
    async fn unrecorded(&mut self, statement: String) -> Result<()> {
        match &mut self.dry_run {
            Some(planned) => planned.push(
                self.store
                    .dialect()
                    .adapt_step(statement.into())
                    .into_owned(),
            ),
            None => run(self.store, statement).await?,
        }
        Ok(())
    }

    /// Runs a statement with values (shown inlined in a dry run).
    async fn statement(&mut self, update: &sea_query::UpdateStatement) -> Result<()> {
        match &mut self.dry_run {
            Some(planned) => planned.push(self.store.dialect().render(update.into())),
            None => {
                let (sql, values) = self.store.build(update);
                self.store.execute(sql, values).await?;
            }
        }
        Ok(())
    }
}

async fn apply_migration(applier: &mut Applier<'_>, options: &MigrateOptions) -> Result<()> {
    let store = applier.store;
    let history_missing = store
        .backend()
        .table_columns(HISTORY_TABLE)
        .await?
        .is_none();
    if history_missing || applier.dry_run.is_none() {
        applier
            .unrecorded(
                store
                    .dialect()
                    .create_table(StateTable::History, KeyType::Integer),
            )
            .await?;
    }
    let mut creates_sync_table = false;
    for (table, step) in [
        (SYNC_TABLE, Step::CreateSyncTable),
        (PENDING_TABLE, Step::CreatePendingTable),
        (LEASE_TABLE, Step::CreateLeaseTable),
        (RECORD_LEASE_TABLE, Step::CreateRecordLeaseTable),
        (CHECKPOINT_TABLE, Step::CreateCheckpointTable),
        (RATE_SLOT_TABLE, Step::CreateRateSlotTable),
        (JOB_REQUEST_TABLE, Step::CreateJobRequestTable),
        (RUN_TABLE, Step::CreateRunTable),
        (ALERT_INCIDENT_TABLE, Step::CreateAlertIncidentTable),
        (LINK_TABLE, Step::CreateLinkTable),
    ] {
        if store.backend().table_columns(table).await?.is_none() {
            creates_sync_table |= step == Step::CreateSyncTable;
            applier.step(step).await?;
        }
    }
    // A table created just now has the gem's later columns already (in a
    // dry run it does not exist yet, so its columns are not looked at).
    if !(creates_sync_table && applier.dry_run.is_some()) {
        upgrade_gem_columns(applier, options).await?;
    }
    let existing = store.backend().index_names(SYNC_TABLE).await?;
    for index in obsolete_indexes(store, &existing).await? {
        let step = if index == OBSOLETE_INDEXES[0] {
            Step::DropGemCrmIdIndex
        } else {
            Step::DropGemResourceIndex
        };
        applier.step(step).await?;
    }
    if existing
        .iter()
        .any(|name| Some(name.as_str()) == Step::DropSyncedAtIndex.index_name())
    {
        applier.step(Step::DropSyncedAtIndex).await?;
    }
    if existing.iter().any(|name| name == NEVER_STAMPED_INDEX) {
        applier.step(Step::DropNeverStampedIndex).await?;
    }
    // A table whose owner chose a fill factor keeps it.
    if store.backend().fillfactor_settable(SYNC_TABLE).await? {
        applier.step(Step::SetSyncFillfactor).await?;
    }
    let mut existing = existing;
    existing.extend(store.backend().index_names(PENDING_TABLE).await?);
    for step in [
        Step::CreateResourceIndex,
        Step::CreateCrmIdIndex,
        Step::CreatePendingDependencyIndex,
        Step::CreatePendingUniqueIndex,
        error_rows_index(store),
    ] {
        if !existing
            .iter()
            .any(|name| Some(name.as_str()) == step.index_name())
        {
            applier.step(step).await?;
        }
    }
    let run_indexes = store.backend().index_names(RUN_TABLE).await?;
    for step in [Step::CreateRunStartedIndex, Step::CreateRunCrmIndex] {
        if !run_indexes
            .iter()
            .any(|name| Some(name.as_str()) == step.index_name())
        {
            applier.step(step).await?;
        }
    }
    Ok(())
}

/// The index a run since a checkpoint finds the failing rows by: partial
/// where the database has such indexes, else led by the error count.
fn error_rows_index(store: &Store) -> Step {
    if store.dialect().has_partial_indexes() {
        Step::CreateErrorRowsIndex
    } else {
        Step::CreateErrorCountIndex
    }
}

/// Adds what older gem schemas lack: `error_count` (gem < 0.9.4) and
/// `crm_name` (gem < 0.9), backfilled from `default_crm_name`.
/// The gem's indexes among `existing` that break multi-CRM setups. The
/// gem's `idx_crm_sync_on_resource` is one only in its pre-0.9 form
/// `(resource_type, resource_id)`; the 0.9 upgrade guide rebuilt it as
/// `(resource_type, resource_id, crm_name)`, which is kept.
async fn obsolete_indexes(store: &Store, existing: &[String]) -> Result<Vec<&'static str>> {
    let mut obsolete = Vec::new();
    for index in OBSOLETE_INDEXES {
        if !existing.iter().any(|have| have == index) {
            continue;
        }
        if *index == OBSOLETE_INDEXES[1]
            && store.backend().index_columns(index).await? != ["resource_type", "resource_id"]
        {
            continue;
        }
        obsolete.push(*index);
    }
    Ok(obsolete)
}

async fn upgrade_gem_columns(applier: &mut Applier<'_>, options: &MigrateOptions) -> Result<()> {
    let store = applier.store;
    let columns = store
        .backend()
        .table_columns(SYNC_TABLE)
        .await?
        .unwrap_or_default();
    let has_crm_name = columns.iter().any(|c| c == "crm_name");
    // Checked before any change, so a refused upgrade alters nothing.
    let count_sql: &'static str = if has_crm_name {
        r#"SELECT COUNT(*) FROM "crm_synchronisations" WHERE "crm_name" IS NULL"#
    } else {
        r#"SELECT COUNT(*) FROM "crm_synchronisations""#
    };
    let unnamed = count(store, count_sql).await?;
    if unnamed > 0 && options.default_crm_name.is_none() {
        return Err(Error::schema(
            format!("{unnamed} rows of crm_synchronisations have no crm_name"),
            Some(crate::error::Remedy::MigrateWithDefaultCrmName),
        ));
    }
    if !columns.iter().any(|c| c == "error_count") {
        applier.step(Step::AddErrorCount).await?;
    }
    if !has_crm_name {
        applier.step(Step::AddCrmName).await?;
    }
    if !columns.iter().any(|c| c == "field_digests") {
        applier.step(Step::AddFieldDigests).await?;
    }
    if let (true, Some(default)) = (unnamed > 0, &options.default_crm_name) {
        let mut update = Query::update();
        update
            .table(Alias::new(SYNC_TABLE))
            .value(Alias::new("crm_name"), default.as_str())
            .and_where(Expr::col(Alias::new("crm_name")).is_null());
        applier.statement(&update).await?;
    }
    // SQLite cannot add NOT NULL to an existing column without rebuilding
    // the table; the engine always writes crm_name, so only backends that
    // alter nullability in place enforce it on an upgraded table.
    if store.dialect().alters_column_nullability()
        && store
            .backend()
            .column_is_nullable(SYNC_TABLE, "crm_name")
            .await?
    {
        applier.step(Step::CrmNameNotNull).await?;
    }
    Ok(())
}

async fn run(store: &Store, statement: impl Into<String>) -> Result<()> {
    let statement = store.dialect().adapt_step(statement.into().into());
    store.execute_ddl(statement.into_owned()).await?;
    Ok(())
}

/// One thing wrong with the sync-state schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaProblem {
    /// A table is missing.
    MissingTable {
        /// Table name.
        table: &'static str,
    },
    /// A column is missing.
    MissingColumn {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
    },
    /// A required index is missing.
    MissingIndex {
        /// Index name.
        index: &'static str,
    },
    /// An index of the gem that forbids multi-CRM setups is still there.
    ObsoleteIndex {
        /// Index name.
        index: &'static str,
    },
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaProblem::MissingTable { table } => write!(f, "missing table \"{table}\""),
            SchemaProblem::MissingColumn { table, column } => {
                write!(f, "missing column \"{column}\" on table \"{table}\"")
            }
            SchemaProblem::MissingIndex { index } => write!(f, "missing index \"{index}\""),
            SchemaProblem::ObsoleteIndex { index } => {
                write!(
                    f,
                    "obsolete index \"{index}\" (breaks multi-CRM uniqueness)"
                )
            }
        }
    }
}

/// What [`check_schema`](crate::check_schema) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaReport {
    /// Everything wrong; empty when the schema is up to date.
    pub problems: Vec<SchemaProblem>,
}

impl SchemaReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The command that fixes every problem, when there is one.
    pub fn fix(&self) -> Option<&'static str> {
        (!self.is_ok()).then_some(FIX_COMMAND)
    }
}

impl fmt::Display for SchemaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(f, "sync-state schema is up to date");
        }
        for problem in &self.problems {
            writeln!(f, "[etlify] {problem}")?;
        }
        write!(f, "Please run: {FIX_COMMAND}")
    }
}

/// Fails with [`Error::Schema`] (what is wrong, remedied by
/// [`crate::Remedy::Migrate`]) unless
/// the sync-state schema is up to date: before anything runs, so a
/// missing table is not a raw "no such table" in the middle of a run.
pub(crate) async fn require_up_to_date(store: &Store) -> Result<()> {
    let report = check(store).await?;
    if report.is_ok() {
        Ok(())
    } else {
        let problems: Vec<String> = report
            .problems
            .iter()
            .map(|problem| format!("[etlify] {problem}"))
            .collect();
        Err(Error::schema(
            problems.join("\n"),
            Some(crate::error::Remedy::Migrate),
        ))
    }
}

/// Reports what [`migrate`] would fix, without changing anything.
pub(crate) async fn check(store: &Store) -> Result<SchemaReport> {
    let mut problems = Vec::new();
    for (table, required) in [
        (SYNC_TABLE, SYNC_COLUMNS),
        (PENDING_TABLE, PENDING_COLUMNS),
        (LEASE_TABLE, LEASE_COLUMNS),
        (RECORD_LEASE_TABLE, RECORD_LEASE_COLUMNS),
        (CHECKPOINT_TABLE, CHECKPOINT_COLUMNS),
        (RATE_SLOT_TABLE, RATE_SLOT_COLUMNS),
        (JOB_REQUEST_TABLE, JOB_REQUEST_COLUMNS),
        (RUN_TABLE, RUN_COLUMNS),
        (ALERT_INCIDENT_TABLE, ALERT_INCIDENT_COLUMNS),
        (LINK_TABLE, LINK_COLUMNS),
    ] {
        match store.backend().table_columns(table).await? {
            None => problems.push(SchemaProblem::MissingTable { table }),
            Some(columns) => problems.extend(
                required
                    .iter()
                    .filter(|c| !columns.iter().any(|have| have == *c))
                    .map(|column| SchemaProblem::MissingColumn { table, column }),
            ),
        }
    }
    let mut indexes = store.backend().index_names(SYNC_TABLE).await?;
    indexes.extend(store.backend().index_names(PENDING_TABLE).await?);
    for index in [
        UNIQUE_RESOURCE_INDEX,
        UNIQUE_CRM_ID_INDEX,
        "idx_pending_syncs_on_dependency_crm",
        "idx_unique_pending_sync",
        error_rows_index(store).index_name().unwrap_or_default(),
    ] {
        if !indexes.iter().any(|have| have == index) {
            problems.push(SchemaProblem::MissingIndex { index });
        }
    }
    let run_indexes = store.backend().index_names(RUN_TABLE).await?;
    for index in [RUN_STARTED_INDEX, RUN_CRM_INDEX] {
        if !run_indexes.iter().any(|have| have == index) {
            problems.push(SchemaProblem::MissingIndex { index });
        }
    }
    for index in obsolete_indexes(store, &indexes).await? {
        problems.push(SchemaProblem::ObsoleteIndex { index });
    }
    Ok(SchemaReport { problems })
}
