//! The stale-record finder's SQL (docs/BEHAVIOUR.md, "Stale records"), rendered from
//! plain inputs — a dialect, a resolved model, a CRM name and its error
//! budget — so it needs no database (golden tests: `sql_tests.rs`).
//! Running the queries page by page is `pages.rs`.
//!
//! For one (model, CRM) it selects the primary keys of stale records in
//! ascending order, in keyset-paginated pages. A record is stale when
//! it has no sync row for the CRM, or its `last_synced_at` is older than
//! the newest timestamp of the record or of any declared dependency (NULL
//! and missing timestamps count as the epoch; strict `<`), and its row is
//! under the CRM's error budget; restricted by `stale_scope` and the STI
//! filter.
//!
//! Two plans return exactly the same ids (property-tested):
//! - [`FinderPlan::Reference`]: the definition written as SQL, one
//!   correlated subquery per dependency path. Cost grows with table size.
//! - [`FinderPlan::ChangedSince`]: first the records that have a sync row
//!   and changed since the run's watermark `W` (the oldest `last_synced_at`
//!   among rows under the error budget); a stale record with a row must
//!   have a timestamp newer than its own `last_synced_at >= W`, so only
//!   rows newer than `W` (owner or dependency, found through their
//!   timestamp indexes) and, in a complete run, rows never stamped are
//!   candidates, and the exact predicate is applied to them. Then the
//!   records without a sync row, by an anti-join. With indexes on the
//!   timestamp and foreign-key columns, a run where nothing changed costs
//!   one anti-join walk.

use sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement, UnionType,
};

use super::standing::Standing;
use crate::catalog::{ResolvedBinding, ResolvedDependency, ResolvedModel};
use crate::dependency::{HopSide, JoinPath};
use crate::id::{KeyType, ResourceId};
use crate::store::backend::Dialect;
use crate::store::schema::PENDING_TABLE;
use crate::store::sync_rows::CrmSynchronisations as Cs;
use crate::store::Timestamp;
use crate::values::TimestampColumn;

/// Alias of the sync table in finder queries.
const SYNC: &str = "etlify_sync";

/// How stale ids are found: an implementation detail, reachable with the
/// `bench` feature for benchmarks and checks (results are identical,
/// property-tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FinderPlan {
    /// The definition as SQL; the yardstick (chosen only by benchmarks and
    /// checks: runs take the reference SQL through `Selection::All` or when
    /// candidates are many).
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    Reference,
    /// Candidates changed since the watermark, then records without a row.
    #[default]
    ChangedSince,
}

/// How far back a stale-only run of [`FinderPlan::ChangedSince`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// The whole table: changes since the watermark, sync rows never
    /// stamped, and every record without a sync row. Exact by construction.
    Complete,
    /// What changed since a checkpoint (`store/checkpoint.rs`): changes
    /// stamped after it, records without a sync row above its highest id,
    /// and rows that a run always looks at again (failing rows, records
    /// waiting for a dependency).
    SinceCheckpoint,
}

/// Which records a page query selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Stale records only.
    Stale,
    /// Every record in scope and under the error budget (full reconcile, X-18).
    All,
}

/// Builds the finder queries of one (model, CRM).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinderSql<'a> {
    dialect: &'a dyn Dialect,
    model: &'a ResolvedModel,
    binding: &'a ResolvedBinding,
    crm: &'a str,
    max_sync_errors: i64,
}

pub(super) fn col(table: &str, column: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(column)))
}

impl<'a> FinderSql<'a> {
    /// The queries of `model`'s binding for `crm` in `dialect`, with
    /// the CRM's error budget; `None` when the model is not bound to it.
    pub(crate) fn new(
        dialect: &'a dyn Dialect,
        model: &'a ResolvedModel,
        crm: &'a str,
        max_sync_errors: u32,
    ) -> Option<Self> {
        Some(Self {
            dialect,
            model,
            binding: model.binding(crm)?,
            crm,
            max_sync_errors: i64::from(max_sync_errors),
        })
    }

    fn table(&self) -> &str {
        &self.model.table
    }

    fn pk(&self) -> Expr {
        col(self.table(), &self.model.primary_key)
    }

    /// `key` as the finder selects it: integer keys of any width as the
    /// 64-bit ids they are; UUID and text keys as they are.
    fn selected_key(&self, key: Expr) -> Expr {
        self.model.model.get_key_type().selected(key)
    }

