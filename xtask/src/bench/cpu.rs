//! CPU time of the servers under test, of the bench client and of the whole machine, so
//! the replication scenario can say where the machine's cycles went in each phase. With
//! both clusters and the bench client on one small machine every phase runs the CPU
//! nearly flat, and a throughput ratio is then a ratio of CPU seconds: these figures show
//! who spent them, and how much was left idle.
//!
//! Only Linux's `/proc` is read (`/proc/<pid>/stat`: user + system time of every thread of
//! a process; `/proc/stat`: the machine), in `USER_HZ` ticks, which the kernel ABI fixes
//! at 100 on the architectures we run on; on another system, or for a process that is
//! gone, the figures are absent. Not here: which processes to look at (a side of the
//! scenario knows its servers).

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
}

/// The whole machine's CPU time so far, from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MachineCpu {
    /// user + nice + system + irq + softirq + steal.
    pub busy: Duration,
    /// idle + iowait.
    pub idle: Duration,
}

/// The machine's CPU time so far (Linux only).
pub(crate) fn machine_cpu() -> Option<MachineCpu> {
    parse_machine(std::fs::read_to_string("/proc/stat").ok()?.lines().next()?)
}

/// The `cpu` line of `/proc/stat`: user nice system idle iowait irq softirq steal …
fn parse_machine(line: &str) -> Option<MachineCpu> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = fields
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = v.try_into().ok()?;
    let ticks = |t: u64| Duration::from_millis(t * 1000 / USER_HZ);
    Some(MachineCpu {
        busy: ticks(user + nice + system + irq + softirq + steal),
        idle: ticks(idle + iowait),
    })
}

impl MachineCpu {
    fn between(before: Option<Self>, after: Option<Self>) -> Option<Self> {
        let (b, a) = (before?, after?);
        Some(Self {
            busy: a.busy.saturating_sub(b.busy),
            idle: a.idle.saturating_sub(b.idle),
        })
    }
}

/// Everything the scenario looks at: the two servers, the bench client (this process)
/// and the machine, so far or over a phase. Each part is `None` where it cannot be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuUse {
    pub servers: Option<CpuPair>,
    pub client: Option<Duration>,
    pub machine: Option<MachineCpu>,
}

impl CpuUse {
    /// Reads the client and the machine now, beside `servers` (read by the side).
    pub fn take(servers: Option<CpuPair>) -> Self {
        Self {
            servers,
            client: process_cpu(std::process::id()),
            machine: machine_cpu(),
        }
    }

    /// What was spent between two readings.
    pub fn between(before: Self, after: Self) -> Self {
        Self {
            servers: CpuPair::between(before.servers, after.servers),
            client: after
                .client
                .zip(before.client)
                .map(|(a, b)| a.saturating_sub(b)),
            machine: MachineCpu::between(before.machine, after.machine),
        }
    }

    /// Adds what `other` spent (a part read in only one of them is dropped); an empty
    /// reading (the default) takes `other` as it is.
    pub fn add(&mut self, other: Self) {
        if self.is_empty() {
            *self = other;
            return;
        }
        let sum = |a: Option<Duration>, b: Option<Duration>| Some(a? + b?);
        self.servers = self.servers.zip(other.servers).map(|(a, b)| CpuPair {
            leader: a.leader + b.leader,
            follower: a.follower + b.follower,
        });
        self.client = sum(self.client, other.client);
        self.machine = self.machine.zip(other.machine).map(|(a, b)| MachineCpu {
            busy: a.busy + b.busy,
            idle: a.idle + b.idle,
        });
    }

    /// Every part divided by `n` (at least 1).
    fn divided(self, n: usize) -> Self {
        let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        Self {
            servers: self.servers.map(|s| CpuPair {
                leader: s.leader / n,
                follower: s.follower / n,
            }),
            client: self.client.map(|c| c / n),
            machine: self.machine.map(|m| MachineCpu {
                busy: m.busy / n,
                idle: m.idle / n,
            }),
        }
    }

    fn is_empty(&self) -> bool {
        self.servers.is_none() && self.client.is_none() && self.machine.is_none()
    }

    fn json(&self) -> Value {
        let secs = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0);
        json!({
            "leader": secs(self.servers.map(|s| s.leader)),
            "follower": secs(self.servers.map(|s| s.follower)),
            "bench_client": secs(self.client),
            "machine_busy": secs(self.machine.map(|m| m.busy)),
            "machine_idle": secs(self.machine.map(|m| m.idle)),
        })
    }

    /// `leader + follower + client (busy/idle)`, dashes for what was not read.
    fn text(&self) -> String {
        let s = |d: Option<Duration>| {
            d.map_or_else(|| "—".to_owned(), |d| format!("{:.2}", d.as_secs_f64()))
        };
        format!(
            "{} + {} + {} ({}/{})",
            s(self.servers.map(|c| c.leader)),
            s(self.servers.map(|c| c.follower)),
            s(self.client),
            s(self.machine.map(|m| m.busy)),
            s(self.machine.map(|m| m.idle)),
        )
    }
}

