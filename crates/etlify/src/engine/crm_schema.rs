//! The CRM's schema from the face: every binding's payload checked
//! against its object type's fields, and the fields payloads send that
//! the CRM lacks, listed and created (`crm_schema/` holds the rules).

use super::Etlify;
use crate::crm_schema::{self, BindingSchema, MissingFields};
use crate::error::Result;

impl Etlify {
    /// Reads each enabled CRM's bound object types' schemas (one read
    /// each, nothing written) and checks every binding's payload against
    /// them: fields that are not properties, declared column types the
    /// field cannot take, read-only fields written, required fields never
    /// set, a match property that is not unique (`etlify check --crms`).
    pub async fn check_crm_schemas(&self) -> Result<Vec<BindingSchema>> {
        crm_schema::check_all(self.ctx.catalog(), self.store()).await
    }

    /// Reads the schema of `model`'s object type in `crm` once, unless a
    /// batch run of this engine has, so that per-record syncs send values
    /// in the form of the CRM's fields ([`crate::Crm::render_values`])
    /// before any batch run: `etlify sync-record` and a worker's record
    /// jobs call it. Nothing is read when values are sent as they are,
    /// with `schema_check = skip`, or when the adapter reads no schema; a
    /// schema that cannot be read is logged, and records are then sent as
    /// the payload has them.
    pub async fn learn_crm_schema(&self, crm: &str, model: &str) -> Result<()> {
        crm_schema::learn(&self.ctx, crm, model).await
    }

    /// The fields payloads send that their object types lack, per (CRM,
    /// object type), typed from the columns' declared types; an error when
    /// a schema cannot be read.
    pub async fn missing_crm_fields(&self) -> Result<Vec<MissingFields>> {
        crm_schema::missing_all(self.ctx.catalog(), self.store()).await
    }

    /// Creates the fields of `missing` (from [`Etlify::missing_crm_fields`])
    /// and answers how many were created. Never deletes nor retypes one.
    pub async fn create_crm_fields(&self, missing: &[MissingFields]) -> Result<usize> {
        crm_schema::create_all(self.ctx.catalog(), missing).await
    }
}
