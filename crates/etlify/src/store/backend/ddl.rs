//! The sync-state tables, described once with sea-query's table builder;
//! each backend names the column types and renders them ([`Ddl`], in
//! `sqlite/ddl.rs`, `postgres/ddl.rs` and `mysql/ddl.rs`).
//!
//! Names and types are the Rails gem's, so that a database the gem created
//! is taken over as is (`tests/schema.rs`, `tests/interop*.rs`).

use sea_query::{ColumnDef, ColumnType, Expr, Index, Table, TableCreateStatement};

use crate::id::KeyType;

use crate::store::schema::{ALERT_INCIDENT_TABLE, LINK_TABLE};
use crate::store::schema::{
    CHECKPOINT_TABLE, HISTORY_TABLE, JOB_REQUEST_TABLE, LEASE_TABLE, PENDING_TABLE,
    RATE_SLOT_TABLE, RECORD_LEASE_TABLE, RUN_TABLE, SYNC_TABLE,
};

/// The sync-state tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateTable {
    /// `crm_synchronisations`.
    Sync,
    /// `etlify_pending_syncs`.
    Pending,
    /// `etlify_schema_migrations`.
    History,
    /// `etlify_leases`.
    Leases,
    /// `etlify_record_leases`.
    RecordLeases,
    /// `etlify_sync_checkpoints`.
    Checkpoints,
    /// `etlify_rate_slots`.
    RateSlots,
    /// `etlify_job_requests`.
    JobRequests,
    /// `etlify_runs`.
    Runs,
    /// `etlify_alert_incidents`.
    AlertIncidents,
    /// `etlify_links`.
    Links,
}

/// What a sync-state column holds; each backend names its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// Short text: names, digests, ids of the CRM (`varchar`).
    Varchar,
    /// A name a key of several such columns holds (a CRM's, a model's, a
    /// link's): `varchar` where lengths are free, shorter on MySQL, whose
    /// InnoDB keys hold at most 3,072 bytes (four `varchar(255)` in utf8mb4
    /// do not fit).
    KeyName,
    /// Text of any length: errors, field digests (`text`).
    Text,
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer: counts.
    BigInteger,
    /// A record's key: a 64-bit integer for integer keys (as the gem's
    /// `resource_id bigint`), else the type the application's keys have.
    RecordKey(KeyType),
    /// A boolean.
    Boolean,
    /// A UTC time to the microsecond, as Rails writes it.
    Timestamp,
}

/// The DDL of a backend: column types, and how a table is created.
pub(crate) trait Ddl {
    /// The type of a column holding `kind`.
    fn column_type(&self, kind: ColumnKind) -> ColumnType;

    /// `column` made the table's key: a 64-bit integer the database
    /// numbers.
    fn serial_key(&self, column: ColumnDef) -> ColumnDef;

    /// The default of a column stamped with the database's time on insert.
    fn now_default(&self) -> Expr;

    /// Why this database keeps no keys of `key_type`, if it keeps none
    /// (SQLite keeps UUIDs as text only).
    fn refuses_keys(&self, _key_type: KeyType) -> Option<&'static str> {
        None
    }

    /// Whether a key column of any type keeps keys of every type as they
    /// are (SQLite: a `bigint` column keeps a UUID or a text as text), so
    /// that sync-state tables made for integer keys serve any.
    fn keeps_any_key(&self) -> bool {
        false
    }

    /// `CREATE TABLE IF NOT EXISTS` of `table` ([`StateTable::describe`]),
    /// with the storage this backend gives it and record keys of `keys`.
    fn create_table(&self, table: StateTable, keys: KeyType) -> String;

    /// Whether `NOT NULL` can be added to an existing column in place
    /// (SQLite would need a table rebuild).
    fn alters_column_nullability(&self) -> bool;

    /// Whether an index may cover only the rows a condition selects
    /// (`CREATE INDEX … WHERE`); MySQL has no such index.
    fn has_partial_indexes(&self) -> bool {
        true
    }

    /// A migration step's statement (`store/schema.rs`, written in the SQL
    /// PostgreSQL and SQLite share) in this database's words.
    fn adapt_step<'a>(&self, statement: std::borrow::Cow<'a, str>) -> std::borrow::Cow<'a, str> {
        statement
    }
}

