//! Rows of `etlify_links`: what each record is linked to in each CRM
//! (docs/MODELS.md, "Links"). A row is written once the CRM accepted the
//! link, and removed once the CRM removed it, so the table says what the
//! CRM holds; every worker reads and writes the same rows.

use sea_query::{Cond, Condition, Expr, ExprTrait, Iden, OnConflict, Query};
use sqlx::FromRow;

use super::Store;
use crate::error::Result;
use crate::id::ResourceId;

/// The table and its columns (`links/join_rows.rs` compares join tables
/// with it).
#[derive(Iden, Clone, Copy)]
pub(crate) enum EtlifyLinks {
    Table,
    CrmName,
    FromType,
    FromId,
    LinkName,
    ToType,
    ToId,
    FromObjectType,
    ToObjectType,
    FromCrmId,
    ToCrmId,
    Association,
    LinkedAt,
}

use EtlifyLinks as L;

/// The columns a row is keyed by: one row per link and target of a record.
const KEY: [L; 6] = [
    L::CrmName,
    L::FromType,
    L::FromId,
    L::LinkName,
    L::ToType,
    L::ToId,
];

/// The columns a recorded link rewrites.
const LINKED: [L; 6] = [
    L::FromObjectType,
    L::ToObjectType,
    L::FromCrmId,
    L::ToCrmId,
    L::Association,
    L::LinkedAt,
];

/// Rows changed per statement (placeholders stay well under every
/// database's limit).
const CHUNK: usize = 200;

/// One link a record has in a CRM.
#[derive(Debug, Clone, PartialEq, Eq, Hash, FromRow)]
pub struct LinkRow {
    /// The record's id.
    pub from_id: ResourceId,
    /// The link's declared name.
    pub link_name: String,
    /// The target's declared resource type.
    pub to_type: String,
    /// The target's id.
    pub to_id: ResourceId,
    /// The record's CRM object type.
    pub from_object_type: String,
    /// The target's CRM object type.
    pub to_object_type: String,
    /// The record's CRM id the link was made from.
    pub from_crm_id: String,
    /// The target's CRM id the link was made to.
    pub to_crm_id: String,
    /// The association type (`default`, or `CATEGORY:type_id`).
    pub association: String,
}

/// The links recorded for records `ids` of `from_type` in `crm_name`.
pub(crate) async fn recorded(
    store: &Store,
    crm_name: &str,
    from_type: &str,
    ids: &[ResourceId],
) -> Result<Vec<LinkRow>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK * 5) {
        let mut select = Query::select();
        select
            .columns([L::FromId, L::LinkName, L::ToType, L::ToId])
            .columns([
                L::FromObjectType,
                L::ToObjectType,
                L::FromCrmId,
                L::ToCrmId,
                L::Association,
            ])
            .from(L::Table)
            .and_where(Expr::col(L::CrmName).eq(crm_name))
            .and_where(Expr::col(L::FromType).eq(from_type))
            .and_where(store.dialect().id_in(Expr::col(L::FromId), chunk))
            .order_by(L::FromId, sea_query::Order::Asc)
            .order_by(L::LinkName, sea_query::Order::Asc)
            .order_by(L::ToId, sea_query::Order::Asc);
        let (sql, values) = store.build(&select);
        rows.extend(store.fetch_all::<LinkRow>(sql, values).await?);
    }
    Ok(rows)
}

/// Records `rows` (links the CRM accepted) for `from_type` in `crm_name`;
/// a row of the same link and target is replaced.
pub(crate) async fn record(
    store: &Store,
    crm_name: &str,
    from_type: &str,
    rows: &[LinkRow],
) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert
            .into_table(L::Table)
            .columns(KEY.into_iter().chain(LINKED));
        for row in chunk {
            insert
                .values([
                    Expr::val(crm_name),
                    Expr::val(from_type),
                    Expr::val(row.from_id.value()),
                    Expr::val(row.link_name.as_str()),
                    Expr::val(row.to_type.as_str()),
                    Expr::val(row.to_id.value()),
                    Expr::val(row.from_object_type.as_str()),
                    Expr::val(row.to_object_type.as_str()),
                    Expr::val(row.from_crm_id.as_str()),
                    Expr::val(row.to_crm_id.as_str()),
                    Expr::val(row.association.as_str()),
                    store.dialect().now(),
                ])
                // Internal invariant: twelve values for twelve columns.
                .expect("values match the column list");
        }
        insert.on_conflict(OnConflict::columns(KEY).update_columns(LINKED).to_owned());
        let (sql, values) = store.build(&insert);
        store.execute(sql, values).await?;
    }
    Ok(())
}

/// Forgets `rows` (links the CRM removed) of `from_type` in `crm_name`;
/// a row recorded meanwhile with other CRM ids is kept.
pub(crate) async fn forget(
    store: &Store,
    crm_name: &str,
    from_type: &str,
    rows: &[LinkRow],
) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let any = chunk.iter().fold(Cond::any(), |any, row| {
            any.add(
                Condition::all()
                    .add(Expr::col(L::FromId).eq(row.from_id.value()))
                    .add(Expr::col(L::LinkName).eq(row.link_name.as_str()))
                    .add(Expr::col(L::ToType).eq(row.to_type.as_str()))
                    .add(Expr::col(L::ToId).eq(row.to_id.value()))
                    .add(Expr::col(L::FromCrmId).eq(row.from_crm_id.as_str()))
                    .add(Expr::col(L::ToCrmId).eq(row.to_crm_id.as_str())),
            )
        });
        let mut delete = Query::delete();
        delete
            .from_table(L::Table)
            .and_where(Expr::col(L::CrmName).eq(crm_name))
            .and_where(Expr::col(L::FromType).eq(from_type))
            .cond_where(any);
        let (sql, values) = store.build(&delete);
        store.execute(sql, values).await?;
    }
    Ok(())
}

/// Forgets every link recorded in `crm_name` (of `from_type` only, when
/// given): the CRM's sync state is forgotten (`Etlify::forget`).
pub(crate) async fn forget_crm(
    store: &Store,
    crm_name: &str,
    from_type: Option<&str>,
) -> Result<u64> {
    let mut delete = Query::delete();
    delete
        .from_table(L::Table)
        .and_where(Expr::col(L::CrmName).eq(crm_name));
    if let Some(from_type) = from_type {
        delete.and_where(Expr::col(L::FromType).eq(from_type));
    }
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await
}