    fn epoch(&self) -> Expr {
        self.dialect.epoch()
    }

    /// `COALESCE(table.column, epoch)`, or the epoch without a column.
    fn timestamp(&self, table: &str, column: Option<&str>) -> Expr {
        match column {
            Some(column) => Func::coalesce([col(table, column), self.epoch()]).into(),
            None => self.epoch(),
        }
    }

    fn hop_alias(dependency: usize, path: usize, hop: usize) -> String {
        format!("etlify_d{dependency}_p{path}_h{hop}")
    }

    /// `FROM hop1 JOIN hop2 … WHERE hop1 joins the owner` for one path;
    /// returns the statement and the alias of the target hop.
    fn path_select(
        &self,
        dependency: usize,
        path_index: usize,
        path: &JoinPath,
    ) -> (SelectStatement, String) {
        let owner = self.table().to_owned();
        let owner_pk = self.model.primary_key.clone();
        let mut select = Query::select();
        let mut previous = (owner, owner_pk);
        let mut target = String::new();
        for (index, hop) in path.hops.iter().enumerate() {
            let alias = Self::hop_alias(dependency, path_index, index);
            let previous_column = hop
                .previous_column
                .clone()
                .unwrap_or_else(|| previous.1.clone());
            let on = col(&alias, &hop.column)
                .equals((Alias::new(previous.0.as_str()), Alias::new(previous_column)));
            let mut conditions = vec![on];
            for condition in &hop.conditions {
                let table = match condition.side {
                    HopSide::This => alias.as_str(),
                    HopSide::Previous => previous.0.as_str(),
                };
                conditions.push(col(table, &condition.column).eq(condition.value.as_str()));
            }
            let condition = conditions
                .into_iter()
                .reduce(ExprTrait::and)
                .unwrap_or_else(|| Expr::val(true));
            if index == 0 {
                select.from_as(Alias::new(hop.table.as_str()), Alias::new(alias.as_str()));
                select.and_where(condition);
            } else {
                select.join_as(
                    JoinType::InnerJoin,
                    Alias::new(hop.table.as_str()),
                    Alias::new(alias.as_str()),
                    condition,
                );
            }
            previous = (alias.clone(), hop.primary_key.clone());
            target = alias;
        }
        (select, target)
    }

    fn target_column(path: &JoinPath) -> Option<&str> {
        match &path.target().timestamp {
            TimestampColumn::Column(column) => Some(column.as_str()),
            _ => None,
        }
    }

    /// Every dependency path whose target has a timestamp column, with
    /// its dependency and path indices (for aliases) and that column; a
    /// path without one contributes the epoch, which changes nothing.
    fn timestamped_paths(&self) -> impl Iterator<Item = (usize, usize, &'a JoinPath, &'a str)> {
        let binding: &'a ResolvedBinding = self.binding;
        let dependencies: &'a [ResolvedDependency] = &binding.dependencies;
        dependencies
            .iter()
            .enumerate()
            .flat_map(|(d, dependency)| {
                dependency
                    .paths
                    .iter()
                    .enumerate()
                    .map(move |(p, path)| (d, p, path))
            })
            .filter_map(|(d, p, path)| Some((d, p, path, Self::target_column(path)?)))
    }

    /// `GREATEST(owner ts, newest ts of every dependency path)`.
    fn threshold(&self) -> Expr {
        let mut parts = vec![self.timestamp(self.table(), self.model.timestamp_column.as_deref())];
        for (d, p, path, column) in self.timestamped_paths() {
            let (mut select, target) = self.path_select(d, p, path);
            select.expr(col(&target, column).max());
            let newest: Expr = select.into();
            parts.push(Func::coalesce([newest, self.epoch()]).into());
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Func::greatest(parts).into()
        }
    }

    fn sync_join(&self, after: Option<ResourceId>) -> Expr {
        let mut on = col(SYNC, "crm_name")
            .eq(self.crm)
            .and(col(SYNC, "resource_type").eq(self.model.resource_type.as_str()))
            .and(col(SYNC, "resource_id").equals((
                Alias::new(self.table()),
                Alias::new(&self.model.primary_key),
            )));
        if let Some(after) = after {
            // Redundant, but keeps PostgreSQL on the index (docs/ARCHITECTURE.md).
            on = on.and(col(SYNC, "resource_id").gt(after.value()));
        }
        on
    }

