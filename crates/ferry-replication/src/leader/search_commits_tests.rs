//! `GetSearchCommit` and `ReadSearchFile` end to end: a real shard, a real tonic server on
//! 127.0.0.1 and a real client.

use std::time::Duration;

use ferry_proto::v1 as pb;

use super::testkit::{Leader, es_type, fill, one_shard, put, write};

fn ask(have: u32, refresh_to: i64, poll_millis: u64) -> pb::GetSearchCommitRequest {
    pb::GetSearchCommitRequest {
        leader_index: "logs".into(),
        shard: 0,
        expected_history_uuid: String::new(),
        have_crc32: have,
        refresh_to_seq_no: refresh_to,
        poll_timeout_millis: poll_millis,
    }
}

async fn commit(leader: &Leader, req: pb::GetSearchCommitRequest) -> pb::GetSearchCommitResponse {
    leader
        .client
        .clone()
        .get_search_commit(req)
        .await
        .expect("GetSearchCommit answers")
        .into_inner()
}

async fn read_all(leader: &Leader, crc32: u32, file: &pb::SearchFile) -> Vec<u8> {
    let mut data = Vec::new();
    while (data.len() as u64) < file.length {
        let r = leader
            .client
            .clone()
            .read_search_file(pb::ReadSearchFileRequest {
                leader_index: "logs".into(),
                shard: 0,
                crc32,
                name: file.name.clone(),
                offset: data.len() as u64,
                length: 4096,
            })
            .await
            .expect("ReadSearchFile answers")
            .into_inner();
        assert!(!r.data.is_empty(), "a read before the end returns bytes");
        data.extend_from_slice(&r.data);
    }
    data
}

/// A leader whose index `logs` holds `docs` documents, refreshed, and its first commit.
async fn leader_with(
    docs: usize,
    filler: &str,
) -> (
    Leader,
    std::sync::Arc<ferry_index::IndexHandle>,
    pb::GetSearchCommitResponse,
) {
    let leader = Leader::start().await;
    let h = leader.create("logs", one_shard()).await;
    fill(&h, docs, filler).await;
    h.refresh().await.unwrap();
    let first = commit(&leader, ask(0, -1, 0)).await;
    (leader, h, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_described_read_and_long_polled_until_the_next_refresh() {
    let (leader, h, first) = leader_with(300, "some padding words").await;
    assert_eq!((first.seq_no, first.max_seq_no), (299, 299));
    assert!(!first.files.is_empty() && !first.meta.is_empty());
    assert_eq!(first.history_uuid, h.shards()[0].history_uuid());
    for f in &first.files {
        let data = read_all(&leader, first.crc32, f).await;
        let path = find(leader.dir.path(), &f.name).expect("the file is on the leader");
        let on_disk = std::fs::read(path).unwrap();
        assert_eq!(data, on_disk, "{}", f.name);
    }

    // Nothing new: the poll times out on the same commit.
    let same = commit(&leader, ask(first.crc32, -1, 100)).await;
    assert_eq!(same.crc32, first.crc32);
    assert!(same.meta.is_empty() && same.files.is_empty());

    // A parked poll answers once the leader refreshes (not when it times out).
    let parked = {
        let client = leader.client.clone();
        let req = ask(first.crc32, -1, 60_000);
        tokio::spawn(async move { client.clone().get_search_commit(req).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !parked.is_finished(),
        "the poll waits while nothing is committed"
    );
    write(&h, vec![put("new", r#"{"n": 1}"#)]).await;
    h.refresh().await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(30), parked)
        .await
        .expect("the poll answered after the refresh")
        .unwrap()
        .unwrap()
        .into_inner();
    assert_ne!(next.crc32, first.crc32);
    assert_eq!(next.seq_no, 300);
}

/// The path of `name` anywhere under `dir`.
fn find(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(p) = find(&path, name) {
                return Some(p);
            }
        } else if entry.file_name() == name {
            return Some(path);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_to_makes_the_leader_commit_what_the_follower_applied() {
    let (leader, h, first) = leader_with(10, "x").await;
    assert_eq!(first.seq_no, 9);
    write(&h, vec![put("late", r#"{"n": 1}"#)]).await;
    // No scheduled refresh on this index: only the request makes seq_no 10 searchable.
    let covered = commit(&leader, ask(first.crc32, 10, 0)).await;
    assert_eq!(covered.seq_no, 10);
    // Already covered: no refresh, the same commit.
    let again = commit(&leader, ask(covered.crc32, 10, 0)).await;
    assert_eq!(again.crc32, covered.crc32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_commits_files_and_histories_are_refused() {
    let (leader, _h, c) = leader_with(10, "x").await;
    let read_fails = |crc32: u32, name: &str| {
        let req = pb::ReadSearchFileRequest {
            leader_index: "logs".into(),
            shard: 0,
            crc32,
            name: name.into(),
            offset: 0,
            length: 10,
        };
        let mut client = leader.client.clone();
        async move { es_type(&client.read_search_file(req).await.unwrap_err()) }
    };
    let ask_fails = |req: pb::GetSearchCommitRequest| {
        let mut client = leader.client.clone();
        async move { es_type(&client.get_search_commit(req).await.unwrap_err()) }
    };
    assert_eq!(
        read_fails(c.crc32 ^ 1, &c.files[0].name).await,
        "copy_session_not_found_exception"
    );
    assert_eq!(
        read_fails(c.crc32, "../state.redb").await,
        "action_request_validation_exception"
    );
    let mut wrong = ask(0, -1, 0);
    wrong.expected_history_uuid = "another".into();
    assert_eq!(ask_fails(wrong).await, "illegal_state_exception");
    let mut missing = ask(0, -1, 0);
    missing.leader_index = "nope".into();
    assert_eq!(ask_fails(missing).await, "index_not_found_exception");
}
