//! The follow task's retry back-off: jittered exponential from 50ms, capped by
//! `max_retry_delay` (Ferry's decision; ES caps at `read_poll_timeout`). The random draw
//! is injected through [`Jitter`] so tests are deterministic.
//!
//! Deliberately not here: sleeping, or deciding what is retryable.

use std::time::Duration;

use rand::{Rng, SeedableRng};

/// The unit of the exponential back-off.
pub const RETRY_BASE: Duration = Duration::from_millis(50);

/// Source of the uniform draw in the back-off.
pub trait Jitter: Send {
    /// A value drawn uniformly from `0..=upper`.
    fn draw(&mut self, upper: u64) -> u64;
}

/// [`Jitter`] from a seedable PRNG.
#[derive(Debug)]
pub struct RandJitter(rand::rngs::StdRng);

impl RandJitter {
    /// Seeded from the OS.
    pub fn from_os() -> Self {
        Self(rand::rngs::StdRng::from_os_rng())
    }

    /// Deterministic, for tests and simulations.
    pub fn seeded(seed: u64) -> Self {
        Self(rand::rngs::StdRng::seed_from_u64(seed))
    }
}

impl Jitter for RandJitter {
    fn draw(&mut self, upper: u64) -> u64 {
        self.0.random_range(0..=upper)
    }
}

/// The delay before retry number `retry` (1 for the first): `k·50ms` with `k` drawn from
/// `[0, 2^(min(retry,24)−1)]`, never more than `cap`.
pub fn retry_delay(retry: u32, cap: Duration, jitter: &mut dyn Jitter) -> Duration {
    let exponent = retry.clamp(1, 24) - 1;
    let k = jitter.draw(1u64 << exponent);
    let delay = RETRY_BASE.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
    delay.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Max;
    impl Jitter for Max {
        fn draw(&mut self, upper: u64) -> u64 {
            upper
        }
    }

    #[test]
    fn grows_exponentially_and_is_capped() {
        let cap = Duration::from_millis(500);
        let got: Vec<u128> = (1..=6)
            .map(|n| retry_delay(n, cap, &mut Max).as_millis())
            .collect();
        assert_eq!(got, vec![50, 100, 200, 400, 500, 500]);
        assert_eq!(
            retry_delay(1000, Duration::from_secs(300), &mut Max),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn random_draws_stay_within_cap() {
        let mut j = RandJitter::seeded(7);
        let cap = Duration::from_millis(120);
        for n in 1..40 {
            assert!(retry_delay(n, cap, &mut j) <= cap);
        }
    }
}
