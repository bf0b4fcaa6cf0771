//! Process-wide settings (REFERENCE C-*).

use std::sync::Arc;

use crate::digest::{DigestStrategy, StableSha256};

/// Default error budget: rows with this many consecutive failures are no
/// longer picked up (REFERENCE C-2).
pub const DEFAULT_MAX_SYNC_ERRORS: u32 = 3;

/// Global settings of an [`crate::Etlify`] engine.
#[derive(Debug, Clone)]
pub struct Config {
    digest_strategy: Arc<dyn DigestStrategy>,
    max_sync_errors: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            digest_strategy: Arc::new(StableSha256),
            max_sync_errors: DEFAULT_MAX_SYNC_ERRORS,
        }
    }
}

impl Config {
    /// How payloads are digested (default: the gem-compatible SHA-256).
    pub fn digest_strategy(mut self, strategy: Arc<dyn DigestStrategy>) -> Self {
        self.digest_strategy = strategy;
        self
    }

    /// Error budget for CRMs that do not set their own (default 3).
    pub fn max_sync_errors(mut self, max: u32) -> Self {
        self.max_sync_errors = max;
        self
    }

    /// How payloads are digested; the gem-compatible SHA-256 by default.
    pub fn get_digest_strategy(&self) -> &Arc<dyn DigestStrategy> {
        &self.digest_strategy
    }

    /// Error budget for CRMs that do not set their own.
    pub fn get_max_sync_errors(&self) -> u32 {
        self.max_sync_errors
    }
}
