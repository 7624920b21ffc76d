//! Copy sessions end to end over the leader service: real shards, a real tonic server on
//! 127.0.0.1 and a real client; the copy read back with ferry-index's own reader.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_index::CopyReader;
use ferry_proto::v1 as pb;
use tonic::Code;

use super::CopySessions;
use super::testkit::{Leader, del, es_type, fill, one_shard, put, write};
use crate::recovery::RecoverySettings;

fn open(index: &str, id: &str, chunk_size: u64) -> pb::OpenCopySessionRequest {
    pb::OpenCopySessionRequest {
        leader_index: index.into(),
        shard: 0,
        chunk_size,
        session_id: id.into(),
    }
}

fn chunk(id: &str, i: u64) -> pb::GetCopyChunkRequest {
    pb::GetCopyChunkRequest {
        session_id: id.into(),
        chunk_index: i,
    }
}

/// Every chunk of a session, each checked against the description's checksum.
async fn fetch_all(leader: &Leader, d: &pb::OpenCopySessionResponse) -> Vec<u8> {
    let mut client = leader.client.clone();
    let mut copy = Vec::new();
    for (i, want) in d.chunk_crc32.iter().enumerate() {
        let c = client
            .get_copy_chunk(chunk(&d.session_id, i as u64))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(c.crc32, *want, "chunk {i}");
        assert_eq!(crc32fast::hash(&c.data), *want, "chunk {i}");
        copy.extend_from_slice(&c.data);
    }
    copy
}

