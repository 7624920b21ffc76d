//! A shard copy taken while writes are being applied is exactly the state at its
//! checkpoint: nothing newer, nothing live at the checkpoint missing; written in parts by
//! several threads, the parts together are that one view, in `_seq_no` order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::copy_tests::{Doc, create, delete, index, record_doc, write};
use super::*;
use crate::CopyReader;

/// A copy output whose first write waits until two more write batches of the test's
/// writer have been applied (so at least one lands while the copy's view is open).
struct Stalling {
    bytes: Vec<u8>,
    rounds: Arc<AtomicU64>,
    stalled: bool,
}

impl std::io::Write for Stalling {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.stalled {
            self.stalled = true;
            let target = self.rounds.load(Ordering::Acquire) + 2;
            while self.rounds.load(Ordering::Acquire) < target {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_taken_during_writes_is_the_state_at_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let leader = Arc::new(create(dir.path(), false).await);
    // Keep all history, so the state at any checkpoint can be rebuilt from it.
    leader.add_retention_lease("test", 0, "test").await.unwrap();
    write(
        &leader,
        (0..400).map(|i| index(&format!("d{i}"), i)).collect(),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let writer = {
        let (leader, stop, rounds) = (leader.clone(), stop.clone(), rounds.clone());
        tokio::spawn(async move {
            let mut round = 0u64;
            while !stop.load(Ordering::Acquire) {
                let ops = (0..20)
                    .map(|i| {
                        let id = format!("d{}", (round * 37 + i * 11) % 450);
                        if i % 4 == 0 {
                            delete(&id)
                        } else {
                            index(&id, round)
                        }
                    })
                    .collect();
                write(&leader, ops).await;
                round += 1;
                rounds.store(round, Ordering::Release);
            }
            round
        })
    };
    let mut copies = Vec::new();
    // One copy in one part, then copies cut into parts written by as many threads:
    // their concatenation must be the same single view.
    for parts in [1, 2, 3, 7] {
        let (info, bytes) = {
            let (leader, rounds) = (leader.clone(), rounds.clone());
            tokio::task::spawn_blocking(move || {
                let mut outs: Vec<Stalling> = (0..parts)
                    .map(|_| Stalling {
                        bytes: Vec::new(),
                        rounds: rounds.clone(),
                        stalled: false,
                    })
                    .collect();
                let mut refs: Vec<&mut (dyn std::io::Write + Send)> = outs
                    .iter_mut()
                    .map(|o| o as &mut (dyn std::io::Write + Send))
                    .collect();
                let info = leader.write_copy_parts(&mut refs).unwrap();
                (
                    info,
                    outs.into_iter().flat_map(|o| o.bytes).collect::<Vec<u8>>(),
                )
            })
            .await
            .unwrap()
        };
        assert_eq!(info.bytes, bytes.len() as u64);
        // Writes were applied while the copy's view was open: they are not in it.
        assert!(info.checkpoint < leader.local_checkpoint());
        let records: Vec<_> = CopyReader::new(bytes.as_slice())
            .collect::<Result<_>>()
            .unwrap();
        copies.push((info, records));
    }
    stop.store(true, Ordering::Release);
    assert!(writer.await.unwrap() > 0);

    let history = leader.history(0, usize::MAX).unwrap();
    for (info, records) in copies {
        let mut at_checkpoint: BTreeMap<String, &HistoryOp> = BTreeMap::new();
        for op in history
            .iter()
            .filter(|h| h.seq_no as i64 <= info.checkpoint)
        {
            at_checkpoint.insert(op.id.clone(), op);
        }
        let want: Vec<Doc> = at_checkpoint
            .into_values()
            .filter_map(|h| {
                let source = h.source.clone()?;
                Some((
                    h.id.clone(),
                    h.seq_no,
                    h.primary_term,
                    h.version,
                    source,
                    h.routing.clone(),
                ))
            })
            .collect();
        assert!(records.iter().all(|r| r.seq_no as i64 <= info.checkpoint));
        assert!(records.windows(2).all(|w| w[0].seq_no < w[1].seq_no));
        let mut got: Vec<Doc> = records.into_iter().map(record_doc).collect();
        got.sort();
        assert_eq!(got, want, "copy at checkpoint {}", info.checkpoint);
        assert_eq!(info.max_seq_no, info.checkpoint);
    }
    leader.shutdown().await.unwrap();
}
