//! Airtable Web API v0 (REFERENCE AT-*, SPEC X-16). Work in progress.
