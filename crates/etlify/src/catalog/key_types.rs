//! Each model's declared key type against its key column's SQL type
//! (docs/MODELS.md, "Key types"): checked before the sync-state schema,
//! whose key columns `migrate` types by the declaration, so a misfit (the
//! default `integer` over a `uuid` column) is named before anything runs
//! instead of failing every record at run time.

use crate::error::{ConfigError, Result};
use crate::id::KeyType;
use crate::model::Model;
use crate::store::Store;

/// Fails with a [`ConfigError`] at `models.NAME.key_type` for the first
/// of `models` declaring a key type the database keeps no keys of, or one
/// the key column's values cannot be compared with (naming the type that
/// fits). A table or column that
/// does not exist is left to the other checks.
pub(crate) async fn check<'a>(
    store: &Store,
    models: impl IntoIterator<Item = &'a Model>,
) -> Result<()> {
    for model in models {
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
    Ok(())
}