impl StateTable {
    /// The table's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StateTable::Sync => SYNC_TABLE,
            StateTable::Pending => PENDING_TABLE,
            StateTable::History => HISTORY_TABLE,
            StateTable::Leases => LEASE_TABLE,
            StateTable::RecordLeases => RECORD_LEASE_TABLE,
            StateTable::Checkpoints => CHECKPOINT_TABLE,
            StateTable::RateSlots => RATE_SLOT_TABLE,
            StateTable::JobRequests => JOB_REQUEST_TABLE,
            StateTable::Runs => RUN_TABLE,
            StateTable::AlertIncidents => ALERT_INCIDENT_TABLE,
            StateTable::Links => LINK_TABLE,
        }
    }

    /// Whether the table is keyed by its own columns rather than by a
    /// numbered `id` (SQLite stores such a table as one b-tree,
    /// `WITHOUT ROWID`).
    pub(crate) fn keyed_by_its_columns(self) -> bool {
        !matches!(
            self,
            StateTable::Sync | StateTable::Pending | StateTable::History | StateTable::Runs
        )
    }

    /// Whether the table's rows may be lost in a crash of the database
    /// server: leases and rate slots are short-lived and rewritten often,
    /// and the sessions that held them are gone with the crash anyway
    /// (PostgreSQL keeps such a table out of its write-ahead log,
    /// `UNLOGGED`).
    pub(crate) fn is_transient(self) -> bool {
        matches!(
            self,
            StateTable::Leases | StateTable::RecordLeases | StateTable::RateSlots
        )
    }

    /// The columns of this table that hold record keys, typed by the key
    /// type `migrate` is given ([`ColumnKind::RecordKey`]).
    pub(crate) fn record_key_columns(self) -> &'static [&'static str] {
        match self {
            StateTable::Sync | StateTable::JobRequests => &["resource_id"],
            StateTable::Pending => &["dependent_id", "dependency_id"],
            StateTable::RecordLeases => &["first_id", "last_id"],
            StateTable::Checkpoints => &["ids_through", "lowest_synced_id"],
            StateTable::Links => &["from_id", "to_id"],
            StateTable::History
            | StateTable::Leases
            | StateTable::RateSlots
            | StateTable::Runs
            | StateTable::AlertIncidents => &[],
        }
    }

    /// The tables with record key columns.
    pub(crate) const KEYED: [StateTable; 6] = [
        StateTable::Sync,
        StateTable::Pending,
        StateTable::RecordLeases,
        StateTable::Checkpoints,
        StateTable::JobRequests,
        StateTable::Links,
    ];

    /// `CREATE TABLE IF NOT EXISTS` of this table, with `ddl`'s types.
    pub(crate) fn describe(self, ddl: &dyn Ddl, keys: KeyType) -> TableCreateStatement {
        let column = |name: &str, kind: ColumnKind| {
            ColumnDef::new_with_type(sea_query::Alias::new(name), ddl.column_type(kind))
        };
        let required = |name: &str, kind: ColumnKind| column(name, kind).not_null().to_owned();
        let optional = |name: &str, kind: ColumnKind| column(name, kind);
        let key = |columns: &[&str]| {
            let mut key = Index::create();
            for name in columns {
                key.col(sea_query::Alias::new(*name));
            }
            key
        };
        let id = || ddl.serial_key(ColumnDef::new(sea_query::Alias::new("id")));
        use ColumnKind::{BigInteger, Boolean, Integer, KeyName, Text, Timestamp, Varchar};
        let record_key = ColumnKind::RecordKey(keys);
        let job_name = match keys {
            KeyType::Integer => Varchar,
            _ => KeyName,
        };

        let mut create = Table::create();
        create
            .table(sea_query::Alias::new(self.name()))
            .if_not_exists();
        match self {
            StateTable::Sync => create
                .col(id())
                .col(optional("crm_id", Varchar))
                .col(required("resource_type", Varchar))
                .col(required("resource_id", record_key))
                .col(optional("last_digest", Varchar))
                .col(optional("field_digests", Text))
                .col(optional("last_synced_at", Timestamp))
                .col(optional("last_error", Text))
                .col(required("crm_name", Varchar))
                .col(required("error_count", Integer).default(0).to_owned())
                .col(required("created_at", Timestamp))
                .col(required("updated_at", Timestamp)),
            StateTable::Pending => create
                .col(id())
                .col(required("dependent_type", Varchar))
                .col(required("dependent_id", record_key))
                .col(required("dependency_type", Varchar))
                .col(required("dependency_id", record_key))
                .col(required("crm_name", Varchar))
                .col(required("created_at", Timestamp))
                .col(required("updated_at", Timestamp)),
            StateTable::History => create.col(id()).col(required("step", Varchar)).col(
                required("applied_at", Timestamp)
                    .default(ddl.now_default())
                    .to_owned(),
            ),
            StateTable::Leases => create
                .col(required("name", Varchar).primary_key().to_owned())
                .col(required("owner", Varchar))
                .col(required("expires_at", Timestamp)),
            StateTable::RecordLeases => create
                .col(required("crm_name", Varchar))
                .col(required("resource_type", Varchar))
                .col(required("first_id", record_key))
                .col(required("last_id", record_key))
                .col(required("owner", Varchar))
                .col(required("expires_at", Timestamp))
                .primary_key(&mut key(&[
                    "crm_name",
                    "resource_type",
                    "first_id",
                    "last_id",
                ])),
            // One row per (CRM, model): where its next batch run starts
            // looking (`store/checkpoint.rs`).
            StateTable::Checkpoints => create
                .col(required("crm_name", Varchar))
                .col(required("resource_type", Varchar))
                .col(required("finder", Varchar))
                .col(required("changes_through", Timestamp))
                .col(optional("ids_through", record_key))
                .col(optional("lowest_synced_id", record_key))
                .col(required("complete_at", Timestamp))
                .primary_key(&mut key(&["crm_name", "resource_type"])),
            // The send times of a CRM's last requests, shared by every
            // process (`store/rate_window.rs`): slots `0..max_requests`,
            // and slot -1 holding the end of a pause.
            StateTable::RateSlots => create
                .col(required("crm_name", Varchar))
                .col(required("slot", Integer))
                .col(required("sent_at", Timestamp))
                .primary_key(&mut key(&["crm_name", "slot"])),
            // One row per sync job queued or running
            // (`store/job_requests.rs`): a record's (`kind` = 'record') or
            // a CRM's batch run ('batch', model '' and id 0).
            // Its names are shorter beside a UUID or text key: on MySQL a
            // primary key holds at most 3,072 bytes, which three
            // `varchar(255)` and a `bigint` just fit.
            StateTable::JobRequests => create
                .col(required("kind", job_name))
                .col(required("crm_name", job_name))
                .col(required("resource_type", job_name))
                .col(required("resource_id", record_key))
                .col(required("running", Boolean))
                .col(required("again", Boolean))
                .col(required("requested_at", Timestamp))
                .primary_key(&mut key(&[
                    "kind",
                    "crm_name",
                    "resource_type",
                    "resource_id",
                ])),
            // One row per batch run of a CRM (`store/run_history.rs`):
            // written when it starts, completed when it ends.
            StateTable::Runs => create
                .col(id())
                .col(required("crm_name", Varchar))
                .col(required("triggered_by", Varchar))
                .col(required("runner", Varchar))
                .col(required("status", Varchar))
                .col(required("started_at", Timestamp))
                .col(optional("finished_at", Timestamp))
                .col(required("records", BigInteger).default(0).to_owned())
                .col(required("errors", BigInteger).default(0).to_owned())
                .col(optional("per_model", Text))
                .col(optional("interruption", Text)),
            // One row per alert incident (`store/alert_incidents.rs`):
            // a kind of trouble of one CRM and model, or of one worker
            // (`''` where none), open until resolved.
            StateTable::AlertIncidents => create
                .col(required("kind", Varchar))
                .col(required("crm_name", Varchar))
                .col(required("subject", Varchar))
                .col(required("opened_at", Timestamp))
                .col(optional("resolved_at", Timestamp))
                .col(optional("notified_at", Timestamp))
                .col(optional("summary", Text))
                .primary_key(&mut key(&["kind", "crm_name", "subject"])),
            // One row per link a record has in a CRM (`store/links.rs`):
            // the pair of CRM ids it was made between, and its type.
            StateTable::Links => create
                .col(required("crm_name", KeyName))
                .col(required("from_type", KeyName))
                .col(required("from_id", record_key))
                .col(required("link_name", KeyName))
                .col(required("to_type", KeyName))
                .col(required("to_id", record_key))
                .col(required("from_object_type", Varchar))
                .col(required("to_object_type", Varchar))
                .col(required("from_crm_id", Varchar))
                .col(required("to_crm_id", Varchar))
                .col(required("association", Varchar))
                .col(required("linked_at", Timestamp))
                .primary_key(&mut key(&[
                    "crm_name",
                    "from_type",
                    "from_id",
                    "link_name",
                    "to_type",
                    "to_id",
                ])),
        };
        create
    }
}

