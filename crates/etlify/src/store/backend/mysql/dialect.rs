//! MySQL's SQL text (MariaDB's flavour): `datetime(6)` values, the server's
//! clock, and the upserts the shared code writes in PostgreSQL's form
//! rendered in MariaDB's ([`MariaDbQueryBuilder`]).

use std::cell::RefCell;
use std::time::Duration;

use sea_query::{
    BinOper, ConditionHolder, ConditionHolderContents, DynIden, ExplainStatement, Expr, ExprTrait,
    Func, JoinType, LockType, MysqlQueryBuilder, OnConflictAction, OnConflictTarget,
    OnConflictUpdate, Oper, OrderExpr, QueryBuilder, Quote, SelectDistinct, SelectInto, SqlWriter,
    SubQueryStatement, TableRef, Value, WithClause,
};
use sea_query::{
    EscapeBuilder, OperLeftAssocDecider, PrecedenceDecider, QuotedBuilder, TableRefBuilder,
};
use sea_query_sqlx::{SqlxBinder, SqlxValues};

use super::NOW;
use crate::id::ResourceId;
use crate::store::backend::{Dialect, Statement};
use crate::store::{BackendKind, Timestamp};

/// MySQL's SQL text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MysqlDialect;

impl MysqlDialect {
    /// Renders `statement` with `render`, then makes an insert whose
    /// conflicts do nothing an `INSERT IGNORE` (MySQL has no `DO NOTHING`;
    /// the builder left the clause out and said so).
    fn rendered<T>(
        statement: Statement<'_>,
        render: impl Fn(Statement<'_>, MariaDbQueryBuilder<'_>) -> (String, T),
    ) -> (String, T) {
        let ignores = RefCell::new(false);
        let (sql, values) = render(statement, MariaDbQueryBuilder::new(&ignores));
        if *ignores.borrow() {
            if let Some(rest) = sql.strip_prefix("INSERT ") {
                return (format!("INSERT IGNORE {rest}"), values);
            }
        }
        (sql, values)
    }
}

impl Dialect for MysqlDialect {
    fn kind(&self) -> BackendKind {
        BackendKind::Mysql
    }

    fn build(&self, statement: Statement<'_>) -> (String, SqlxValues) {
        Self::rendered(statement, |statement, builder| match statement {
            Statement::Select(s) => s.build_sqlx(builder),
            Statement::Insert(s) => s.build_sqlx(builder),
            Statement::Update(s) => s.build_sqlx(builder),
            Statement::Delete(s) => s.build_sqlx(builder),
        })
    }

    fn render(&self, statement: Statement<'_>) -> String {
        Self::rendered(statement, |statement, builder| {
            let sql = match statement {
                Statement::Select(s) => s.to_string(builder),
                Statement::Insert(s) => s.to_string(builder),
                Statement::Update(s) => s.to_string(builder),
                Statement::Delete(s) => s.to_string(builder),
            };
            (sql, ())
        })
        .0
    }

    fn timestamp_value(&self, ts: Timestamp) -> Value {
        Value::ChronoDateTime(Some(ts))
    }

    fn null_timestamp(&self) -> Value {
        Value::ChronoDateTime(None)
    }

    fn epoch(&self) -> Expr {
        Expr::cust("TIMESTAMP'1970-01-01 00:00:00'")
    }

    fn now(&self) -> Expr {
        Expr::cust(NOW)
    }

    fn now_plus(&self, duration: Duration) -> Expr {
        // A number of this crate's own, never user input.
        Expr::cust(format!(
            "({NOW} + INTERVAL {} MICROSECOND)",
            duration.as_micros()
        ))
    }

    fn now_minus(&self, duration: Duration) -> Expr {
        // A number of this crate's own, never user input.
        Expr::cust(format!(
            "({NOW} - INTERVAL {} MICROSECOND)",
            duration.as_micros()
        ))
    }

    fn has_fraction_of_second(&self, column: Expr) -> Expr {
        Expr::cust_with_exprs("MICROSECOND(?) <> 0", [column])
    }

    fn epoch_seconds(&self, column: Expr) -> Expr {
        // The session's time zone is UTC (`mod.rs`): a `datetime` counts
        // as UTC, a `timestamp` is an instant.
        Expr::cust_with_exprs("CAST(UNIX_TIMESTAMP(?) AS DOUBLE)", [column])
    }

    fn id_in(&self, column: Expr, ids: &[ResourceId]) -> Expr {
        // MySQL takes no array parameter: one placeholder per id.
        column.is_in(ids.iter().map(|id| id.value()))
    }

    fn excluded(&self, column: &str) -> String {
        // The row an upsert would have inserted: `VALUES(col)` (MariaDB
        // reads it in `ON DUPLICATE KEY UPDATE` only).
        format!("VALUES(\"{column}\")")
    }
}

