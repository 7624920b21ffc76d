//! [`Throttle`]: the byte-rate limit of bootstrap copies,
//! `ccr.indices.recovery.max_bytes_per_sec`, read afresh on every acquisition so a
//! settings change applies to the next chunk. The leader's copy sessions share one per
//! node (chunk reads); a follower node shares one across its shard tasks (chunk requests).
//!
//! It paces rather than bursts: bytes acquired are paid for *before* they may go, and idle
//! time earns no credit, so the bytes released by any instant `t` never exceed
//! `rate × (t − first acquisition)`. The decision is the pure [`Pacer`] (explicit instants,
//! tested without clocks); [`Throttle::acquire`] only sleeps what it answers.
//!
//! Deliberately not here: which bytes to count (the callers acquire one chunk at a time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::recovery::RecoverySettings;

/// The pacing arithmetic: when the next bytes may go.
#[derive(Debug, Default, Clone)]
pub struct Pacer {
    /// When the bytes reserved so far are paid for; `None` before any (or when unthrottled).
    paid_until: Option<Instant>,
}

impl Pacer {
    /// Reserves `bytes` at `rate` bytes/s (0: unthrottled) at `now`; answers how long to
    /// wait before sending them. Reservations queue behind each other.
    pub fn reserve(&mut self, bytes: u64, rate: u64, now: Instant) -> Duration {
        if rate == 0 {
            self.paid_until = None;
            return Duration::ZERO;
        }
        let start = self.paid_until.map_or(now, |p| p.max(now));
        // Rounded up, so the bound `bytes ≤ rate × elapsed` holds exactly.
        let nanos = (u128::from(bytes) * 1_000_000_000).div_ceil(u128::from(rate));
        let cost = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let end = start + cost;
        self.paid_until = Some(end);
        end - now
    }
}

/// A node-wide byte-rate limit over the live `max_bytes_per_sec`.
#[derive(Debug)]
pub struct Throttle {
    settings: Arc<RecoverySettings>,
    pacer: Mutex<Pacer>,
    bytes: AtomicU64,
    throttled_nanos: AtomicU64,
}

impl Throttle {
    /// A limiter reading its rate from `settings`.
    pub fn new(settings: Arc<RecoverySettings>) -> Self {
        Self {
            settings,
            pacer: Mutex::new(Pacer::default()),
            bytes: AtomicU64::new(0),
            throttled_nanos: AtomicU64::new(0),
        }
    }

    /// Waits until `bytes` more may go at the current rate, and counts them.
    pub async fn acquire(&self, bytes: u64) {
        let rate = self.settings.max_bytes_per_sec();
        let wait = self.pacer.lock().reserve(bytes, rate, Instant::now());
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if !wait.is_zero() {
            let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            self.throttled_nanos.fetch_add(nanos, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    /// Bytes acquired so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Total time acquisitions were told to wait (ES's `throttle_time`).
    pub fn throttled(&self) -> Duration {
        Duration::from_nanos(self.throttled_nanos.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn unthrottled_never_waits() {
        let mut p = Pacer::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(p.reserve(MB, 0, t0), Duration::ZERO);
        }
    }

    #[test]
    fn bytes_are_paid_for_before_they_go_and_queue_behind_each_other() {
        let mut p = Pacer::default();
        let t0 = Instant::now();
        let rate = 10 * MB;
        // Five chunks asked for at once: released at 0.1s, 0.2s, ... 0.5s.
        let waits: Vec<u128> = (0..5)
            .map(|_| p.reserve(MB, rate, t0).as_millis())
            .collect();
        assert_eq!(waits, vec![100, 200, 300, 400, 500]);
        // Idle time earns no credit: two seconds later the next chunk still pays 0.1s.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(p.reserve(MB, rate, later).as_millis(), 100);
    }

    #[test]
    fn the_released_bytes_never_exceed_the_rate() {
        // Any mix of sizes, rates changing on the way, asked for at scattered instants:
        // by each release instant, the bytes released fit `rate × elapsed` at the
        // fastest rate in force.
        let mut p = Pacer::default();
        let t0 = Instant::now();
        let mut released = 0u128;
        let sizes = [MB, 3, 700_000, MB, 1, 2 * MB, 12_345, MB];
        for (i, size) in sizes.into_iter().enumerate() {
            let rate = if i % 3 == 0 { 5 * MB } else { 7 * MB };
            let now = t0 + Duration::from_millis(i as u64 * 37);
            let release = now + p.reserve(size, rate, now);
            released += u128::from(size);
            let elapsed = (release - t0).as_nanos();
            assert!(
                released * 1_000_000_000 <= u128::from(7 * MB) * elapsed,
                "{released} bytes released within {elapsed}ns"
            );
        }
    }

    #[tokio::test]
    async fn the_throttle_counts_what_it_let_through() {
        let settings = Arc::new(RecoverySettings::default());
        settings.set_max_bytes_per_sec(0);
        let t = Throttle::new(settings.clone());
        t.acquire(MB).await;
        t.acquire(5).await;
        assert_eq!(t.bytes(), MB + 5);
        assert_eq!(t.throttled(), Duration::ZERO);
    }
}
