//! Local sandbox of the HubSpot v3 and Airtable v0 APIs.