/// MySQL's query builder, with what MariaDB (10.5 and later) adds and the
/// shared code uses:
///
/// - `RETURNING` on `INSERT` and `DELETE` (MariaDB has none on `UPDATE`);
/// - an upsert's condition (`ON CONFLICT … DO UPDATE … WHERE cond`):
///   each column set only where the condition holds, `c = IF(cond,
///   VALUES(c), c)`, assignments evaluated left to right on the row found;
///   `RETURNING` then returns that row whether or not it changed, so
///   callers compare what it returns (the lease owner) with their own;
/// - `DO NOTHING` as `INSERT IGNORE` (flagged here, rewritten by
///   [`MysqlDialect`]): `ON DUPLICATE KEY UPDATE k = k` would count a row
///   found as affected, the driver asking for found rows.
///
/// Everything else is MySQL's builder's. The conflict target is kept
/// from `prepare_on_conflict_target` to the action, and the action to its
/// condition, which the shared renderer writes in that order.
#[derive(Debug)]
pub(crate) struct MariaDbQueryBuilder<'a> {
    /// Whether the statement's conflicts do nothing (`INSERT IGNORE`).
    ignores: &'a RefCell<bool>,
    /// The upsert's action, written once its condition is known.
    action: RefCell<Option<OnConflictAction>>,
    /// How many conflict conditions were rendered (target's, then action's).
    conditions: RefCell<u8>,
}

impl<'a> MariaDbQueryBuilder<'a> {
    fn new(ignores: &'a RefCell<bool>) -> Self {
        Self {
            ignores,
            action: RefCell::new(None),
            conditions: RefCell::new(0),
        }
    }

    /// `SET` list of `action`, each column guarded by `condition` if any.
    fn write_update(
        &self,
        updates: &[OnConflictUpdate],
        condition: Option<&ConditionHolder>,
        sql: &mut impl SqlWriter,
    ) {
        sql.write_str(" ON DUPLICATE KEY UPDATE ")
            .unwrap_or_default();
        for (i, update) in updates.iter().enumerate() {
            if i > 0 {
                sql.write_str(", ").unwrap_or_default();
            }
            let column: &DynIden = match update {
                OnConflictUpdate::Column(column) | OnConflictUpdate::Expr(column, _) => column,
            };
            self.prepare_iden(column, sql);
            sql.write_str(" = ").unwrap_or_default();
            if let Some(condition) = condition {
                sql.write_str("IF(").unwrap_or_default();
                self.prepare_condition(condition, "", sql);
                sql.write_str(", ").unwrap_or_default();
            }
            match update {
                OnConflictUpdate::Column(column) => {
                    self.prepare_on_conflict_excluded_table(column, sql)
                }
                OnConflictUpdate::Expr(_, expr) => self.prepare_expr(expr, sql),
            }
            if condition.is_some() {
                sql.write_str(", ").unwrap_or_default();
                self.prepare_iden(column, sql);
                sql.write_str(")").unwrap_or_default();
            }
        }
    }
}

