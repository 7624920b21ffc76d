//! Unit tests of the planner's rules, one rule per test.

use std::time::Duration;

use serde_json::json;

use super::{
    Command, ErrorKind, Event, FollowParameters, Jitter, OpMeta, RetryToken, ShardFollowPlanner,
    TaskError,
};

/// Always draws the top of the range: the longest delay allowed.
struct MaxJitter;
impl Jitter for MaxJitter {
    fn draw(&mut self, upper: u64) -> u64 {
        upper
    }
}

fn params(v: serde_json::Value) -> FollowParameters {
    match v {
        serde_json::Value::Object(m) => {
            FollowParameters::from_es_json(&m).expect("valid test params")
        }
        _ => panic!("object"),
    }
}

fn planner(v: serde_json::Value) -> ShardFollowPlanner {
    ShardFollowPlanner::new(&params(v), Box::new(MaxJitter))
}

fn start(p: &mut ShardFollowPlanner, follower_gcp: i64, leader_gcp: i64) -> Vec<Command> {
    p.handle(Event::Start {
        follower_global_checkpoint: follower_gcp,
        follower_max_seq_no: follower_gcp,
        leader_global_checkpoint: leader_gcp,
        follower_mapping_version: 1,
        follower_settings_version: 1,
    })
}

fn reads(cmds: &[Command]) -> Vec<(i64, u32)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Read { from, max_ops, .. } => Some((*from, *max_ops)),
            _ => None,
        })
        .collect()
}

fn writes(cmds: &[Command]) -> Vec<Vec<i64>> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Write { ops, .. } => Some(ops.iter().map(|o| o.seq_no).collect()),
            _ => None,
        })
        .collect()
}

fn ops(from: i64, to: i64, size: u64) -> Vec<OpMeta> {
    (from..=to)
        .map(|seq_no| OpMeta {
            seq_no,
            size_bytes: size,
        })
        .collect()
}

fn done(from: i64, ops: Vec<OpMeta>, gcp: i64) -> Event {
    Event::ReadDone {
        from,
        ops,
        leader_global_checkpoint: gcp,
        leader_max_seq_no: gcp,
        mapping_version: 1,
        settings_version: 1,
    }
}

fn retryable() -> ErrorKind {
    ErrorKind::Retryable(TaskError::new(
        "connect_transport_exception",
        "connection refused",
    ))
}

#[test]
fn catch_up_reads_split_the_range_and_respect_the_budget() {
    let mut p = planner(
        json!({"max_read_request_operation_count": 10, "max_outstanding_read_requests": 3}),
    );
    let cmds = start(&mut p, 4, 100);
    // The first read is optimistic (full count); the others ask for exactly their range.
    assert_eq!(reads(&cmds), vec![(5, 10), (15, 10), (25, 10)]);
    assert_eq!(p.stats().last_requested_seq_no, 34);
    assert_eq!(p.stats().outstanding_read_requests, 3);
    // Completing one frees a slot for the next range.
    let cmds = p.handle(done(15, ops(15, 24, 1), 100));
    assert_eq!(reads(&cmds), vec![(35, 10)]);
}

#[test]
fn last_range_is_cut_at_the_leader_checkpoint() {
    let mut p = planner(
        json!({"max_read_request_operation_count": 10, "max_outstanding_read_requests": 5}),
    );
    let cmds = start(&mut p, -1, 14);
    assert_eq!(reads(&cmds), vec![(0, 10), (10, 5)]);
}

#[test]
fn caught_up_task_sends_one_peek_with_the_poll_timeout() {
    let mut p = planner(json!({"read_poll_timeout": "30s"}));
    let cmds = start(&mut p, 7, 7);
    assert_eq!(
        cmds,
        vec![Command::Read {
            from: 8,
            max_ops: 5120,
            max_bytes: 32 << 20,
            poll_timeout: Duration::from_secs(30)
        }]
    );
    // An empty long-poll answer just polls again.
    let cmds = p.handle(done(8, vec![], 7));
    assert_eq!(reads(&cmds), vec![(8, 5120)]);
    assert_eq!(p.stats().successful_read_requests, 0);
}

#[test]
fn short_read_reissues_exactly_the_remainder() {
    let mut p = planner(
        json!({"max_read_request_operation_count": 10, "max_outstanding_read_requests": 1}),
    );
    start(&mut p, -1, 9);
    let cmds = p.handle(done(0, ops(0, 3, 1), 9));
    assert_eq!(reads(&cmds), vec![(4, 6)]);
    assert_eq!(p.stats().outstanding_read_requests, 1);
    let cmds = p.handle(done(4, ops(4, 9, 1), 9));
    assert_eq!(reads(&cmds), vec![(10, 10)], "caught up: peek");
    assert_eq!(p.stats().operations_read, 10);
}