fn session_files(leader: &Leader) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(leader.sessions.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The files of session `id`: one per part of its copy.
fn files_of(id: &str) -> Vec<String> {
    let main = std::path::PathBuf::from(format!("{id}.copy"));
    let mut names: Vec<String> = (0..super::copy_file::copy_parts())
        .map(|i| super::copy_file::part_path(&main, i).display().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_pins_a_copy_served_in_checksummed_chunks() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    fill(&h, 300, "some filler to make the copy span several chunks").await;
    write(&h, vec![put("d7", r#"{"n":"seven again"}"#), del("d9")]).await;
    let mut client = leader.client.clone();

    let d = client
        .open_copy_session(open("logs", "s-1", 2048))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.session_id, "s-1");
    assert_eq!((d.checkpoint, d.max_seq_no), (301, 301));
    assert_eq!(d.docs, 299);
    assert_eq!(d.history_uuid, h.shards()[0].history_uuid());
    assert_eq!((d.mapping_version, d.settings_version), (3, 5));
    assert_eq!(d.chunk_size, 2048);
    assert_eq!(d.chunk_crc32.len() as u64, d.total_bytes.div_ceil(2048));
    assert!(d.chunk_crc32.len() > 5, "{} chunks", d.chunk_crc32.len());

    // Writes after the open do not reach the pinned copy.
    write(&h, vec![put("late", "{}"), del("d1")]).await;
    let copy = fetch_all(&leader, &d).await;
    assert_eq!(copy.len() as u64, d.total_bytes);
    let docs: BTreeMap<String, ferry_index::ReplicatedOp> = CopyReader::new(copy.as_slice())
        .map(|r| r.expect("a well-formed copy"))
        .map(|op| (op.id.clone(), op))
        .collect();
    assert_eq!(docs.len(), 299);
    assert!(!docs.contains_key("late") && !docs.contains_key("d9"));
    assert_eq!(
        docs["d7"].source.as_deref(),
        Some(&br#"{"n":"seven again"}"#[..])
    );
    assert_eq!((docs["d7"].seq_no, docs["d7"].version), (300, 2));
    assert_eq!(docs["d1"].seq_no, 1);

    // Chunks can be asked for again, in any order.
    let again = client.get_copy_chunk(chunk("s-1", 2)).await.unwrap();
    assert_eq!(again.into_inner().crc32, d.chunk_crc32[2]);
    let e = client
        .get_copy_chunk(chunk("s-1", d.chunk_crc32.len() as u64))
        .await
        .unwrap_err();
    assert_eq!(es_type(&e), "action_request_validation_exception");

    assert_eq!(session_files(&leader), files_of("s-1"));
    let close = pb::CloseCopySessionRequest {
        session_id: "s-1".into(),
    };
    client.close_copy_session(close.clone()).await.unwrap();
    assert!(
        session_files(&leader).is_empty(),
        "closing deletes the file"
    );
    let gone = client.get_copy_chunk(chunk("s-1", 0)).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(es_type(&gone), "copy_session_not_found_exception");
    assert_eq!(gone.message(), "session [s-1] not found");
    let twice = client.close_copy_session(close).await.unwrap_err();
    assert_eq!(es_type(&twice), "copy_session_not_found_exception");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_an_id_answers_the_same_copy_and_bad_opens_fail() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    leader.create("other", one_shard()).await;
    fill(&h, 50, "x").await;
    let mut client = leader.client.clone();

    let first = client
        .open_copy_session(open("logs", "again", 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.chunk_size, 1 << 20, "0 takes the leader's chunk_size");
    write(&h, vec![put("new", "{}")]).await;
    let second = client
        .open_copy_session(open("logs", "again", 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second, "a retried open never writes a second copy");
    assert_eq!(leader.sessions.len(), 1);

    let e = client
        .open_copy_session(open("other", "again", 0))
        .await
        .unwrap_err();
    assert_eq!(es_type(&e), "action_request_validation_exception");
    let e = client
        .open_copy_session(open("logs", "../escape", 0))
        .await
        .unwrap_err();
    assert_eq!(es_type(&e), "action_request_validation_exception");
    let e = client
        .open_copy_session(open("nope", "s", 0))
        .await
        .unwrap_err();
    assert_eq!(es_type(&e), "index_not_found_exception");
    assert_eq!(
        leader.sessions.len(),
        1,
        "failed opens leave nothing behind"
    );

    // An empty shard is an empty copy.
    let empty = client
        .open_copy_session(open("other", "empty", 4096))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (empty.checkpoint, empty.docs, empty.total_bytes),
        (-1, 0, 0)
    );
    assert!(empty.chunk_crc32.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire_and_their_files_go() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    fill(&h, 20, "x").await;
    let mut client = leader.client.clone();
    client
        .open_copy_session(open("logs", "idle", 0))
        .await
        .unwrap();
    client
        .open_copy_session(open("logs", "busy", 0))
        .await
        .unwrap();

    // The reaper (running by itself) or an explicit reap closes them, whichever is first.
    leader.settings.set_activity_timeout(Duration::ZERO);
    let reaped = leader.sessions.reap();
    assert!(
        reaped.iter().all(|id| id == "idle" || id == "busy"),
        "{reaped:?}"
    );
    while !leader.sessions.is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(session_files(&leader).is_empty());
    let e = client.get_copy_chunk(chunk("idle", 0)).await.unwrap_err();
    assert_eq!(es_type(&e), "copy_session_not_found_exception");
    leader
        .settings
        .set_activity_timeout(crate::recovery::DEFAULT_ACTIVITY_TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_session_files_are_deleted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.copy"), b"stale").unwrap();
    std::fs::write(dir.path().join("keep.txt"), b"not ours").unwrap();
    let sessions = CopySessions::new(dir.path(), Arc::new(RecoverySettings::default())).unwrap();
    assert!(sessions.is_empty());
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["keep.txt".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_throttles_chunk_reads_and_counts_every_byte() {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    fill(&h, 200, &"y".repeat(200)).await;
    let mut client = leader.client.clone();

    leader.settings.set_max_bytes_per_sec(0);
    let d = client
        .open_copy_session(open("logs", "free", 8192))
        .await
        .unwrap()
        .into_inner();
    fetch_all(&leader, &d).await;
    let throttle = leader.sessions.throttle();
    assert_eq!(throttle.bytes(), d.total_bytes);
    assert_eq!(throttle.throttled(), Duration::ZERO, "0 is unthrottled");

    // 4mb/s: every chunk is paid for before it goes.
    leader.settings.set_max_bytes_per_sec(4 << 20);
    let bytes_before = throttle.bytes();
    fetch_all(&leader, &d).await;
    assert_eq!(throttle.bytes() - bytes_before, d.total_bytes);
    let paid_nanos = u128::from(d.total_bytes) * 1_000_000_000 / (4 << 20);
    assert!(
        throttle.throttled().as_nanos() >= paid_nanos,
        "waited {:?} for {} bytes",
        throttle.throttled(),
        d.total_bytes
    );
}
