//! The bindings a batch run refuses before its first page: those whose
//! payload the CRM's schema refuses ([`SchemaCheck`]).

use super::{check_binding, BindingSchemaStatus, SchemaCache};
use crate::context::Context;
use crate::crm::SchemaCheck;
use crate::error::Result;

/// A binding a run does not start.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) model: String,
    pub(crate) message: String,
    /// Running again may succeed unchanged (the schema was unreachable).
    pub(crate) retriable: bool,
}

/// The bindings of `models` with `crm` that the run refuses: a problem
/// found, or (with [`SchemaCheck::Require`]) a schema that cannot be
/// read. With [`SchemaCheck::Auto`], an unreadable schema is a warning.
pub(crate) async fn refused_bindings(
    ctx: &Context,
    crm: &str,
    models: &[&str],
) -> Result<Vec<Refusal>> {
    let catalog = ctx.catalog();
    let registered = catalog.crm(crm)?.registered();
    let check = registered.get_schema_check();
    let memory = registered.schema_memory();
    if check == SchemaCheck::Skip || !catalog.crm(crm)?.adapter().reads_schemas() {
        return Ok(Vec::new());
    }
    let mut cache = SchemaCache::default();
    let mut refused = Vec::new();
    for model in models {
        let (_, binding) = catalog.binding(crm, model)?;
        if check == SchemaCheck::Auto && memory.refused(&binding.object_type) {
            continue;
        }
        let checked = check_binding(catalog, ctx.store(), &mut cache, model, crm, binding).await?;
        // What the run's values are rendered for (`Crm::render_values`).
        if let Some(schema) = cache.read_ok(crm, &binding.object_type) {
            memory.remember_schema(&binding.object_type, schema.clone());
        }
        match checked.status {
            BindingSchemaStatus::Checked(problems) if !problems.is_empty() => {
                let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
                refused.push(Refusal {
                    model: (*model).to_owned(),
                    message: format!(
                        "not started: its payload does not fit the schema of {}: {} (fix the payload or the CRM, or set the CRM's schema_check to skip)",
                        binding.object_type,
                        listed.join("; ")
                    ),
                    retriable: false,
                });
            }
            BindingSchemaStatus::Unreadable(error) if check == SchemaCheck::Require => {
                refused.push(Refusal {
                    model: (*model).to_owned(),
                    message: format!(
                        "not started: the schema of {} could not be read ({error}) and the CRM's schema_check is require",
                        binding.object_type
                    ),
                    retriable: error.is_retriable(),
                });
            }
            BindingSchemaStatus::Unreadable(error) => {
                tracing::warn!(
                    message = "The CRM's schema could not be read: this binding runs without the schema check.",
                    crm,
                    model,
                    object_type = %binding.object_type,
                    %error
                );
                // A refusal (not an outage) is not asked again by this process.
                if !error.is_retriable() {
                    memory.remember_refusal(&binding.object_type);
                }
            }
            _ => {}
        }
    }
    Ok(refused)
}