    /// `SELECT pk FROM owner [LEFT] JOIN sync …` with scope, STI and cursor.
    fn base(&self, join: JoinType, after: Option<ResourceId>) -> SelectStatement {
        let mut select = Query::select();
        select
            .expr(self.selected_key(self.pk()))
            .from(Alias::new(self.table()))
            .join_as(
                join,
                Cs::Table,
                Alias::new(SYNC),
                self.sync_join(after.clone()),
            );
        if let Some(after) = after {
            select.and_where(self.pk().gt(after.value()));
        }
        self.restrict(&mut select, self.table());
        select.order_by_expr(self.pk(), Order::Asc);
        select
    }

    /// `stale_scope` (as `pk IN (SELECT pk FROM table WHERE scope)`, G-17),
    /// the STI filter and rows not soft-deleted, on `table_ref` (the owner
    /// table or an alias).
    fn restrict(&self, select: &mut SelectStatement, table_ref: &str) {
        let model = self.model;
        if let Some(sti) = &model.sti {
            select.and_where(col(table_ref, &sti.column).eq(sti.value.as_str()));
        }
        if let Some(deleted) = &model.soft_delete_column {
            select.and_where(col(table_ref, deleted).is_null());
        }
        if let Some(scope) = &self.binding.stale_scope {
            let mut scoped = Query::select();
            scoped
                .column(Alias::new(model.primary_key.as_str()))
                .from(Alias::new(&model.table))
                // The scope is the user's SQL over their own table.
                .and_where(Expr::cust(format!("({scope})")));
            select.and_where(col(table_ref, model.primary_key.as_str()).in_subquery(scoped));
        }
    }

    fn under_error_budget(&self) -> Expr {
        col(SYNC, "id")
            .is_null()
            .or(Func::coalesce([col(SYNC, "error_count"), Expr::val(0)]).lt(self.max_sync_errors))
    }

    /// The record changed since its last sync: its `last_synced_at` (the
    /// epoch when NULL) is older than the newest timestamp of the record or
    /// of a dependency.
    fn out_of_date(&self) -> Expr {
        Expr::expr(Func::coalesce([col(SYNC, "last_synced_at"), self.epoch()])).lt(self.threshold())
    }

    fn stale_condition(&self) -> Expr {
        col(SYNC, "id")
            .is_null()
            .or(self.out_of_date())
            .and(self.under_error_budget())
    }

    /// [`stale_condition`](Self::stale_condition) written to be evaluated
    /// row by row, for [`exact_page`](Self::exact_page): a record is stale
    /// as soon as one timestamp is found newer than its last sync — its
    /// own, then each dependency path's through `EXISTS`, paths of fewer
    /// hops first — so the timestamp that changed, often the first looked
    /// at, spares reading the others (10 pages of a run after touching 1%
    /// of the companies, in docs/BENCHMARKS.md: 0.17 s → 0.11 s on SQLite).
    ///
    /// Equal to the definition: with `L` the last sync (the epoch when
    /// NULL) at or after the epoch, `L < GREATEST(COALESCE(ts, epoch)…)`
    /// holds exactly when some non-NULL `ts > L`; before the epoch, the
    /// definition itself is used.
    fn stale_condition_first_newer(&self) -> Expr {
        col(SYNC, "id")
            .is_null()
            .or(self.out_of_date_first_newer())
            .and(self.under_error_budget())
    }

    /// [`out_of_date`](Self::out_of_date) written to be evaluated row by
    /// row (see [`stale_condition_first_newer`](Self::stale_condition_first_newer)).
    fn out_of_date_first_newer(&self) -> Expr {
        let last: Expr = Func::coalesce([col(SYNC, "last_synced_at"), self.epoch()]).into();
        let mut newer = Vec::new();
        if let Some(column) = self.model.timestamp_column.as_deref() {
            newer.push(col(self.table(), column).gt(last.clone()));
        }
        let mut paths: Vec<_> = self.timestamped_paths().collect();
        paths.sort_by_key(|(_, _, path, _)| path.hops.len());
        for (d, p, path, column) in paths {
            let (mut select, target) = self.path_select(d, p, path);
            select
                .expr(Expr::val(1))
                .and_where(col(&target, column).gt(last.clone()));
            newer.push(Expr::exists(select));
        }
        let any_newer = newer
            .into_iter()
            .reduce(ExprTrait::or)
            .unwrap_or_else(|| Expr::val(false));
        last.clone()
            .gte(self.epoch())
            .and(any_newer)
            .or(last.clone().lt(self.epoch()).and(last.lt(self.threshold())))
    }

