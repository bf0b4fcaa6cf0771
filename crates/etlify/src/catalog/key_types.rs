//! Each model's declared key type against its key column's SQL type
//! (docs/MODELS.md, "Key types"): checked before the sync-state schema,
//! whose key columns `migrate` types by the declaration, so a misfit (the
//! default `integer` over a `uuid` column) is named before anything runs
//! instead of failing every record at run time.

use crate::error::{ConfigError, Result};
use crate::id::KeyType;
use crate::model::Model;
use crate::store::backend::StateTable;
use crate::store::Store;

/// Fails with a [`ConfigError`] at `models.NAME.key_type` for the first
/// of `models` declaring a key type the database keeps no keys of, or one
/// the key column's values cannot be compared with (naming the type that
/// fits), or a non-integer one the sync-state tables were not made for. A table or column that
/// does not exist is left to the other checks.
pub(crate) async fn check<'a>(
    store: &Store,
    models: impl IntoIterator<Item = &'a Model>,
) -> Result<()> {
    let mut models_keyed_otherwise = Vec::new();
    for model in models {
        if model.get_key_type() != KeyType::Integer {
            models_keyed_otherwise.push(model);
        }
        let location = format!("models.{}", model.get_resource_type());
        if let Some(refusal) = store.dialect().refuses_keys(model.get_key_type()) {
            return Err(ConfigError::new(location, "key_type", refusal).into());
        }
        let (table, key) = (model.get_table(), model.get_primary_key());
        let Some(column) = store.backend().key_column(table, key).await? else {
            continue;
        };
        let declared = model.get_key_type();
        if column.fits(declared, store.uuid_storage()) {
            continue;
        }
        let declared = match declared {
            KeyType::Integer => "\"integer\" (the default)".to_owned(),
            other => format!("\"{other}\""),
        };
        // A column no key type fits is never refused: a misfit has one.
        let fitting = column.key_type().unwrap_or_default();
        return Err(ConfigError::new(
            location,
            "key_type",
            format!(
                "must be \"{fitting}\" for key column `{table}.{key}` ({}): {declared} keys cannot be compared with its values",
                column.sql_type
            ),
        )
        .into());
    }
    if let Some(model) = models_keyed_otherwise.first() {
        check_state_tables(store, model).await?;
    }
    Ok(())
}

/// Refuses a non-integer `model` over sync-state tables whose key columns
/// were made for integers (by a migration before the model's `key_type`
/// was declared), naming the commands that make them again; SQLite's
/// columns keep any key.
async fn check_state_tables(store: &Store, model: &Model) -> Result<()> {
    if store.dialect().keeps_any_key() {
        return Ok(());
    }
    let declared = model.get_key_type();
    for table in StateTable::KEYED {
        for key in table.record_key_columns() {
            let Some(column) = store.backend().key_column(table.name(), key).await? else {
                continue;
            };
            if column.fits(declared, store.uuid_storage()) {
                continue;
            }
            return Err(ConfigError::new(
                format!("models.{}", model.get_resource_type()),
                "key_type",
                format!(
                    "is \"{declared}\", but the sync-state column `{}.{key}` ({}) was made for other keys: run `etlify migrate --revert` then `etlify migrate` to make the sync-state tables again for \"{declared}\" keys (their sync state is dropped with them)",
                    table.name(),
                    column.sql_type
                ),
            )
            .into());
        }
    }
    Ok(())
}
