//! Fault injection: injected error statuses, added latency and dropped
//! connections, from configuration or changed at run time.

use std::time::Duration;

use crate::config::FaultConfig;
use crate::random::Random;

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultAction {
    /// Serve it normally.
    None,
    /// Answer with this error status (and optional `Retry-After` seconds).
    Error {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Close the connection without a response, before or after handling.
    Drop { after_handling: bool },
}

/// Faults of one API.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    config: FaultConfig,
    default_statuses: &'static [u16],
    next_status: usize,
}

impl FaultInjector {
    pub(crate) fn new(config: FaultConfig, default_statuses: &'static [u16]) -> Self {
        Self {
            config,
            default_statuses,
            next_status: 0,
        }
    }

    pub(crate) fn config(&self) -> &FaultConfig {
        &self.config
    }

    pub(crate) fn replace(&mut self, config: FaultConfig) {
        self.config = config;
        self.next_status = 0;
    }

    /// The latency of one request: `latency_ms` plus its jitter, drawn
    /// from `random`.
    pub(crate) fn latency(&self, random: &mut Random) -> Duration {
        let jitter = match usize::try_from(self.config.latency_jitter_ms) {
            Ok(0) | Err(_) => 0,
            Ok(most) => random.index(most.saturating_add(1)) as u64,
        };
        Duration::from_millis(self.config.latency_ms.saturating_add(jitter))
    }

    /// Draws the fault for one request (spared requests first, then the
    /// "next N" counters, then rates).
    pub(crate) fn decide(&mut self, random: &mut Random) -> FaultAction {
        if self.config.spare_next > 0 {
            self.config.spare_next -= 1;
            return FaultAction::None;
        }
        let drop = FaultAction::Drop {
            after_handling: self.config.drop_after_handling,
        };
        if self.config.drop_next > 0 {
            self.config.drop_next -= 1;
            return drop;
        }
        if self.config.fail_next > 0 {
            self.config.fail_next -= 1;
            return self.error(None);
        }
        if random.chance(self.config.drop_rate) {
            return drop;
        }
        if random.chance(self.config.error_rate) {
            return self.error(Some(random));
        }
        FaultAction::None
    }

    fn error(&mut self, random: Option<&mut Random>) -> FaultAction {
        let statuses = if self.config.error_statuses.is_empty() {
            self.default_statuses
        } else {
            &self.config.error_statuses
        };
        // Counters take the statuses in turn (predictable in tests); rates pick at random.
        let index = match random {
            Some(random) => random.index(statuses.len()),
            None => {
                let index = self.next_status % statuses.len().max(1);
                self.next_status += 1;
                index
            }
        };
        let status = statuses.get(index).copied().unwrap_or(503);
        let retry_after_secs = match status {
            423 | 477 | 503 => self.config.retry_after_secs,
            _ => None,
        };
        FaultAction::Error {
            status,
            retry_after_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The jitter stays within `latency_jitter_ms` and replays with the seed.
    #[test]
    fn latency_jitter_is_bounded_and_seeded() {
        let injector = FaultInjector::new(
            FaultConfig {
                latency_ms: 300,
                latency_jitter_ms: 20,
                ..FaultConfig::default()
            },
            &[503],
        );
        let draws = |seed| {
            let mut random = Random::new(Some(seed));
            (0..200)
                .map(|_| injector.latency(&mut random).as_millis())
                .collect::<Vec<_>>()
        };
        let first = draws(7);
        assert!(first.iter().all(|ms| (300..=320).contains(ms)), "{first:?}");
        assert!(first.contains(&300) && first.contains(&320), "{first:?}");
        assert_eq!(first, draws(7));
    }
}