impl QueryBuilder for MariaDbQueryBuilder<'_> {
    fn values_list_tuple_prefix(&self) -> &str {
        MysqlQueryBuilder.values_list_tuple_prefix()
    }

    fn prepare_select_distinct(&self, select_distinct: &SelectDistinct, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_select_distinct(select_distinct, sql)
    }

    fn prepare_select_into(&self, into: &SelectInto, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_select_into(into, sql)
    }

    fn prepare_index_hints(
        &self,
        table_ref: &TableRef,
        select: &sea_query::SelectStatement,
        sql: &mut impl SqlWriter,
    ) {
        MysqlQueryBuilder.prepare_index_hints(table_ref, select, sql)
    }

    fn prepare_query_statement(&self, query: &SubQueryStatement, sql: &mut impl SqlWriter) {
        // Subqueries through this builder too (its casts).
        match query {
            SubQueryStatement::SelectStatement(s) => self.prepare_select_statement(s, sql),
            SubQueryStatement::InsertStatement(s) => self.prepare_insert_statement(s, sql),
            SubQueryStatement::UpdateStatement(s) => self.prepare_update_statement(s, sql),
            SubQueryStatement::DeleteStatement(s) => self.prepare_delete_statement(s, sql),
            SubQueryStatement::WithStatement(s) => self.prepare_with_query(s, sql),
        }
    }

    fn prepare_expr(&self, expr: &Expr, sql: &mut impl SqlWriter) {
        // The shared code casts to PostgreSQL's and SQLite's type names;
        // MySQL casts to `SIGNED` and `CHAR`.
        if let Expr::FunctionCall(call) = expr {
            if let (Func::Cast, [Expr::Binary(value, BinOper::As, target)]) =
                (call.get_func(), call.get_args())
            {
                if let Expr::Custom(name) = target.as_ref() {
                    let lower = name.to_ascii_lowercase();
                    let mapped: &str = match lower.as_str() {
                        "bigint" | "integer" | "int" => "SIGNED",
                        "text" | "varchar" => "CHAR",
                        _ => name.as_ref(),
                    };
                    sql.write_str("CAST(").unwrap_or_default();
                    self.prepare_expr(value, sql);
                    sql.write_str(" AS ").unwrap_or_default();
                    sql.write_str(mapped).unwrap_or_default();
                    sql.write_str(")").unwrap_or_default();
                    return;
                }
            }
        }
        self.prepare_expr_common(expr, sql)
    }

    fn prepare_explain_statement(&self, explain: &ExplainStatement, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_explain_statement(explain, sql)
    }

    fn prepare_with_clause_recursive_options(&self, with: &WithClause, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_with_clause_recursive_options(with, sql)
    }

    fn prepare_with_query_clause_materialization(
        &self,
        cte: &sea_query::CommonTableExpression,
        sql: &mut impl SqlWriter,
    ) {
        MysqlQueryBuilder.prepare_with_query_clause_materialization(cte, sql)
    }

    fn prepare_update_join(
        &self,
        from: &[TableRef],
        condition: &ConditionHolder,
        sql: &mut impl SqlWriter,
    ) {
        MysqlQueryBuilder.prepare_update_join(from, condition, sql)
    }

    fn prepare_update_from(&self, from: &[TableRef], sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_update_from(from, sql)
    }

    fn prepare_update_column(
        &self,
        table: &Option<Box<TableRef>>,
        from: &[TableRef],
        column: &DynIden,
        sql: &mut impl SqlWriter,
    ) {
        MysqlQueryBuilder.prepare_update_column(table, from, column, sql)
    }

    fn prepare_update_condition(
        &self,
        from: &[TableRef],
        condition: &ConditionHolder,
        sql: &mut impl SqlWriter,
    ) {
        MysqlQueryBuilder.prepare_update_condition(from, condition, sql)
    }

    fn prepare_join_type(&self, join_type: &JoinType, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_join_type(join_type, sql)
    }

    fn prepare_order_expr(&self, order_expr: &OrderExpr, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_order_expr(order_expr, sql)
    }

    fn prepare_value(&self, value: Value, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_value(value, sql)
    }

    fn prepare_on_conflict_target(&self, target: &OnConflictTarget, _: &mut impl SqlWriter) {
        // MySQL names no target: any unique key conflicts. The target's
        // first column stands for "nothing changes" where one is needed.
        let _ = target;
    }

    fn prepare_on_conflict_keywords(&self, _: &mut impl SqlWriter) {
        // Written with the action, once its condition is known.
    }

    fn prepare_on_conflict_action(
        &self,
        action: &Option<OnConflictAction>,
        _: &mut impl SqlWriter,
    ) {
        match action {
            Some(OnConflictAction::DoNothing(_)) => *self.ignores.borrow_mut() = true,
            other => *self.action.borrow_mut() = other.clone(),
        }
    }

    fn prepare_on_conflict_condition(&self, condition: &ConditionHolder, sql: &mut impl SqlWriter) {
        // Called for the target's condition (none in MySQL), then for the
        // action's: the action is written at the second call.
        let call = {
            let mut calls = self.conditions.borrow_mut();
            *calls += 1;
            *calls
        };
        if call < 2 {
            return;
        }
        if let Some(OnConflictAction::Update(updates)) = self.action.borrow_mut().take() {
            let guarded = !matches!(condition.contents, ConditionHolderContents::Empty);
            self.write_update(&updates, guarded.then_some(condition), sql);
        }
    }

    fn prepare_on_conflict_excluded_table(&self, column: &DynIden, sql: &mut impl SqlWriter) {
        MysqlQueryBuilder.prepare_on_conflict_excluded_table(column, sql)
    }

    fn random_function(&self) -> &str {
        MysqlQueryBuilder.random_function()
    }

    fn lock_phrase(&self, lock_type: LockType) -> &'static str {
        MysqlQueryBuilder.lock_phrase(lock_type)
    }

    fn insert_default_keyword(&self) -> &str {
        MysqlQueryBuilder.insert_default_keyword()
    }
}

impl QuotedBuilder for MariaDbQueryBuilder<'_> {
    fn quote(&self) -> Quote {
        MysqlQueryBuilder.quote()
    }
}

impl EscapeBuilder for MariaDbQueryBuilder<'_> {}

impl TableRefBuilder for MariaDbQueryBuilder<'_> {}

impl PrecedenceDecider for MariaDbQueryBuilder<'_> {
    fn inner_expr_well_known_greater_precedence(&self, inner: &Expr, outer_oper: &Oper) -> bool {
        MysqlQueryBuilder.inner_expr_well_known_greater_precedence(inner, outer_oper)
    }
}

impl OperLeftAssocDecider for MariaDbQueryBuilder<'_> {
    fn well_known_left_associative(&self, op: &BinOper) -> bool {
        MysqlQueryBuilder.well_known_left_associative(op)
    }
}
