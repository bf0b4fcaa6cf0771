//! `etlify schema`: the JSON Schema of the configuration file, from the
//! loader's own types (`file.rs`); the repository ships it as
//! `docs/etlify.schema.json`.

use crate::error::{CliError, Completed};
use crate::file::File;

pub(crate) fn run() -> Result<Completed, CliError> {
    let schema = schemars::schema_for!(File);
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| CliError::run(format!("cannot render the schema: {e}")))?;
    println!("{text}");
    Ok(Completed::Ok)
}
