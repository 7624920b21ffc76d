//! Jittered exponential back-off for reconnecting to a remote cluster: from 100ms,
//! doubling, capped at 30s, each delay drawn between half and all of the current step.
//!
//! Deliberately not here: sleeping (the connection task does), or deciding what counts as
//! a failure.

use std::time::Duration;

use rand::Rng;

/// The first delay after a failure.
pub const INITIAL: Duration = Duration::from_millis(100);
/// The longest delay between two attempts.
pub const CAP: Duration = Duration::from_secs(30);

/// Back-off state of one connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { step: INITIAL }
    }
}

impl Backoff {
    /// The next delay (jittered), and the step doubled up to [`CAP`] for the one after.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(CAP);
        let half = step / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// Back to [`INITIAL`] after a success.
    pub fn reset(&mut self) {
        self.step = INITIAL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::default();
        let mut step = INITIAL;
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} outside [{:?}, {step:?}]",
                step / 2
            );
            step = (step * 2).min(CAP);
        }
        assert!(b.next_delay() <= CAP);
        assert!(b.next_delay() >= CAP / 2, "the step stays at the cap");
        b.reset();
        assert!(b.next_delay() <= INITIAL);
    }
}