#[test]
fn failed_read_is_retried_with_capped_backoff_and_recorded() {
    let mut p =
        planner(json!({"max_retry_delay": "120ms", "max_read_request_operation_count": 10}));
    start(&mut p, -1, 9);
    let mut delays = Vec::new();
    for _ in 0..4 {
        let cmds = p.handle(Event::ReadFailed {
            from: 0,
            error: retryable(),
        });
        match cmds.as_slice() {
            [
                Command::ScheduleRetry {
                    after,
                    token: RetryToken::Read { from: 0 },
                },
            ] => delays.push(*after),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(delays, [50, 100, 120, 120].map(Duration::from_millis));
    let stats = p.stats();
    assert_eq!(stats.failed_read_requests, 4);
    assert_eq!(stats.read_exceptions.get(&0).map(|e| e.retries), Some(4));
    let cmds = p.handle(Event::RetryTimerFired {
        token: RetryToken::Read { from: 0 },
    });
    assert_eq!(reads(&cmds), vec![(0, 10)]);
    p.handle(done(0, ops(0, 9, 1), 9));
    assert!(p.stats().read_exceptions.is_empty());
}

#[test]
fn fatal_error_stops_the_task() {
    let mut p = planner(json!({}));
    start(&mut p, -1, 9);
    let error = TaskError::new(
        "resource_not_found_exception",
        "Operations are no longer available for replicating.",
    );
    let cmds = p.handle(Event::ReadFailed {
        from: 0,
        error: ErrorKind::Fatal(error.clone()),
    });
    assert_eq!(
        cmds,
        vec![Command::Fatal {
            error: error.clone()
        }]
    );
    assert!(p.is_failed());
    assert!(p.handle(done(0, ops(0, 9, 1), 9)).is_empty());
    assert!(p.handle(Event::LeaseTick).is_empty());
    let json = p.stats().to_es_json();
    assert_eq!(
        json["fatal_exception"],
        json!({"type": "resource_not_found_exception", "reason": error.reason})
    );
}

#[test]
fn writes_are_batched_in_seq_order_by_count_and_size() {
    let mut p = planner(json!({
        "max_read_request_operation_count": 20,
        "max_write_request_operation_count": 4,
        "max_write_request_size": "25b",
        "max_outstanding_write_requests": 3
    }));
    start(&mut p, -1, 19);
    let mut answer = ops(0, 19, 10);
    answer.reverse(); // order inside a response must not matter
    let cmds = p.handle(done(0, answer, 19));
    // 10+10+10 passes 25 bytes after the third op: batches of three, at most three writes.
    assert_eq!(
        writes(&cmds),
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8]]
    );
    let stats = p.stats();
    assert_eq!(stats.write_buffer_operation_count, 11);
    assert_eq!(stats.write_buffer_size_in_bytes, 110);
    let cmds = p.handle(Event::WriteDone {
        id: 1,
        follower_global_checkpoint: -1,
        follower_max_seq_no: 5,
    });
    assert_eq!(writes(&cmds), vec![vec![9, 10, 11]]);
    assert_eq!(p.stats().operations_written, 3);
}

#[test]
fn failed_write_is_retried_with_the_same_ops() {
    let mut p = planner(json!({"max_read_request_operation_count": 5}));
    start(&mut p, -1, 4);
    let cmds = p.handle(done(0, ops(0, 4, 1), 4));
    let Some(Command::Write { id, ops: batch }) = cmds
        .iter()
        .find(|c| matches!(c, Command::Write { .. }))
        .cloned()
    else {
        panic!("a write")
    };
    let cmds = p.handle(Event::WriteFailed {
        id,
        error: retryable(),
    });
    assert!(matches!(
        cmds.as_slice(),
        [Command::ScheduleRetry {
            token: RetryToken::Write { .. },
            ..
        }]
    ));
    let cmds = p.handle(Event::RetryTimerFired {
        token: RetryToken::Write { id },
    });
    assert_eq!(cmds, vec![Command::Write { id, ops: batch }]);
    assert_eq!(p.stats().failed_write_requests, 1);
}

