//! How precise the timestamps an application writes are: whether the most
//! recent values of a model's timestamp column carry a fraction of a
//! second. A writer that stores whole seconds needs a `commit_margin` of a
//! second (`engine/checks.rs` warns of it).

use sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sqlx::FromRow;

use super::Store;
use crate::error::Result;

/// The most recent values of a timestamp column, sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecentTimestamps {
    /// Values looked at (non-NULL, the latest first).
    pub sampled: usize,
    /// Of which with a fraction of a second.
    pub with_fraction: usize,
}

#[derive(FromRow)]
struct Fraction {
    has_fraction: i64,
}

/// The latest `sample` non-NULL values of `table.column`.
pub(crate) async fn recent(
    store: &Store,
    table: &str,
    column: &str,
    sample: u64,
) -> Result<RecentTimestamps> {
    let value = || Expr::col(Alias::new(column));
    let has_fraction =
        Expr::case(store.dialect().has_fraction_of_second(value()), 1i64).finally(0i64);
    let mut select = Query::select();
    select
        .expr_as(has_fraction, Alias::new("has_fraction"))
        .from(Alias::new(table))
        .and_where(value().is_not_null())
        .order_by_expr(value(), Order::Desc)
        .limit(sample);
    let (sql, values) = store.build(&select);
    let rows: Vec<Fraction> = store.fetch_all(sql, values).await?;
    Ok(RecentTimestamps {
        sampled: rows.len(),
        with_fraction: rows.iter().filter(|row| row.has_fraction != 0).count(),
    })
}