    /// One page of the reference plan (or of every record, for `All`).
    pub(crate) fn reference_page(
        &self,
        selection: Selection,
        after: Option<ResourceId>,
        limit: u64,
    ) -> SelectStatement {
        let mut select = self.base(JoinType::LeftJoin, after);
        match selection {
            Selection::Stale => select.and_where(self.stale_condition()),
            Selection::All => select.and_where(self.under_error_budget()),
        };
        select.limit(limit);
        select
    }

    /// The oldest `last_synced_at` among rows under the error budget, how
    /// many they are, and how many of them were never stamped. It reads
    /// every sync row of the model (`last_synced_at` is not indexed: every
    /// sync rewrites it), so only complete runs use it.
    pub(crate) fn watermark(&self) -> SelectStatement {
        let mut select = Query::select();
        select
            .expr(col(SYNC, "last_synced_at").min())
            .expr(Expr::expr(col(SYNC, "id").count()).cast_as("bigint"))
            .expr(
                Expr::expr(col(SYNC, "id").count())
                    .sub(col(SYNC, "last_synced_at").count())
                    .cast_as("bigint"),
            )
            .from_as(Cs::Table, Alias::new(SYNC))
            .and_where(col(SYNC, "crm_name").eq(self.crm))
            .and_where(col(SYNC, "resource_type").eq(self.model.resource_type.as_str()))
            .and_where(
                Func::coalesce([col(SYNC, "error_count"), Expr::val(0)]).lt(self.max_sync_errors),
            );
        select
    }

    /// Phase 1 of [`FinderPlan::ChangedSince`]: every candidate id, in no
    /// order and possibly repeated — records reaching a row (their own or a
    /// dependency's) changed after `watermark`; since a checkpoint, also
    /// failing rows and records waiting for a dependency; in a complete
    /// run, also records with a sync row never stamped when the watermark's
    /// read counted some (`never_stamped`; unused since a checkpoint). A run
    /// reads them once (`candidates.rs`): read a page per call, every call
    /// worked out the whole union again, so a run's cost grew with the
    /// square of what changed.
    pub(crate) fn changed_candidates(
        &self,
        reach: Reach,
        watermark: Option<Timestamp>,
        never_stamped: bool,
    ) -> SelectStatement {
        let model = self.model;
        let pk_column = model.primary_key.as_str();
        let sync_rows = |condition: Expr| {
            let mut rows = Query::select();
            rows.expr(col(SYNC, "resource_id"))
                .from_as(Cs::Table, Alias::new(SYNC))
                .and_where(col(SYNC, "crm_name").eq(self.crm))
                .and_where(col(SYNC, "resource_type").eq(model.resource_type.as_str()))
                .and_where(condition);
            rows
        };
        // Rows never stamped: the engine writes one only with an error (the
        // failing rows) or in an error reset, which forgets the checkpoint;
        // others were written outside the engine (by hand, by the gem). No
        // index serves them (one would keep every sync's update of
        // `last_synced_at` from being heap-only on PostgreSQL:
        // docs/DECISIONS.md), so only a complete run looks for them, and
        // only when the watermark's read, which reads every row, saw some.
        let never_stamped_rows = || sync_rows(col(SYNC, "last_synced_at").is_null());

        let mut members = Vec::new();
        match reach {
            Reach::Complete if never_stamped => members.push(never_stamped_rows()),
            Reach::Complete => {}
            Reach::SinceCheckpoint => {
                // A literal 0, so PostgreSQL matches the partial index.
                members.push(sync_rows(col(SYNC, "error_count").gt(Expr::cust("0"))));
                const PENDING: &str = "etlify_pending";
                let mut waiting = Query::select();
                waiting
                    .expr(col(PENDING, "dependent_id"))
                    .from_as(Alias::new(PENDING_TABLE), Alias::new(PENDING))
                    .and_where(col(PENDING, "dependent_type").eq(model.resource_type.as_str()))
                    .and_where(col(PENDING, "crm_name").eq(self.crm));
                members.push(waiting);
            }
        }
        if let Some(watermark) = watermark {
            let w = Expr::val(self.dialect.timestamp_value(watermark));
            const OWNER: &str = "etlify_changed_owner";
            if let Some(ts) = &self.model.timestamp_column {
                let mut owner = Query::select();
                owner
                    .expr(self.selected_key(col(OWNER, pk_column)))
                    .from_as(Alias::new(&model.table), Alias::new(OWNER))
                    .and_where(col(OWNER, ts).gt(w.clone()));
                members.push(owner);
            }
            for (d, p, path, column) in self.timestamped_paths() {
                members.push(self.owners_reached(d, p, path, column, w.clone()));
            }
        }
        // `UNION ALL`: the reader's set drops repeats, so the database
        // neither sorts nor hashes the candidates. Every member's ids are
        // `bigint`, as the reader decodes them, whichever comes first (a
        // primary key may be an `integer`). With no member (no row
        // stamped, none never stamped), the rows never stamped: none.
        let mut members = members.into_iter();
        let mut candidates = members.next().unwrap_or_else(never_stamped_rows);
        for member in members {
            candidates.union(UnionType::All, member);
        }
        candidates
    }