#[cfg(test)]
mod tests {
    use super::StateTable;
    use crate::id::KeyType;
    use crate::store::backend::mysql::MysqlDialect;

    #[test]
    fn uuid_record_key_columns_are_the_columns_typed_by_the_key_type() {
        let all = [
            StateTable::Sync,
            StateTable::Pending,
            StateTable::History,
            StateTable::Leases,
            StateTable::RecordLeases,
            StateTable::Checkpoints,
            StateTable::RateSlots,
            StateTable::JobRequests,
            StateTable::Runs,
            StateTable::AlertIncidents,
            StateTable::Links,
        ];
        for table in all {
            // MySQL's `binary(16)` is the type of record keys only.
            let typed: Vec<String> = table
                .describe(&MysqlDialect, KeyType::UuidBinary)
                .get_columns()
                .iter()
                .filter(|c| {
                    c.get_column_type()
                        .is_some_and(|t| matches!(t, sea_query::ColumnType::Custom(name) if name.to_string() == "binary(16)"))
                })
                .map(|c| c.get_column_name())
                .collect();
            assert_eq!(typed, table.record_key_columns(), "{table:?}");
            assert_eq!(
                StateTable::KEYED.contains(&table),
                !typed.is_empty(),
                "{table:?}"
            );
        }
    }
}
