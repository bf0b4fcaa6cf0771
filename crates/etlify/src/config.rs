//! Process-wide settings (REFERENCE C-*).

use std::sync::Arc;

use crate::digest::{DigestStrategy, StableSha256};

/// Default error budget: rows with this many consecutive failures are no
/// longer picked up (REFERENCE C-2).
pub const DEFAULT_MAX_SYNC_ERRORS: u32 = 3;

/// Global settings of an [`crate::Etlify`] engine.
#[derive(Debug, Clone)]
pub struct Config {
    /// How payloads are digested; the gem-compatible SHA-256 by default.
    pub digest_strategy: Arc<dyn DigestStrategy>,
    /// Error budget for CRMs that do not set their own.
    pub max_sync_errors: u32,
    /// Queue that sync jobs go to.
    pub job_queue_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            digest_strategy: Arc::new(StableSha256),
            max_sync_errors: DEFAULT_MAX_SYNC_ERRORS,
            job_queue_name: "low".to_owned(),
        }
    }
}

impl Config {
    /// Sets the digest strategy.
    pub fn digest_strategy(mut self, strategy: Arc<dyn DigestStrategy>) -> Self {
        self.digest_strategy = strategy;
        self
    }

    /// Sets the global error budget.
    pub fn max_sync_errors(mut self, max: u32) -> Self {
        self.max_sync_errors = max;
        self
    }

    /// Sets the job queue name.
    pub fn job_queue_name(mut self, name: impl Into<String>) -> Self {
        self.job_queue_name = name.into();
        self
    }
}
