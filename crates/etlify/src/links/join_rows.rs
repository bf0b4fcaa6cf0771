//! The records whose join-table links changed with no timestamp moved.
//!
//! A row added to or removed from a join table (a HABTM table, which
//! Rails cannot touch through) moves no timestamp the finder reads, and
//! the record's payload is unchanged: neither an ordinary run nor the
//! complete check would look at it. So the complete check compares each
//! join-table link's rows with what `etlify_links` records: a join row
//! with no recorded link, or a recorded link with no join row, names a
//! record whose links changed (docs/MODELS.md, "Links"). Only with
//! associations: on a CRM whose links are payload fields (Airtable), the
//! targets are in the payload and the record is stale by its digest.

use std::collections::BTreeSet;

use sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};

use crate::catalog::{ResolvedLink, Target};
use crate::context::Context;
use crate::error::Result;
use crate::id::{KeyType, ResourceId};
use crate::link::LinkVia;
use crate::store::links::EtlifyLinks as L;

/// The records of `target`'s model whose join-table links in `crm` differ
/// from what was linked, ascending.
pub(crate) async fn records(
    ctx: &Context,
    target: Target<'_>,
    crm: &str,
) -> Result<Vec<ResourceId>> {
    if target.crm.adapter().associations().is_none() {
        return Ok(Vec::new());
    }
    let mut found = BTreeSet::new();
    let store = ctx.store();
    let from_type = target.model.resource_type.as_str();
    for link in &target.binding.links {
        let LinkVia::JoinTable {
            table,
            owner_column,
            target_column,
        } = &link.via
        else {
            continue;
        };
        let join = Join {
            table,
            owner: owner_column,
            target: target_column,
            keys: (target.model.model.get_key_type(), link.target_key_type),
        };
        for select in [
            join.rows_not_linked(crm, from_type, link),
            join.links_without_a_row(crm, from_type, link),
        ] {
            let (sql, values) = store.build(&select);
            let rows: Vec<(Option<ResourceId>,)> = store.fetch_all(sql, values).await?;
            found.extend(rows.into_iter().filter_map(|(id,)| id));
        }
    }
    Ok(found.into_iter().collect())
}

/// One link's join table.
struct Join<'a> {
    table: &'a str,
    owner: &'a str,
    target: &'a str,
    /// The key types of the owner's and the target's models.
    keys: (KeyType, KeyType),
}

impl Join<'_> {
    /// The join table's owner column, as the owner's key type selects it.
    fn owner_key(&self) -> Expr {
        let column = Expr::col((Alias::new(self.table), Alias::new(self.owner)));
        self.keys.0.selected(column)
    }

    /// The join table's target column, as the target's key type selects it.
    fn target_key(&self) -> Expr {
        let column = Expr::col((Alias::new(self.table), Alias::new(self.target)));
        self.keys.1.selected(column)
    }

    /// `etlify_links`'s rows of `link` for records of `from_type` in `crm`.
    fn recorded(crm: &str, from_type: &str, link: &ResolvedLink) -> SelectStatement {
        let mut select = Query::select();
        select
            .expr(Expr::val(1))
            .from(L::Table)
            .and_where(Expr::col((L::Table, L::CrmName)).eq(crm))
            .and_where(Expr::col((L::Table, L::FromType)).eq(from_type))
            .and_where(Expr::col((L::Table, L::LinkName)).eq(link.name.as_str()))
            .and_where(Expr::col((L::Table, L::ToType)).eq(link.target.as_str()));
        select
    }

    /// The owners of join rows no recorded link matches.
    fn rows_not_linked(&self, crm: &str, from_type: &str, link: &ResolvedLink) -> SelectStatement {
        let column = |name: &str| Expr::col((Alias::new(self.table), Alias::new(name)));
        let mut matching = Self::recorded(crm, from_type, link);
        matching
            .and_where(Expr::col((L::Table, L::FromId)).eq(self.owner_key()))
            .and_where(Expr::col((L::Table, L::ToId)).eq(self.target_key()));
        let mut select = Query::select();
        select
            .distinct()
            .expr(self.owner_key())
            .from(Alias::new(self.table))
            .and_where(column(self.owner).is_not_null())
            .and_where(column(self.target).is_not_null())
            .and_where(Expr::exists(matching).not());
        select
    }

    /// The records with a recorded link no join row holds any more.
    fn links_without_a_row(
        &self,
        crm: &str,
        from_type: &str,
        link: &ResolvedLink,
    ) -> SelectStatement {
        let mut row = Query::select();
        row.expr(Expr::val(1))
            .from(Alias::new(self.table))
            .and_where(self.owner_key().eq(Expr::col((L::Table, L::FromId))))
            .and_where(self.target_key().eq(Expr::col((L::Table, L::ToId))));
        let mut select = Self::recorded(crm, from_type, link);
        select.clear_selects();
        select
            .distinct()
            .expr(Expr::col((L::Table, L::FromId)))
            .and_where(Expr::exists(row).not());
        select
    }
}