#[test]
fn full_buffer_pauses_reads_until_writes_drain_it() {
    let mut p = planner(json!({
        "max_read_request_operation_count": 10,
        "max_outstanding_read_requests": 2,
        "max_outstanding_write_requests": 1,
        "max_write_request_operation_count": 2,
        "max_write_buffer_count": 5
    }));
    start(&mut p, -1, 100);
    let cmds = p.handle(done(0, ops(0, 9, 1), 100));
    // 10 read, 2 in flight to the follower, 8 buffered > 5: no new read.
    assert!(reads(&cmds).is_empty());
    assert_eq!(p.stats().write_buffer_operation_count, 8);
    let mut id = 0;
    loop {
        let cmds = p.handle(Event::WriteDone {
            id,
            follower_global_checkpoint: -1,
            follower_max_seq_no: -1,
        });
        id += 1;
        if !reads(&cmds).is_empty() {
            assert!(p.stats().write_buffer_operation_count <= 5);
            assert_eq!(reads(&cmds), vec![(20, 10)]);
            break;
        }
        assert!(id < 10, "reads never resumed");
    }
}

#[test]
fn ops_needing_a_newer_mapping_wait_for_it() {
    let mut p = planner(json!({"max_read_request_operation_count": 10}));
    start(&mut p, -1, 9);
    let cmds = p.handle(Event::ReadDone {
        from: 0,
        ops: ops(0, 9, 1),
        leader_global_checkpoint: 9,
        leader_max_seq_no: 9,
        mapping_version: 3,
        settings_version: 2,
    });
    assert_eq!(cmds, vec![Command::UpdateMapping { version: 3 }]);
    let cmds = p.handle(Event::MetadataUpdateFailed { error: retryable() });
    assert!(matches!(
        cmds.as_slice(),
        [Command::ScheduleRetry {
            token: RetryToken::Metadata,
            ..
        }]
    ));
    let cmds = p.handle(Event::RetryTimerFired {
        token: RetryToken::Metadata,
    });
    assert_eq!(cmds, vec![Command::UpdateMapping { version: 3 }]);
    let cmds = p.handle(Event::MetadataUpdated {
        mapping_version: 3,
        settings_version: 1,
    });
    assert_eq!(cmds, vec![Command::UpdateSettings { version: 2 }]);
    let cmds = p.handle(Event::MetadataUpdated {
        mapping_version: 3,
        settings_version: 2,
    });
    assert_eq!(writes(&cmds), vec![(0..=9).collect::<Vec<i64>>()]);
    assert_eq!(p.stats().follower_mapping_version, 3);
}

#[test]
fn lease_tick_renews_at_the_follower_checkpoint() {
    let mut p = planner(json!({}));
    assert!(p.handle(Event::LeaseTick).is_empty(), "not started");
    start(&mut p, 41, 41);
    assert_eq!(
        p.handle(Event::LeaseTick),
        vec![Command::RenewLease {
            retaining_seq_no: 41
        }]
    );
}

#[test]
fn pause_drops_in_flight_state_and_ignores_late_answers() {
    let mut p = planner(json!({}));
    start(&mut p, -1, 99);
    assert!(p.handle(Event::Pause).is_empty());
    assert!(p.handle(done(0, ops(0, 9, 1), 99)).is_empty());
    let stats = p.stats();
    assert_eq!(
        (
            stats.outstanding_read_requests,
            stats.write_buffer_operation_count
        ),
        (0, 0)
    );
}

#[test]
fn stats_use_es_field_names() {
    let mut p = planner(json!({}));
    start(&mut p, 3, 10);
    p.handle(Event::ReadFailed {
        from: 4,
        error: retryable(),
    });
    let json = serde_json::Value::Object(p.stats().to_es_json());
    for field in [
        "leader_global_checkpoint",
        "leader_max_seq_no",
        "follower_global_checkpoint",
        "follower_max_seq_no",
        "last_requested_seq_no",
        "outstanding_read_requests",
        "outstanding_write_requests",
        "write_buffer_operation_count",
        "write_buffer_size_in_bytes",
        "follower_mapping_version",
        "follower_settings_version",
        "successful_read_requests",
        "failed_read_requests",
        "operations_read",
        "bytes_read",
        "successful_write_requests",
        "failed_write_requests",
        "operations_written",
        "read_exceptions",
    ] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    assert!(json.get("fatal_exception").is_none());
    assert_eq!(
        json["read_exceptions"],
        json!([{"from_seq_no": 4, "retries": 1, "exception": {"type": "connect_transport_exception", "reason": "connection refused"}}])
    );
}