/// CPU spent in the scenario's timed phases.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PhaseCpu {
    /// Step 0, the single-node ingest (the follower idles).
    pub single_node: CpuUse,
    /// Step 1 up to the last leader acknowledgement.
    pub end_to_end_ingest: CpuUse,
    /// Step 1 after it: until the follower has everything searchable.
    pub end_to_end_tail: CpuUse,
    /// Step 2, resume → the follower has the backlog searchable.
    pub catch_up: CpuUse,
}

impl PhaseCpu {
    /// Turns the sums of `rounds` single-node / end-to-end rounds into one set's mean
    /// (catch-up runs once and is left as it is).
    pub fn per_round(&mut self, rounds: usize) {
        self.single_node = self.single_node.divided(rounds);
        self.end_to_end_ingest = self.end_to_end_ingest.divided(rounds);
        self.end_to_end_tail = self.end_to_end_tail.divided(rounds);
    }

    pub fn json(&self) -> Value {
        json!({
            "single_node_ingest": self.single_node.json(),
            "end_to_end_ingest": self.end_to_end_ingest.json(),
            "end_to_end_tail": self.end_to_end_tail.json(),
            "catch_up": self.catch_up.json(),
        })
    }

    /// One line for the printed report, `None` when nothing was read.
    pub fn line(&self) -> Option<String> {
        let phases = [
            ("single-node ingest", &self.single_node),
            ("end-to-end ingest", &self.end_to_end_ingest),
            ("tail", &self.end_to_end_tail),
            ("catch-up", &self.catch_up),
        ];
        if phases.iter().all(|(_, p)| p.is_empty()) {
            return None;
        }
        let parts: Vec<String> = phases
            .iter()
            .map(|(name, p)| format!("{name} {}", p.text()))
            .collect();
        Some(format!(
            "CPU seconds per set, leader + follower + bench client (machine busy/idle): {}",
            parts.join("; ")
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
    fn machine_lines_split_busy_from_idle() {
        let m = parse_machine("cpu  100 5 50 1000 20 3 7 15 0 0").unwrap();
        assert_eq!(m.busy, Duration::from_millis(1_800));
        assert_eq!(m.idle, Duration::from_millis(10_200));
        assert_eq!(parse_machine("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(parse_machine("cpu 1 2 3"), None);
        assert!(machine_cpu().is_some(), "/proc/stat is readable here");
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
        let sample = |l, f, c, busy, idle| CpuUse {
            servers: at(l, f),
            client: Some(Duration::from_millis(c)),
            machine: Some(MachineCpu {
                busy: Duration::from_millis(busy),
                idle: Duration::from_millis(idle),
            }),
        };
        let phases = PhaseCpu {
            end_to_end_ingest: CpuUse::between(
                sample(70, 0, 10, 1_000, 500),
                sample(2_000, 390, 350, 3_750, 690),
            ),
            ..PhaseCpu::default()
        };
        assert_eq!(
            phases.line().unwrap(),
            "CPU seconds per set, leader + follower + bench client (machine busy/idle): \
             single-node ingest — + — + — (—/—); end-to-end ingest 1.93 + 0.39 + 0.34 (2.75/0.19); \
             tail — + — + — (—/—); catch-up — + — + — (—/—)"
        );
        assert_eq!(PhaseCpu::default().line(), None);
        let json = phases.json();
        assert_eq!(json["end_to_end_ingest"]["follower"], 0.39);
        assert_eq!(json["end_to_end_ingest"]["machine_idle"], 0.19);
        assert_eq!(json["single_node_ingest"]["leader"], Value::Null);
    }

    #[test]
    fn rounds_add_up_to_one_set_mean() {
        let ms = Duration::from_millis;
        let reading = |leader, client, busy| CpuUse {
            servers: Some(CpuPair {
                leader: ms(leader),
                follower: ms(leader / 10),
            }),
            client: Some(ms(client)),
            machine: Some(MachineCpu {
                busy: ms(busy),
                idle: ms(100),
            }),
        };
        let mut phases = PhaseCpu::default();
        phases.single_node.add(reading(1_000, 300, 1_500));
        phases.single_node.add(reading(2_000, 500, 2_700));
        phases.catch_up.add(reading(600, 30, 900));
        phases.per_round(2);
        assert_eq!(phases.single_node, reading(1_500, 400, 2_100));
        assert_eq!(phases.catch_up, reading(600, 30, 900), "catch-up runs once");
        let mut partial = reading(1_000, 300, 1_500);
        partial.add(CpuUse {
            client: None,
            ..reading(1_000, 300, 1_500)
        });
        assert_eq!(
            partial.client, None,
            "a part missing in one round is dropped"
        );
        assert_eq!(partial.servers.map(|s| s.leader), Some(ms(2_000)));
    }
}