    /// The stale ones among `candidates` (a page of `changed_candidates`): each
    /// candidate with a flag, `(id, 1)` when stale. The predicate sits in
    /// the select list so it is evaluated for these rows only, whatever
    /// plan the database picks; the caller keeps the flagged ids. Since a
    /// checkpoint, candidates without a sync row are stale too (a changed
    /// record inserted below the checkpoint's highest id).
    pub(crate) fn exact_page(&self, reach: Reach, candidates: &[ResourceId]) -> SelectStatement {
        let join = match reach {
            Reach::Complete => JoinType::InnerJoin,
            Reach::SinceCheckpoint => JoinType::LeftJoin,
        };
        let stale =
            Expr::case(self.stale_condition_first_newer(), Expr::val(1)).finally(Expr::val(0));
        let mut select = Query::select();
        select
            .expr(self.selected_key(self.pk()))
            .expr(Expr::Case(Box::new(stale)).cast_as("bigint"))
            .from(Alias::new(self.table()))
            .join_as(join, Cs::Table, Alias::new(SYNC), self.sync_join(None))
            .and_where(self.dialect.id_in(self.pk(), candidates));
        self.restrict(&mut select, self.table());
        select.order_by_expr(self.pk(), Order::Asc);
        select
    }

    /// Owners whose dependency `path` reaches a row newer than `w`, as
    /// nested `IN` subqueries walked from the changed target rows back to
    /// the owner (`owner.fk IN (SELECT … FROM hop1 WHERE hop1.x IN (SELECT …
    /// FROM target WHERE target.ts > w))`), so every database starts from the
    /// target's timestamp index and follows the join columns' indexes.
    fn owners_reached(
        &self,
        d: usize,
        p: usize,
        path: &JoinPath,
        column: &str,
        w: Expr,
    ) -> SelectStatement {
        let model = self.model;
        const OWNER: &str = "etlify_reached_owner";
        // The column each hop joins on, on the table before it.
        let joins_on: Vec<String> = path
            .hops
            .iter()
            .enumerate()
            .map(|(index, hop)| {
                hop.previous_column.clone().unwrap_or_else(|| match index {
                    0 => model.primary_key.as_str().to_owned(),
                    _ => path.hops[index - 1].primary_key.clone(),
                })
            })
            .collect();
        // Innermost first: values of the previous table's join column.
        let mut inner: Option<SelectStatement> = None;
        for (index, hop) in path.hops.iter().enumerate().rev() {
            let alias = Self::hop_alias(d, p, index);
            let mut select = Query::select();
            select
                .column((Alias::new(alias.as_str()), Alias::new(hop.column.as_str())))
                .from_as(Alias::new(hop.table.as_str()), Alias::new(alias.as_str()));
            for condition in hop.conditions.iter().filter(|c| c.side == HopSide::This) {
                select.and_where(col(&alias, &condition.column).eq(condition.value.as_str()));
            }
            match inner.take() {
                None => {
                    select.and_where(col(&alias, column).gt(w.clone()));
                }
                Some(next) => {
                    let next_hop = &path.hops[index + 1];
                    for condition in next_hop
                        .conditions
                        .iter()
                        .filter(|c| c.side == HopSide::Previous)
                    {
                        select
                            .and_where(col(&alias, &condition.column).eq(condition.value.as_str()));
                    }
                    select.and_where(col(&alias, &joins_on[index + 1]).in_subquery(next));
                }
            }
            inner = Some(select);
        }
        let mut select = Query::select();
        select
            .expr(self.selected_key(col(OWNER, model.primary_key.as_str())))
            .from_as(Alias::new(&model.table), Alias::new(OWNER));
        if let Some(first) = path.hops.first() {
            for condition in first
                .conditions
                .iter()
                .filter(|c| c.side == HopSide::Previous)
            {
                select.and_where(col(OWNER, &condition.column).eq(condition.value.as_str()));
            }
        }
        if let Some(inner) = inner {
            select.and_where(col(OWNER, &joins_on[0]).in_subquery(inner));
        }
        select
    }

