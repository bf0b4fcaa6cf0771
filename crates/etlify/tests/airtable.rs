//! The Airtable v0 adapter: exact request shapes (wiremock).
