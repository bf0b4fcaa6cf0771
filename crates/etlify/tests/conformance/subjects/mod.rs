//! Each adapter on its sandbox, as the scenarios drive it.

pub(crate) mod airtable;
pub(crate) mod brevo;
pub(crate) mod hubspot;
pub(crate) mod intercom;
pub(crate) mod null;
pub(crate) mod salesforce;
pub(crate) mod webhook;
