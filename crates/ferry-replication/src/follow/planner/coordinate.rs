//! The planner's coordination rules: §4.2 `coordinateReads()` and read-response handling,
//! the metadata gate of §4.5, and §4.3 `coordinateWrites()`.
//!
//! Deliberately not here: event dispatch, retries and fatal handling (in the parent module).

use super::{Command, Deferred, OutstandingRead, OutstandingWrite, ShardFollowPlanner};

impl ShardFollowPlanner {
    pub(super) fn has_read_budget(&self) -> bool {
        self.reads.len() < self.limits.outstanding_reads
            && self.buffer_bytes < self.limits.buffer_bytes
            && self.buffer.len() <= self.limits.buffer_count
    }

    /// §4.2 `coordinateReads()`: bulk catch-up reads, else one peek (long poll).
    pub(super) fn coordinate_reads(&mut self, out: &mut Vec<Command>) {
        let read_ops = i64::from(self.limits.read_ops);
        while self.has_read_budget()
            && self.stats.last_requested_seq_no < self.stats.leader_global_checkpoint
        {
            let from = self.stats.last_requested_seq_no + 1;
            let required_to = self.stats.leader_global_checkpoint.min(from + read_ops - 1);
            let max_ops = if self.reads.is_empty() {
                self.limits.read_ops // the only read asks optimistically for a full batch
            } else {
                u32::try_from(required_to - from + 1)
                    .expect("at most max_read_request_operation_count")
            };
            if self.reads.iter().any(|(f, r)| r.upper(*f) >= from) {
                break; // an optimistic read may still return these seq_nos
            }
            self.issue_read(from, required_to, max_ops, out);
            self.stats.last_requested_seq_no = required_to;
        }
        let caught_up = self.stats.last_requested_seq_no == self.stats.leader_global_checkpoint;
        if self.reads.is_empty() && caught_up && self.has_read_budget() {
            let from = self.stats.leader_global_checkpoint + 1;
            self.issue_read(from, from - 1, self.limits.read_ops, out);
        }
    }

    pub(super) fn issue_read(
        &mut self,
        from: i64,
        required_to: i64,
        max_ops: u32,
        out: &mut Vec<Command>,
    ) {
        self.reads.insert(
            from,
            OutstandingRead {
                required_to,
                max_ops,
                retries: 0,
            },
        );
        out.push(self.read_command(from, max_ops));
    }

    pub(super) fn read_command(&self, from: i64, max_ops: u32) -> Command {
        Command::Read {
            from,
            max_ops,
            max_bytes: self.limits.read_bytes,
            poll_timeout: self.limits.poll_timeout,
        }
    }

    pub(super) fn metadata_satisfied(&self, r: &Deferred) -> bool {
        r.mapping_version <= self.stats.follower_mapping_version
            && r.settings_version <= self.stats.follower_settings_version
    }

    /// Issues the next metadata update waiting responses need (mapping before settings),
    /// unless one is already in flight.
    pub(super) fn request_metadata(&mut self, out: &mut Vec<Command>) {
        if self.metadata_in_flight.is_some() {
            return;
        }
        let mapping = self
            .deferred
            .iter()
            .map(|d| d.mapping_version)
            .max()
            .unwrap_or(0);
        let settings = self
            .deferred
            .iter()
            .map(|d| d.settings_version)
            .max()
            .unwrap_or(0);
        let command = if mapping > self.stats.follower_mapping_version {
            Command::UpdateMapping { version: mapping }
        } else if settings > self.stats.follower_settings_version {
            Command::UpdateSettings { version: settings }
        } else {
            return;
        };
        self.metadata_in_flight = Some(command.clone());
        out.push(command);
    }

    /// §4.2 "handling a read response", once its metadata is on the follower.
    pub(super) fn apply_read(&mut self, r: Deferred, out: &mut Vec<Command>) {
        let Some(read) = self.reads.remove(&r.from) else {
            return;
        };
        let s = &mut self.stats;
        s.leader_global_checkpoint = s.leader_global_checkpoint.max(r.leader_global_checkpoint);
        s.leader_max_seq_no = s.leader_max_seq_no.max(r.leader_max_seq_no);
        s.read_exceptions.remove(&r.from);

        // Keep only the contiguous run from `from` (a leader never answers with gaps; if one
        // did, everything past the gap is read again rather than trusted).
        let mut ops = r.ops;
        ops.sort_by_key(|op| op.seq_no);
        ops.dedup_by_key(|op| op.seq_no);
        let upper = read.upper(r.from);
        let mut next = r.from;
        let mut accepted = 0;
        for op in &ops {
            if op.seq_no != next || op.seq_no > upper {
                break;
            }
            next += 1;
            accepted += 1;
        }
        ops.truncate(accepted);
        if !ops.is_empty() {
            s.successful_read_requests += 1;
            s.operations_read += ops.len() as u64;
            s.bytes_read += ops.iter().map(|op| op.size_bytes).sum::<u64>();
            s.last_requested_seq_no = s.last_requested_seq_no.max(next - 1);
        }
        for op in ops {
            if let Some(old) = self.buffer.insert(op.seq_no, op) {
                self.buffer_bytes -= old.size_bytes;
            }
            self.buffer_bytes += op.size_bytes;
        }
        self.coordinate_writes(out);
        if next <= read.required_to {
            // Short read: ask for exactly the remainder, in the same read slot.
            let max_ops =
                u32::try_from(read.required_to - next + 1).expect("within the read's range");
            self.issue_read(next, read.required_to, max_ops, out);
        } else {
            self.coordinate_reads(out);
        }
    }

    /// §4.3 `coordinateWrites()`.
    pub(super) fn coordinate_writes(&mut self, out: &mut Vec<Command>) {
        while self.writes.len() < self.limits.outstanding_writes && !self.buffer.is_empty() {
            let mut ops = Vec::new();
            let mut bytes = 0u64;
            while ops.len() < self.limits.write_ops {
                let Some((_, op)) = self.buffer.pop_first() else {
                    break;
                };
                bytes += op.size_bytes;
                ops.push(op);
                if bytes > self.limits.write_bytes {
                    break;
                }
            }
            self.buffer_bytes -= bytes;
            let id = self.next_write_id;
            self.next_write_id += 1;
            out.push(Command::Write {
                id,
                ops: ops.clone(),
            });
            self.writes.insert(id, OutstandingWrite { ops, retries: 0 });
        }
    }
}
