//! The sandbox's single source of randomness (ids, correlation ids, fault
//! draws). Seedable so that a test can replay the same run.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Seedable random generator.
#[derive(Debug)]
pub(crate) struct Random {
    rng: SmallRng,
}

impl Random {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            // Not for secrets: the clock is a good enough seed for test data.
            None => SmallRng::seed_from_u64(clock_seed()),
        };
        Self { rng }
    }

    /// True with probability `rate` (0–1).
    pub(crate) fn chance(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.rng.random::<f64>() < rate
    }

    /// An index below `len` (`len` > 0).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len.max(1))
    }

    /// An Airtable-style id: prefix + 14 alphanumerics (`rec560UJdUtocSouk`).
    pub(crate) fn airtable_id(&mut self, prefix: &str) -> String {
        let mut id = String::with_capacity(prefix.len() + 14);
        id.push_str(prefix);
        for _ in 0..14 {
            id.push(char::from(ALPHANUMERIC[self.index(ALPHANUMERIC.len())]));
        }
        id
    }
}

fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    // Folding the 128-bit nanosecond count keeps its fast-changing low bits.
    (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id())
}
