//! Randomised simulation: a leader with N ops (its checkpoint advancing, its mapping and
//! settings versions bumped along the way) and a follower, answering the planner's commands
//! in random order with random short reads and random retryable failures. Every seed must
//! drive the follower to exactly the leader's N ops while the planner keeps its limits.
//! Seeds are fixed, so a failure names the seed that reproduces it.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::{
    Command, ErrorKind, Event, FollowParameters, OpMeta, RandJitter, RetryToken,
    ShardFollowPlanner, TaskError,
};

struct Leader {
    total: i64,
    gcp: i64,
}

impl Leader {
    fn size(seq_no: i64) -> u64 {
        10 + (seq_no as u64 * 7) % 23
    }
    /// Op `k` needs mapping version `1 + k/40` and settings version `1 + k/90`.
    fn mapping_at(&self, seq_no: i64) -> u64 {
        1 + (seq_no.max(0) / 40) as u64
    }
    fn settings_at(&self, seq_no: i64) -> u64 {
        1 + (seq_no.max(0) / 90) as u64
    }
}

enum Pending {
    Read {
        from: i64,
        max_ops: u32,
        max_bytes: u64,
    },
    Write {
        id: u64,
        ops: Vec<OpMeta>,
    },
    Mapping,
    Settings,
    Timer(RetryToken),
}

fn failure() -> ErrorKind {
    ErrorKind::Retryable(TaskError::new("node_closed_exception", "node closed"))
}

fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let read_ops = rng.random_range(1..=12u32);
    let params = FollowParameters::from_es_json(
        match &json!({
            "max_read_request_operation_count": read_ops,
            "max_outstanding_read_requests": rng.random_range(1..=5),
            "max_read_request_size": format!("{}b", rng.random_range(20..=200)),
            "max_write_request_operation_count": rng.random_range(1..=8),
            "max_write_request_size": format!("{}b", rng.random_range(20..=150)),
            "max_outstanding_write_requests": rng.random_range(1..=4),
            "max_write_buffer_count": rng.random_range(1..=30),
            "max_write_buffer_size": format!("{}b", rng.random_range(50..=600)),
            "max_retry_delay": format!("{}ms", rng.random_range(1..=400)),
        }) {
            serde_json::Value::Object(m) => m,
            _ => unreachable!("object literal"),
        },
    )
    .expect("valid sim params");
    let fail_p = rng.random_range(0.0..0.3);
    let mut leader = Leader {
        total: rng.random_range(0..300),
        gcp: -1,
    };
    leader.gcp = rng.random_range(-1..leader.total);
    let mut planner = ShardFollowPlanner::new(&params, Box::new(RandJitter::seeded(seed)));

    let mut applied: BTreeSet<i64> = BTreeSet::new();
    let (mut follower_mapping, mut follower_settings) = (1u64, 1u64);
    let mut pending: Vec<Pending> = Vec::new();
    let mut live_reads: BTreeMap<i64, i64> = BTreeMap::new(); // from -> highest seq_no it may return
    let buffer_ops_bound = params.max_write_buffer_count as u64
        + u64::from(params.max_outstanding_read_requests) * u64::from(read_ops);
    // Ops are at most 32 bytes: a read adds at most `read_ops` of them over its lifetime.
    let buffer_bytes_bound = params.max_write_buffer_size.bytes() as u64
        + u64::from(params.max_outstanding_read_requests) * u64::from(read_ops) * 32;

    let mut events = vec![Event::Start {
        follower_global_checkpoint: -1,
        follower_max_seq_no: -1,
        leader_global_checkpoint: -1,
        follower_mapping_version: 1,
        follower_settings_version: 1,
    }];
    for step in 0..200_000 {
        for event in events.drain(..) {
            for cmd in planner.handle(event) {
                match cmd {
                    Command::Read {
                        from,
                        max_ops,
                        max_bytes,
                        ..
                    } => {
                        let upper = from + i64::from(max_ops) - 1;
                        for (&f, &u) in &live_reads {
                            assert!(
                                f == from || u < from || f > upper,
                                "seed {seed}: read {from}..{upper} overlaps {f}..{u}"
                            );
                        }
                        live_reads.insert(from, upper);
                        pending.push(Pending::Read {
                            from,
                            max_ops,
                            max_bytes,
                        });
                    }
                    Command::Write { id, ops } => {
                        assert!(
                            ops.windows(2).all(|w| w[0].seq_no < w[1].seq_no),
                            "seed {seed}: unordered batch"
                        );
                        assert!(ops.len() <= params.max_write_request_operation_count as usize);
                        let without_last: u64 =
                            ops.iter().rev().skip(1).map(|o| o.size_bytes).sum();
                        assert!(without_last <= params.max_write_request_size.bytes() as u64);
                        for op in &ops {
                            assert!(
                                leader.mapping_at(op.seq_no) <= follower_mapping,
                                "seed {seed}: op {} before its mapping",
                                op.seq_no
                            );
                            assert!(
                                leader.settings_at(op.seq_no) <= follower_settings,
                                "seed {seed}: op before its settings"
                            );
                        }
                        pending.push(Pending::Write { id, ops });
                    }
                    Command::UpdateMapping { .. } => pending.push(Pending::Mapping),
                    Command::UpdateSettings { .. } => pending.push(Pending::Settings),
                    Command::ScheduleRetry { after, token } => {
                        assert!(
                            after <= params.max_retry_delay.duration(),
                            "seed {seed}: delay {after:?}"
                        );
                        pending.push(Pending::Timer(token));
                    }
                    Command::Fatal { error } => panic!("seed {seed}: fatal {error:?}"),
                    Command::RenewLease { .. } => {}
                }
            }
            let stats = planner.stats();
            assert!(
                stats.write_buffer_size_in_bytes <= buffer_bytes_bound,
                "seed {seed}: bytes"
            );
            assert!(
                stats.outstanding_read_requests <= u64::from(params.max_outstanding_read_requests),
                "seed {seed}"
            );
            assert!(
                stats.outstanding_write_requests
                    <= u64::from(params.max_outstanding_write_requests),
                "seed {seed}"
            );
            assert!(
                stats.write_buffer_operation_count <= buffer_ops_bound,
                "seed {seed}: buffer {}",
                stats.write_buffer_operation_count
            );
        }

        let all_applied = applied.len() as i64 == leader.total;
        if all_applied && leader.gcp == leader.total - 1 {
            let stats = planner.stats();
            assert_eq!(
                stats.follower_global_checkpoint,
                leader.total - 1,
                "seed {seed}"
            );
            assert_eq!(stats.write_buffer_operation_count, 0, "seed {seed}");
            return;
        }
        if rng.random_bool(0.2) && leader.gcp < leader.total - 1 {
            leader.gcp = rng.random_range(leader.gcp..leader.total);
        }
        if rng.random_bool(0.01) {
            events.push(Event::LeaseTick);
        }
        assert!(!pending.is_empty(), "seed {seed}: stalled at step {step}");
        let next = pending.swap_remove(rng.random_range(0..pending.len()));
        let fails = rng.random_bool(fail_p);
        events.push(match next {
            Pending::Read { from, .. } if fails => Event::ReadFailed {
                from,
                error: failure(),
            },
            Pending::Read {
                from,
                max_ops,
                max_bytes,
            } => {
                live_reads.remove(&from);
                let mut ops = Vec::new();
                let last = leader.gcp.min(from + i64::from(max_ops) - 1);
                let mut bytes = 0;
                let want = rng.random_range(0..=(last - from + 1).max(0));
                for seq_no in from..=last {
                    if ops.len() as i64 >= want || bytes > max_bytes {
                        break;
                    }
                    bytes += Leader::size(seq_no);
                    ops.push(OpMeta {
                        seq_no,
                        size_bytes: Leader::size(seq_no),
                    });
                }
                Event::ReadDone {
                    from,
                    ops,
                    leader_global_checkpoint: leader.gcp,
                    leader_max_seq_no: leader.gcp,
                    mapping_version: leader.mapping_at(leader.gcp),
                    settings_version: leader.settings_at(leader.gcp),
                }
            }
            Pending::Write { id, .. } if fails => Event::WriteFailed {
                id,
                error: failure(),
            },
            Pending::Write { id, ops } => {
                applied.extend(ops.iter().map(|o| o.seq_no));
                assert!(
                    applied.iter().all(|s| (0..leader.total).contains(s)),
                    "seed {seed}: unknown op"
                );
                let gcp = (0..).take_while(|s| applied.contains(s)).count() as i64 - 1;
                let max = applied.last().copied().unwrap_or(-1);
                Event::WriteDone {
                    id,
                    follower_global_checkpoint: gcp,
                    follower_max_seq_no: max,
                }
            }
            Pending::Mapping | Pending::Settings if fails => {
                Event::MetadataUpdateFailed { error: failure() }
            }
            Pending::Mapping => {
                follower_mapping = leader.mapping_at(leader.gcp);
                Event::MetadataUpdated {
                    mapping_version: follower_mapping,
                    settings_version: follower_settings,
                }
            }
            Pending::Settings => {
                follower_settings = leader.settings_at(leader.gcp);
                Event::MetadataUpdated {
                    mapping_version: follower_mapping,
                    settings_version: follower_settings,
                }
            }
            Pending::Timer(token) => Event::RetryTimerFired { token },
        });
    }
    panic!("seed {seed}: did not converge");
}

#[test]
fn random_schedules_converge_to_exactly_the_leader_ops() {
    for seed in 0..300 {
        run(seed);
    }
}