    /// Where every record in scope stands with the CRM (`standing.rs`):
    /// one row per [`Standing`] met, `(standing, records, newest
    /// last_synced_at)`. Each record is classed once, by the first that
    /// holds: over the error budget, failing, waiting for a sync
    /// dependency, never synced (no sync row), stale (out of date by the
    /// finder's own condition), else in sync. One statement, so the counts
    /// add up to the records in scope even while syncs write.
    pub(crate) fn standing(&self) -> SelectStatement {
        self.standing_among(None, self.sync_join(None))
    }

    /// [`standing`](Self::standing) of the records among `ids` with an id
    /// at or below `ids_through` (`None`: no record), for the metrics'
    /// count from a checkpoint (`standing.rs`).
    pub(crate) fn standing_of(
        &self,
        ids: &[ResourceId],
        ids_through: Option<ResourceId>,
    ) -> SelectStatement {
        let among = match ids_through {
            Some(through) => self
                .dialect
                .id_in(self.pk(), ids)
                .and(self.pk().lte(through.value())),
            None => Expr::val(false),
        };
        // The ids again on the sync rows: redundant, but keeps PostgreSQL
        // on their index rather than hashing every row of the model.
        let sync_join = self
            .sync_join(None)
            .and(self.dialect.id_in(col(SYNC, "resource_id"), ids));
        self.standing_among(Some(among), sync_join)
    }

    /// [`standing`](Self::standing) of the records with an id above
    /// `ids_through` (every record when `None`): one range of the primary
    /// key.
    pub(crate) fn standing_above(&self, ids_through: Option<ResourceId>) -> SelectStatement {
        let among = ids_through
            .as_ref()
            .map(|through| self.pk().gt(through.value()));
        self.standing_among(among, self.sync_join(ids_through))
    }

    /// How many records are in scope: one count of the owner table.
    pub(crate) fn in_scope_count(&self) -> SelectStatement {
        let mut select = Query::select();
        select
            .expr(Expr::expr(Expr::col(Asterisk).count()).cast_as("bigint"))
            .from(Alias::new(self.table()));
        self.restrict(&mut select, self.table());
        select
    }

    /// [`standing`](Self::standing) of the records in scope that `among`
    /// (a condition on the owner table) holds for, or of all, their sync
    /// rows joined on `sync_join`.
    fn standing_among(&self, among: Option<Expr>, sync_join: Expr) -> SelectStatement {
        const PENDING: &str = "etlify_pending";
        const STANDING: &str = "etlify_standing";
        let code = |standing: Standing| Expr::val(standing as i64);
        let mut waiting = Query::select();
        waiting
            .expr(Expr::val(1))
            .from_as(Alias::new(PENDING_TABLE), Alias::new(PENDING))
            .and_where(col(PENDING, "crm_name").eq(self.crm))
            .and_where(col(PENDING, "dependent_type").eq(self.model.resource_type.as_str()))
            .and_where(col(PENDING, "dependent_id").equals((
                Alias::new(self.table()),
                Alias::new(&self.model.primary_key),
            )));
        let failing = Func::coalesce([col(SYNC, "error_count"), Expr::val(0)]).gt(0);
        let standing = Expr::case(self.under_error_budget().not(), code(Standing::OverBudget))
            .case(failing, code(Standing::Failing))
            .case(Expr::exists(waiting), code(Standing::Waiting))
            .case(col(SYNC, "id").is_null(), code(Standing::NeverSynced))
            .case(self.out_of_date_first_newer(), code(Standing::Stale))
            .finally(code(Standing::InSync));
        let mut records = Query::select();
        records
            .expr_as(
                Expr::expr(Expr::Case(Box::new(standing))).cast_as("bigint"),
                Alias::new("standing"),
            )
            .expr_as(col(SYNC, "last_synced_at"), Alias::new("last_synced_at"))
            .from(Alias::new(self.table()))
            .join_as(JoinType::LeftJoin, Cs::Table, Alias::new(SYNC), sync_join);
        self.restrict(&mut records, self.table());
        if let Some(among) = among {
            records.and_where(among);
        }
        // Grouped outside: PostgreSQL cannot match a CASE with bound
        // values in the select list to the same CASE in GROUP BY.
        let mut select = Query::select();
        select
            .expr(col(STANDING, "standing"))
            // COUNT(*), not of the column: PostgreSQL would evaluate the
            // CASE again for the count's argument.
            .expr(Expr::expr(Expr::col(Asterisk).count()).cast_as("bigint"))
            .expr(col(STANDING, "last_synced_at").max())
            .from_subquery(records, Alias::new(STANDING))
            .group_by_col((Alias::new(STANDING), Alias::new("standing")))
            .order_by((Alias::new(STANDING), Alias::new("standing")), Order::Asc);
        select
    }

