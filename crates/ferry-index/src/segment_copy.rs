//! A follower shard whose search index is a copy of its leader's segments: the handle a
//! copier (the follow task) installs leader commits through, and how a refresh of the
//! follower waits for them.
//!
//! Nothing is indexed on such a shard. A refresh asks for a commit covering what the
//! shard has applied (`wanted`) and waits until one is installed, a copy attempt fails,
//! or no copier is attached (a paused follower: a refresh then changes nothing, as the
//! leader's commits are the only source of new segments). This module does not talk to
//! the leader and does not decide when a commit may be installed: the copier waits until
//! the shard has applied every operation the commit holds.

use std::sync::Arc;

use tokio::sync::watch;

use crate::Result;
use crate::feed::as_i64;
use crate::search::ShardSearchIndex;

/// Where copying stands, as copiers and refreshes see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyProgress {
    /// The highest seq_no a refresh asked to have searchable (-1: none).
    pub wanted: i64,
    /// Every operation up to this seq_no is in the installed commit (-1: none).
    pub installed: i64,
    /// Copiers attached now.
    pub copiers: usize,
    /// Failed copy attempts so far (a waiting refresh returns on the next one).
    pub failures: u64,
}

/// The copied search index of one follower shard.
#[derive(Debug)]
pub struct SegmentCopy {
    search: Arc<ShardSearchIndex>,
    progress: watch::Sender<CopyProgress>,
}

/// An attached copier; detaches when dropped.
#[derive(Debug)]
pub struct Copier(Arc<SegmentCopy>);

impl Drop for Copier {
    fn drop(&mut self) {
        self.0.progress.send_modify(|p| p.copiers -= 1);
    }
}

impl SegmentCopy {
    pub(crate) fn new(search: Arc<ShardSearchIndex>) -> Self {
        let installed = as_i64(search.committed_seq_no());
        Self {
            search,
            progress: watch::Sender::new(CopyProgress {
                wanted: -1,
                installed,
                copiers: 0,
                failures: 0,
            }),
        }
    }

    /// The search index, for writing files and reading the installed commit.
    pub fn search(&self) -> &Arc<ShardSearchIndex> {
        &self.search
    }

    /// Attaches a copier: refreshes wait for it from now on.
    pub fn attach(self: &Arc<Self>) -> Copier {
        self.progress.send_modify(|p| p.copiers += 1);
        Copier(Arc::clone(self))
    }

    /// Watches the progress (a copier waits here for refresh requests).
    pub fn subscribe(&self) -> watch::Receiver<CopyProgress> {
        self.progress.subscribe()
    }

    /// A copy attempt failed: refreshes waiting for it return.
    pub fn failed(&self) {
        self.progress.send_modify(|p| p.failures += 1);
    }

    /// Installs a leader commit whose `files` are all here (blocking); see
    /// [`ShardSearchIndex::install`].
    pub fn install(&self, meta: &[u8], files: &[String]) -> Result<i64> {
        let covered = self.search.install(meta, files)?;
        self.progress.send_modify(|p| p.installed = covered);
        Ok(covered)
    }

    /// Waits until a commit covering `seq_no` is installed, a copy attempt fails, or no
    /// copier is attached.
    pub(crate) async fn refresh(&self, seq_no: i64) {
        let mut rx = self.progress.subscribe();
        let start = *rx.borrow_and_update();
        if start.installed >= seq_no || start.copiers == 0 {
            return;
        }
        self.progress.send_if_modified(|p| {
            let asked = p.wanted < seq_no;
            p.wanted = p.wanted.max(seq_no);
            asked
        });
        let _ = rx
            .wait_for(|p| p.installed >= seq_no || p.copiers == 0 || p.failures > start.failures)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Mapping, SharedMapping};

    fn mapping() -> SharedMapping {
        Arc::new(parking_lot::RwLock::new(Mapping::default()))
    }

    /// A leader index with `n` documents committed at seq_no `n - 1`.
    fn leader(dir: &std::path::Path, n: u64) -> ShardSearchIndex {
        let idx = ShardSearchIndex::open(dir, mapping()).unwrap();
        for i in 0..n {
            idx.index_new(&i.to_string(), i, br#"{"t": "x"}"#).unwrap();
        }
        idx.refresh(n - 1).unwrap();
        idx
    }

    fn install_from(leader: &ShardSearchIndex, copy: &SegmentCopy) {
        let c = leader.last_commit().unwrap();
        for f in &c.files {
            let data = f.read_at(0, usize::MAX).unwrap();
            copy.search().write_part(&f.name, 0, &data).unwrap();
            copy.search().finish_file(&f.name, f.len).unwrap();
        }
        let names: Vec<String> = c.files.iter().map(|f| f.name.clone()).collect();
        copy.install(&c.meta, &names).unwrap();
    }

    #[tokio::test]
    async fn a_refresh_waits_for_an_attached_copier_and_only_then() {
        let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let leader = leader(ld.path(), 5);
        let copy = Arc::new(SegmentCopy::new(Arc::new(
            ShardSearchIndex::open_copy(fd.path(), mapping()).unwrap(),
        )));
        // No copier (a paused follower): nothing to wait for.
        tokio::time::timeout(Duration::from_secs(30), copy.refresh(4))
            .await
            .expect("a refresh without a copier returns");
        assert_eq!(copy.subscribe().borrow().wanted, -1);

        let copier = copy.attach();
        let waiting = tokio::spawn({
            let copy = copy.clone();
            async move { copy.refresh(4).await }
        });
        let mut rx = copy.subscribe();
        rx.wait_for(|p| p.wanted == 4).await.unwrap();
        assert!(!waiting.is_finished());
        let (c, l) = (copy.clone(), leader);
        tokio::task::spawn_blocking(move || install_from(&l, &c))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .expect("the refresh returned once the commit was installed")
            .unwrap();
        assert_eq!(copy.search().num_docs(), 5);
        assert_eq!(copy.subscribe().borrow().installed, 4);

        // Covered already: returns at once. Asked for more: a failed attempt ends it, and
        // so does the copier going away.
        copy.refresh(4).await;
        let failing = tokio::spawn({
            let copy = copy.clone();
            async move { copy.refresh(9).await }
        });
        rx.wait_for(|p| p.wanted == 9).await.unwrap();
        copy.failed();
        tokio::time::timeout(Duration::from_secs(30), failing)
            .await
            .expect("a failure ends the wait")
            .unwrap();
        let orphaned = tokio::spawn({
            let copy = copy.clone();
            async move { copy.refresh(9).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(copier);
        tokio::time::timeout(Duration::from_secs(30), orphaned)
            .await
            .expect("detaching the copier ends the wait")
            .unwrap();
        assert_eq!(copy.subscribe().borrow().copiers, 0);
    }
}
