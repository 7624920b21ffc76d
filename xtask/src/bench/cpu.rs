//! CPU time of the servers under test, read from `/proc/<pid>/stat`, so the replication
//! scenario can say where the machine's cycles went in each phase. With both clusters and
//! the bench client on one small machine every phase runs the CPU flat, and a throughput
//! ratio is then a ratio of CPU seconds: these figures show which side spent them.
//!
//! Only Linux's `/proc` is read (user + system time of every thread of the process, in
//! `USER_HZ` ticks, which the kernel ABI fixes at 100 on the architectures we run on); on
//! another system, or for a process that is gone, the figures are absent. Not here: which
//! processes to look at (a side of the scenario knows its servers).

use std::time::Duration;

use serde_json::{Value, json};

/// Ticks per second of the times in `/proc/<pid>/stat` (`USER_HZ`).
const USER_HZ: u64 = 100;

/// CPU time (user + system) used by process `pid` so far.
pub(crate) fn process_cpu(pid: u32) -> Option<Duration> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// utime + stime of a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its *last* `)`.
fn parse_stat(line: &str) -> Option<Duration> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3), ppid … cmajflt (4–13), utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// CPU time of a leader and its follower (so far, or over a phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuPair {
    pub leader: Duration,
    pub follower: Duration,
}

impl CpuPair {
    /// What was spent between `before` and `after`, when both were read.
    pub fn between(before: Option<Self>, after: Option<Self>) -> Option<Self> {
        let (b, a) = (before?, after?);
        Some(Self {
            leader: a.leader.saturating_sub(b.leader),
            follower: a.follower.saturating_sub(b.follower),
        })
    }

    fn json(&self) -> Value {
        let secs = |d: Duration| (d.as_secs_f64() * 100.0).round() / 100.0;
        json!({ "leader": secs(self.leader), "follower": secs(self.follower) })
    }
}

/// CPU spent by each side in the scenario's timed phases.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PhaseCpu {
    /// Step 0, the single-node ingest (the follower idles).
    pub single_node: Option<CpuPair>,
    /// Step 1, first leader write → the follower has everything searchable.
    pub end_to_end: Option<CpuPair>,
    /// Step 2, resume → the follower has the backlog searchable.
    pub catch_up: Option<CpuPair>,
}

impl PhaseCpu {
    pub fn json(&self) -> Value {
        json!({
            "single_node_ingest": self.single_node.map(|c| c.json()),
            "end_to_end": self.end_to_end.map(|c| c.json()),
            "catch_up": self.catch_up.map(|c| c.json()),
        })
    }

    /// One line for the printed report, `None` when nothing was read.
    pub fn line(&self) -> Option<String> {
        let pair = |c: Option<CpuPair>| {
            c.map_or_else(
                || "—".to_owned(),
                |c| {
                    format!(
                        "{:.2} + {:.2}",
                        c.leader.as_secs_f64(),
                        c.follower.as_secs_f64()
                    )
                },
            )
        };
        if self.single_node.is_none() && self.end_to_end.is_none() && self.catch_up.is_none() {
            return None;
        }
        Some(format!(
            "CPU seconds (leader + follower): single-node ingest {}; end-to-end {}; catch-up {}",
            pair(self.single_node),
            pair(self.end_to_end),
            pair(self.catch_up)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_past_odd_command_names() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 3 0 250 37 0 0 20 0 9 0 100 \
                    1000 50 18446744073709551615";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(2_870)));
        assert_eq!(parse_stat("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat("no name here"), None);
    }

    #[test]
    fn this_process_is_seen_spending_cpu() {
        let me = std::process::id();
        let before = process_cpu(me).expect("/proc/<pid>/stat is readable");
        // Spin until the reading moved by 100 ms: on a loaded machine this thread may get
        // a fraction of a core, so the wall time is only a generous bound.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        loop {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let spent = process_cpu(me).unwrap().saturating_sub(before);
            if spent >= Duration::from_millis(100) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the reading moved only {spent:?} in a minute of spinning"
            );
        }
    }

    #[test]
    fn phases_are_differences_of_readings() {
        let at = |l, f| {
            Some(CpuPair {
                leader: Duration::from_millis(l),
                follower: Duration::from_millis(f),
            })
        };
        assert_eq!(CpuPair::between(at(100, 10), at(350, 60)), at(250, 50));
        assert_eq!(CpuPair::between(None, at(350, 60)), None);
        let phases = PhaseCpu {
            end_to_end: at(1_930, 390),
            ..PhaseCpu::default()
        };
        assert_eq!(
            phases.line().unwrap(),
            "CPU seconds (leader + follower): single-node ingest —; end-to-end 1.93 + 0.39; catch-up —"
        );
        assert_eq!(PhaseCpu::default().line(), None);
        assert_eq!(phases.json()["end_to_end"]["follower"], 0.39);
    }
}
