//! `etlify new-model TABLE`: a model section scaffolded from the table's
//! columns and foreign keys, to paste into the configuration and edit.

use etlify::Store;

use crate::error::CliError;

/// `users` → `User`, `companies` → `Company`, `order_items` → `OrderItem`
/// (the Rails class name of a table, for the common English plurals).
pub(crate) fn model_name(table: &str) -> String {
    let singular = if let Some(stem) = table.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = table.strip_suffix("sses") {
        format!("{stem}ss")
    } else if let Some(stem) = table.strip_suffix('s') {
        stem.to_owned()
    } else {
        table.to_owned()
    };
    singular
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The TOML section for `table`, bound to `crm`.
pub(crate) async fn new_model(
    store: &Store,
    table: &str,
    crm: &str,
    model: Option<&str>,
) -> Result<String, CliError> {
    let engine_error = |e: etlify::Error| CliError::engine("database", e);
    let columns = store
        .table_columns(table)
        .await
        .map_err(engine_error)?
        .ok_or_else(|| {
            CliError::config(format!(
                "table `{table}` does not exist in the configured database"
            ))
        })?;
    let model = model.map_or_else(|| model_name(table), str::to_owned);
    let mut dependencies = Vec::new();
    let declared = store.foreign_keys(table).await.map_err(engine_error)?;
    for (column, target, key) in &declared {
        let primary_key = if key == "id" {
            String::new()
        } else {
            format!(", primary_key = \"{key}\"")
        };
        dependencies.push(format!(
            "  {{ belongs_to = \"{target}\", foreign_key = \"{column}\"{primary_key} }},"
        ));
    }
    // Rails often declares no foreign key constraint: `<name>_id` columns
    // whose `<name>s` table exists are offered too.
    for column in &columns {
        let Some(stem) = column.strip_suffix("_id") else {
            continue;
        };
        if declared.iter().any(|(c, _, _)| c == column) {
            continue;
        }
        for target in [
            format!("{stem}s"),
            format!("{}ies", stem.trim_end_matches('y')),
        ] {
            if store
                .table_columns(&target)
                .await
                .map_err(engine_error)?
                .is_some()
            {
                dependencies.push(format!(
                    "  {{ belongs_to = \"{target}\", foreign_key = \"{column}\" }},"
                ));
                break;
            }
        }
    }
    let properties: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .filter(|c| !matches!(*c, "created_at" | "updated_at" | "encrypted_password"))
        .collect();
    // An integer key is the default; any other is written out, as the
    // key column's type says.
    let key_type = match store.key_type_of(table, "id").await.map_err(engine_error)? {
        Some(key_type) if key_type != etlify::KeyType::Integer => {
            format!("key_type = \"{key_type}\"   # from the type of column `id`\n")
        }
        _ => String::new(),
    };
    let object_type = hubspot_object_type(table);
    let has = |name: &str| columns.iter().any(|c| c == name);
    // HubSpot's unique properties: a contact's email, a company's domain.
    let id_property = match object_type {
        "contacts" if has("email") => "email",
        "companies" if has("domain") => "domain",
        _ => "",
    };
    let select = properties
        .iter()
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "[models.{model}]\ntable = \"{table}\"\n{key_type}\n[models.{model}.crms.{crm}]\n\
         object_type = \"{object_type}\"   # the CRM object type (or Airtable table)\n\
         id_property = \"{id_property}\"   # matches existing CRM objects; empty: create without a search\n\
         payload = \"\"\"\n  SELECT {select}\n  FROM {table}\n\"\"\"\n"
    );
    if !dependencies.is_empty() {
        out.push_str("dependencies = [\n");
        for line in &dependencies {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("]\n");
    }
    Ok(out)
}

/// The HubSpot standard object a table of that name most likely maps to
/// (contacts when no name matches); the user edits it either way.
fn hubspot_object_type(table: &str) -> &'static str {
    let name = table
        .rsplit('.')
        .next()
        .unwrap_or(table)
        .to_ascii_lowercase();
    match name.as_str() {
        "companies" | "organizations" | "organisations" | "accounts" => "companies",
        "deals" | "opportunities" => "deals",
        "tickets" => "tickets",
        "products" => "products",
        _ => "contacts",
    }
}

#[cfg(test)]
mod tests {
    use super::{hubspot_object_type, model_name};

    #[test]
    fn cli_scaffolds_guess_hubspots_standard_object_from_the_table_name() {
        for (table, object) in [
            ("companies", "companies"),
            ("Accounts", "companies"),
            ("public.organisations", "companies"),
            ("opportunities", "deals"),
            ("tickets", "tickets"),
            ("products", "products"),
            ("users", "contacts"),
            ("order_items", "contacts"),
        ] {
            assert_eq!(hubspot_object_type(table), object, "{table}");
        }
    }

    #[test]
    fn cli_model_names_follow_rails_class_names() {
        assert_eq!(model_name("users"), "User");
        assert_eq!(model_name("companies"), "Company");
        assert_eq!(model_name("order_items"), "OrderItem");
        assert_eq!(model_name("addresses"), "Address");
        assert_eq!(model_name("person"), "Person");
    }
}
