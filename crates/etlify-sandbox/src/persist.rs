//! Optional persistence of the stores to a JSON file: loaded at start when
//! the file exists, written on shutdown (and on `POST /_sandbox/save`).

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::airtable::store::{AirtableSchemas, AirtableSnapshot};
use crate::error::SandboxError;
use crate::hubspot::store::HubSpotSnapshot;
use crate::state::{lock, AppState};

/// The state file's document.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PersistedState {
    version: u32,
    hubspot: HubSpotSnapshot,
    airtable: AirtableSnapshot,
    /// Airtable fields by base and table, with those created through the
    /// API (absent from files written before it).
    #[serde(default)]
    airtable_schemas: AirtableSchemas,
    #[serde(default)]
    salesforce: crate::salesforce::store::SalesforceSnapshot,
    #[serde(default)]
    brevo: crate::brevo::store::BrevoSnapshot,
    #[serde(default)]
    intercom: crate::intercom::store::IntercomSnapshot,
    /// The webhook receiver's objects and answered keys (absent from files
    /// written before it kept them).
    #[serde(default)]
    webhook: crate::webhook::store::WebhookSnapshot,
}

const FORMAT_VERSION: u32 = 1;

/// Loads `path` into the stores; a missing file is not an error.
pub(crate) fn load(state: &AppState, path: &Path) -> Result<(), SandboxError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SandboxError::StateFile {
                path: path.to_owned(),
                source,
            })
        }
    };
    let persisted: PersistedState =
        serde_json::from_str(&text).map_err(|source| SandboxError::StateFormat {
            path: path.to_owned(),
            source,
        })?;
    lock(&state.hubspot).restore(persisted.hubspot, Instant::now());
    let mut airtable = lock(&state.airtable);
    airtable.restore(persisted.airtable);
    airtable.restore_schemas(persisted.airtable_schemas);
    lock(&state.salesforce.store).restore(persisted.salesforce);
    lock(&state.brevo.store).restore(persisted.brevo);
    lock(&state.intercom.store).restore(persisted.intercom);
    lock(&state.webhook).restore(persisted.webhook);
    Ok(())
}

/// Writes the stores to `path` (through a temporary file, then a rename).
pub(crate) fn save(state: &AppState, path: &Path) -> Result<(), SandboxError> {
    // One lock for both reads: a guard lives to the end of its statement.
    let (airtable, airtable_schemas) = {
        let store = lock(&state.airtable);
        (store.snapshot(), store.schemas())
    };
    let persisted = PersistedState {
        version: FORMAT_VERSION,
        hubspot: lock(&state.hubspot).snapshot(),
        airtable,
        airtable_schemas,
        salesforce: lock(&state.salesforce.store).snapshot(),
        brevo: lock(&state.brevo.store).snapshot(),
        intercom: lock(&state.intercom.store).snapshot(),
        webhook: lock(&state.webhook).snapshot(),
    };
    let text =
        serde_json::to_string_pretty(&persisted).map_err(|source| SandboxError::StateFormat {
            path: path.to_owned(),
            source,
        })?;
    let temporary = path.with_extension("tmp");
    let io_error = |source| SandboxError::StateFile {
        path: path.to_owned(),
        source,
    };
    std::fs::write(&temporary, text).map_err(io_error)?;
    std::fs::rename(&temporary, path).map_err(io_error)
}