    /// The highest primary key of the owner table (a checkpoint's
    /// `ids_through`): one index seek.
    pub(crate) fn highest_id(&self) -> SelectStatement {
        let mut select = Query::select();
        select.from(Alias::new(self.table()));
        match self.model.model.get_key_type() {
            KeyType::Integer => select.expr(Expr::expr(self.pk().max()).cast_as("bigint")),
            // PostgreSQL has no MAX of a `uuid`: the last key in order.
            _ => select
                .expr(self.pk())
                .order_by_expr(self.pk(), Order::Desc)
                .limit(1),
        };
        select
    }

    /// The lowest id with a sync row (a checkpoint's `lowest_synced_id`):
    /// one seek of the resource index.
    pub(crate) fn lowest_synced_id(&self) -> SelectStatement {
        let mut select = Query::select();
        select
            .from_as(Cs::Table, Alias::new(SYNC))
            .and_where(col(SYNC, "crm_name").eq(self.crm))
            .and_where(col(SYNC, "resource_type").eq(self.model.resource_type.as_str()));
        match self.model.model.get_key_type() {
            KeyType::Integer => {
                select.expr(Expr::expr(col(SYNC, "resource_id").min()).cast_as("bigint"))
            }
            // PostgreSQL has no MIN of a `uuid`: the first key in order.
            _ => select
                .expr(col(SYNC, "resource_id"))
                .order_by_expr(col(SYNC, "resource_id"), Order::Asc)
                .limit(1),
        };
        select
    }

    /// A short fingerprint of what these queries select (scope, STI,
    /// dependencies, error budget, CRM): a checkpoint taken with other
    /// queries is not used.
    pub(crate) fn fingerprint(&self) -> String {
        use sha2::{Digest as _, Sha256};
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        let mut hash = Sha256::new();
        for statement in [
            self.changed_candidates(Reach::SinceCheckpoint, Some(at), false),
            self.exact_page(Reach::SinceCheckpoint, &[ResourceId::new(1)]),
            self.unsynced_page(None, 1),
        ] {
            hash.update(self.dialect.render((&statement).into()));
            hash.update([0]);
        }
        hash.finalize()[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Phase 2 of [`FinderPlan::ChangedSince`]: records without a sync row.
    /// Written as `NOT EXISTS`, so both databases walk the primary key from
    /// the cursor and stop at the page size.
    pub(crate) fn unsynced_page(&self, after: Option<ResourceId>, limit: u64) -> SelectStatement {
        let mut row = Query::select();
        row.expr(Expr::val(1))
            .from_as(Cs::Table, Alias::new(SYNC))
            .and_where(self.sync_join(after.clone()));
        let mut select = Query::select();
        select
            .expr(self.selected_key(self.pk()))
            .from(Alias::new(self.table()))
            .and_where(Expr::exists(row).not());
        if let Some(after) = after {
            select.and_where(self.pk().gt(after.value()));
        }
        self.restrict(&mut select, self.table());
        select.order_by_expr(self.pk(), Order::Asc).limit(limit);
        select
    }
}
