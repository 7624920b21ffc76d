//! glibc's allocator, tuned for a node that moves batches of several megabytes.
//!
//! **Why.** glibc hands the free memory at the top of a heap back to the kernel once more
//! than its trim threshold is free, and the threshold it picks by itself follows its
//! mmap threshold: a few megabytes once the first large buffers are freed. A node that
//! decodes, logs and applies batches of that size (a CCR follower reading 5,120
//! operations at a time, a bulk of a thousand documents, redb's page buffers) then gets
//! fresh pages from the kernel for nearly every batch, and the kernel zeroes each one:
//! page faults and `clear_page` were a quarter of a follower's CPU during a catch-up
//! (docs/benchmarks.md). With up to [`TRIM_THRESHOLD`] kept free per heap and every
//! allocation under [`MMAP_THRESHOLD`] served from a heap, freed batches are reused. The
//! cost is memory: after a burst a node keeps what it used, at most the trim threshold
//! per heap, instead of returning it at once.
//!
//! **How.** glibc reads its tunables (`GLIBC_TUNABLES`) once, when a process starts, and
//! setting the same parameters from inside (`mallopt`) is `unsafe`, which this workspace
//! forbids. So the very first thing `ferryd` does is re-execute itself (same pid, same
//! arguments) with the two tunables added to the environment. An operator's own
//! `glibc.malloc.*` tunables win: then nothing is added and nothing re-executed. Another
//! libc, or a failed exec (reported on stderr), leaves the defaults.

/// Free bytes a heap keeps before glibc returns them to the kernel.
pub const TRIM_THRESHOLD: u64 = 128 << 20;
/// Allocations at or above this size get their own mapping; smaller ones come from a heap
/// (32 MiB is the largest value glibc accepts here).
pub const MMAP_THRESHOLD: u64 = 32 << 20;

/// The environment variable glibc reads its tunables from.
const VAR: &str = "GLIBC_TUNABLES";

/// What [`tune`] sets: the tunables to run with, or `None` to run as started.
fn tunables(current: Option<&str>) -> Option<String> {
    let ours = format!(
        "glibc.malloc.trim_threshold={TRIM_THRESHOLD}:glibc.malloc.mmap_threshold={MMAP_THRESHOLD}"
    );
    match current {
        Some(v) if v.contains("glibc.malloc.") => None,
        Some(v) if !v.is_empty() => Some(format!("{v}:{ours}")),
        _ => Some(ours),
    }
}

/// Re-executes `ferryd` with the malloc tunables unless it runs with some already; returns
/// only when it does not (or cannot) re-execute. Call it before anything else runs.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    use std::os::unix::process::CommandExt as _;

    let current = std::env::var_os(VAR);
    let current = match current.as_deref().map(|v| v.to_str()) {
        // Not ours to edit: run as started.
        Some(None) => return,
        Some(Some(v)) => Some(v),
        None => None,
    };
    let Some(value) = tunables(current) else {
        return;
    };
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let err = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(VAR, value)
        .exec();
    eprintln!(
        "ferryd: warning: cannot re-execute {} with malloc tunables ({err}); running with glibc's defaults",
        exe.display()
    );
}

/// Other platforms keep their allocator's defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_both_tunables_and_keeps_other_ones() {
        let ours = "glibc.malloc.trim_threshold=134217728:glibc.malloc.mmap_threshold=33554432";
        assert_eq!(tunables(None).as_deref(), Some(ours));
        assert_eq!(tunables(Some("")).as_deref(), Some(ours));
        assert_eq!(
            tunables(Some("glibc.pthread.rseq=0")),
            Some(format!("glibc.pthread.rseq=0:{ours}"))
        );
    }

    #[test]
    fn an_operators_malloc_tunables_win() {
        assert_eq!(tunables(Some("glibc.malloc.arena_max=2")), None);
        // Also after a re-execution: nothing is added twice.
        let once = tunables(None).unwrap();
        assert_eq!(tunables(Some(&once)), None);
    }
}
