//! The tables each CRM's batch runs read, from the catalog: a change to
//! any of them may make a record stale.

use indexmap::{IndexMap, IndexSet};

use crate::catalog::Catalog;

/// Each table a bound model reads (as declared), with the CRMs whose batch
/// runs read it; `enabled_only` leaves out disabled CRMs (a worker
/// requests no job for them) and tables only they read.
///
/// A model reads its own table, the tables of its dependencies' join
/// paths (their timestamps make it stale) and those of its sync
/// dependencies (records synced before it). Tables a SQL payload or a
/// stale scope reads beyond those are not known here: their changes are
/// seen at the next interval.
pub(crate) fn read_by_crm(
    catalog: &Catalog,
    enabled_only: bool,
) -> IndexMap<String, IndexSet<String>> {
    let mut tables: IndexMap<String, IndexSet<String>> = IndexMap::new();
    for model in catalog.models() {
        for (crm, binding) in &model.bindings {
            if enabled_only && !catalog.crm_enabled(crm) {
                continue;
            }
            let mut add = |table: &str| {
                tables
                    .entry(table.to_owned())
                    .or_default()
                    .insert(crm.clone());
            };
            add(&model.table);
            for dependency in &binding.dependencies {
                for path in &dependency.paths {
                    for hop in &path.hops {
                        add(&hop.table);
                    }
                }
            }
            for dependency in &binding.sync_dependencies {
                add(&dependency.table);
            }
        }
    }
    tables
}
