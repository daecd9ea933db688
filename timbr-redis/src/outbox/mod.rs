//! Writes that must reach Redis in order: a sink's records first, then the acknowledgements
//! of the entries they came from — sent by a thread of their own, so that a machine's
//! consumers go on processing while Redis applies the previous batch.
//!
//! At-least-once rests on one rule: an entry is acknowledged only once its record is in
//! Redis. The consumer hands a record to the sink and then acknowledges; both are buffered
//! in that order. A full buffer becomes a **batch**, handed to the flusher thread, which
//! sends the batches one after another, in the order they were made, each as two round
//! trips: its records (one `MULTI`/`EXEC`), then — once Redis applied them — its
//! acknowledgements (scripts, each atomic by itself, outside a `MULTI`: Redis out of memory
//! refuses whatever is queued in one, and acknowledgements, which free memory, must go
//! through when records cannot). So the rule holds however a batch ends: a record that fails holds back
//! every acknowledgement of its batch; a connection lost in between leaves the entries
//! pending, delivered again; a lost `EXEC` reply retried can only write a record twice,
//! never acknowledge one that was not written. An acknowledgement is never in an earlier
//! batch than its record, and batches are applied in order on one connection. Dropping
//! batches (a stop during an outage) is safe for the same reason — with one care for packed
//! entries, whose acknowledgement waits for all their data: a pack out when a batch was
//! dropped is not acknowledged at all ([`Packs`](crate::pack::Packs)).
//!
//! At most [`MAX_QUEUED`] batches wait for the flusher: a consumer faster than Redis then
//! waits (backpressure), so memory stays bounded during an outage.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use redis::Value;

mod records;

use crate::entry::RecordEntry;
use crate::failed::{Failed, FAIL_ACK_SCRIPT};
use crate::group::group_gone;
use crate::health::Health;
use crate::link::Link;
use crate::resp::Transaction;

/// Acknowledges entries of one datum each and counts them, entries and data, in one step,
/// so the fleet's balance is exact (`XACK` answers how many were still pending: a repeated
/// acknowledgement counts nothing). Keys: the stream, the entry and data counters;
/// arguments: the group, the ids.
///
/// `allow-oom`: a Redis out of memory (`maxmemory` with `noeviction`) refuses the counter's
/// `INCRBY` — after the script's `XACK` was applied, which no error undoes, so the balance
/// would lose the count. Acknowledgements free memory (and let the stream be trimmed); they
/// must go through when nothing else does. (Records still need memory: an acknowledgement
/// waits for its record, whatever Redis's memory, so nothing is lost.)
const ACK_SCRIPT: &str = "#!lua flags=allow-oom\n\
                          local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2)) \
                          redis.call('INCRBY', KEYS[2], n) redis.call('INCRBY', KEYS[3], n) \
                          return n";
/// As [`ACK_SCRIPT`] for packed entries, each counting its own number of data: arguments
/// the group, then pairs of an id and its data.
pub(crate) const WEIGHED_ACK_SCRIPT: &str = "#!lua flags=allow-oom\n\
    local n, d = 0, 0 \
    for i = 2, #ARGV, 2 do \
      if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then \
        n = n + 1 d = d + tonumber(ARGV[i + 1]) end end \
    redis.call('INCRBY', KEYS[2], n) redis.call('INCRBY', KEYS[3], d) return n";
/// Ids per script call (Lua's `unpack` has a stack limit).
const ACKS_PER_CALL: usize = 1000;
/// Batches that may wait for the flusher before the consumers wait for it.
pub(crate) const MAX_QUEUED: usize = 1;
/// How often a [`Outbox::sync`] looks whether it should give up.
const SYNC_CHECK: std::time::Duration = std::time::Duration::from_millis(20);

/// Where acknowledgements go: the queue's stream, its group and the acknowledged counters.
pub(crate) struct AckTarget {
    pub(crate) stream: String,
    pub(crate) group: String,
    /// Entries acknowledged.
    pub(crate) counter: String,
    /// Data acknowledged (a packed entry counts its data).
    pub(crate) data_counter: String,
    /// The failure stream, and its counter of failures written (`failed.rs`).
    pub(crate) failures: String,
    pub(crate) failed_counter: String,
}

enum Op {
    /// A record for a sink stream; `packed`: written in one entry with the other records
    /// of its input pack in the batch (see `results.rs`), if its origin names one.
    Add { record: RecordEntry, packed: bool },
    /// An entry of the queue's stream to acknowledge, how many data it held (1, a packed
    /// entry's size, 0 for a packed entry split into entries of their own), and those of
    /// its data that failed for good (written with the acknowledgement: `failed.rs`).
    Ack(String, usize, Vec<Failed>),
}

/// The buffer the sinks and the queue write into; its batches go out on a thread of its own.
pub(crate) struct Outbox {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a batch is queued, finished, or the outbox closes.
    changed: Condvar,
    health: Arc<Health>,
    target: Option<AckTarget>,
    /// Make a batch once this many operations wait.
    flush_at: usize,
    /// How many times a flush abandoned batches past its deadline (their records may never
    /// be written: see [`Packs`](crate::pack::Packs)).
    abandoned: Arc<AtomicU64>,
}

struct State {
    /// Operations not yet in a batch.
    open: Vec<Op>,
    /// Batches waiting for the flusher, oldest first, numbered from 1.
    queued: VecDeque<(u64, Vec<Op>)>,
    /// The number of the last batch made.
    made: u64,
    /// The number of the last batch the flusher is done with (sent or dropped).
    done: u64,
    /// The number of the last batch dropped (Redis unreachable past a flush's deadline).
    dropped: u64,
    /// Batches up to this number may be dropped rather than retried for ever.
    abandon_through: u64,
    /// The outbox is dropped: the flusher sends what is queued (one attempt each) and ends.
    closing: bool,
    /// Emptied batches, for reuse.
    spare: Vec<Vec<Op>>,
}

impl State {
    /// Turns the open operations into a batch for the flusher.
    fn seal(&mut self, flush_at: usize) {
        if self.open.is_empty() {
            return;
        }
        let fresh = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(flush_at));
        let ops = std::mem::replace(&mut self.open, fresh);
        self.made += 1;
        self.queued.push_back((self.made, ops));
    }
}

impl Outbox {
    /// An outbox sending on `link` from a thread of its own, making a batch of every
    /// `flush_at` operations.
    pub(crate) fn new(
        link: Link,
        health: Arc<Health>,
        target: Option<AckTarget>,
        flush_at: usize,
    ) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                open: Vec::with_capacity(flush_at),
                queued: VecDeque::with_capacity(MAX_QUEUED + 1),
                made: 0,
                done: 0,
                dropped: 0,
                abandon_through: 0,
                closing: false,
                spare: Vec::new(),
            }),
            changed: Condvar::new(),
            health,
            target,
            flush_at,
            abandoned: Arc::default(),
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("timbr-redis-outbox".to_owned())
                .spawn(move || shared.run(link))
                // Without the thread nothing would ever be acknowledged: as fatal as an
                // allocation failure (the OS refusing a thread), and as rare.
                .expect("cannot spawn the outbox thread")
        };
        Outbox {
            shared,
            flusher: Some(flusher),
        }
    }

    /// Buffers a record; with `now`, returns only once it is in Redis; `packed`, in one
    /// entry with the batch's other records of its input pack.
    pub(crate) fn add(&self, record: RecordEntry, now: bool, packed: bool) {
        self.push(Op::Add { record, packed });
        if now {
            self.flush(None);
        }
    }

    /// Counts the times a flush abandoned batches.
    pub(crate) fn abandoned(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.shared.abandoned)
    }

    /// Buffers the acknowledgement of entry `id`, which held `data` data (after their
    /// records), with the failures of those that failed for good.
    pub(crate) fn ack(&self, id: String, data: usize, failed: Vec<Failed>) {
        self.push(Op::Ack(id, data, failed));
    }

    fn push(&self, op: Op) {
        let s = &*self.shared;
        let mut state = s.state.lock();
        state.open.push(op);
        if state.open.len() >= s.flush_at {
            // Backpressure: at most MAX_QUEUED batches wait for Redis.
            while state.queued.len() >= MAX_QUEUED {
                s.changed.wait(&mut state);
            }
            state.seal(s.flush_at);
            s.changed.notify_all();
        }
    }

    /// Hands what is buffered to the flusher without waiting for it (unless it already has
    /// enough to do: then it goes with the next batch).
    pub(crate) fn kick(&self) {
        let s = &*self.shared;
        let mut state = s.state.lock();
        if !state.open.is_empty() && state.queued.len() < MAX_QUEUED {
            state.seal(s.flush_at);
            s.changed.notify_all();
        }
    }

    /// Sends everything buffered so far, waiting until `deadline` (for ever if `None`) for
    /// Redis to apply it; past the deadline the waiting batches are dropped, which loses
    /// nothing (see the module's docs). Returns whether everything went out.
    pub(crate) fn flush(&self, deadline: Option<Instant>) -> bool {
        let s = &*self.shared;
        let mut state = s.state.lock();
        let from = state.done;
        state.seal(s.flush_at);
        s.changed.notify_all();
        let target = state.made;
        while state.done < target {
            match deadline {
                None => {
                    s.changed.wait(&mut state);
                }
                Some(d) => {
                    if s.changed.wait_until(&mut state, d).timed_out() && state.done < target {
                        state.abandon_through = state.abandon_through.max(target);
                        s.abandoned.fetch_add(1, Ordering::AcqRel);
                        s.changed.notify_all();
                        return false;
                    }
                }
            }
        }
        state.dropped <= from
    }
}

impl Outbox {
    /// Sends everything buffered so far and waits until Redis applied it, or until
    /// `give_up` says so (checked every few milliseconds; nothing is dropped then).
    pub(crate) fn sync(&self, give_up: &dyn Fn() -> bool) {
        let s = &*self.shared;
        let mut state = s.state.lock();
        state.seal(s.flush_at);
        s.changed.notify_all();
        let target = state.made;
        while state.done < target && !give_up() {
            s.changed.wait_for(&mut state, SYNC_CHECK);
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        {
            let mut state = self.shared.state.lock();
            state.seal(self.shared.flush_at);
            state.closing = true;
            self.shared.changed.notify_all();
        }
        if let Some(flusher) = self.flusher.take() {
            // The flusher never panics on Redis's answers; a panic would be a bug, already
            // reported by the panic hook.
            let _ = flusher.join();
        }
    }
}

impl Shared {
    /// The flusher thread's body.
    fn run(&self, mut link: Link) {
        let mut txs = [Transaction::default(), Transaction::default()];
        loop {
            let (seq, mut ops) = {
                let mut state = self.state.lock();
                loop {
                    if let Some(batch) = state.queued.pop_front() {
                        // Room for one more batch: a consumer waiting for it may go on.
                        self.changed.notify_all();
                        break batch;
                    }
                    if state.closing {
                        return;
                    }
                    self.changed.wait(&mut state);
                }
            };
            let sent = self.send(&mut link, &mut txs, seq, &ops);
            ops.clear();
            let mut state = self.state.lock();
            state.done = seq;
            if !sent {
                state.dropped = seq;
            }
            state.spare.push(ops);
            self.changed.notify_all();
        }
    }

    /// Sends one batch — its records in one transaction, then its acknowledgements in
    /// another (encoded into `txs`, reused from batch to batch) — retrying through outages
    /// until it is applied or may be dropped. Returns whether it was applied.
    ///
    /// Two transactions, because Redis does not undo a transaction whose command fails as
    /// it runs: a record that cannot be written (its stream's key holds another type) must
    /// hold back the acknowledgements, not go down with them applied. The acknowledgements
    /// are sent only once the records are in (a lost connection between the two leaves the
    /// entries pending: delivered again, never lost).
    fn send(&self, link: &mut Link, txs: &mut [Transaction; 2], seq: u64, ops: &[Op]) -> bool {
        let [records, acks_tx] = txs;
        records.clear();
        let written = records::encode(records, ops);
        self.encode_acks(acks_tx, ops);
        let give_up = || {
            let state = self.state.lock();
            state.closing || state.abandon_through >= seq
        };
        let mut replies = Vec::new();
        // The records in one transaction; the acknowledgements as scripts, each atomic,
        // outside a `MULTI`, which Redis out of memory refuses whole (see ACK_SCRIPT).
        for (tx, atomic) in [(&*records, true), (&*acks_tx, false)] {
            let got: Option<Vec<Value>> = link.run(&give_up, |con| {
                let sent = if atomic {
                    tx.exec(con)
                } else {
                    tx.pipeline(con)
                };
                sent.or_else(|e| {
                    if group_gone(&e) {
                        Ok(Vec::new())
                    } else {
                        Err(e)
                    }
                })
            });
            let Some(got) = got else {
                return false;
            };
            replies = got;
        }
        // Each script's count of entries acknowledged.
        let acked: i64 = replies
            .iter()
            .map(|v| match v {
                Value::Int(n) => *n,
                _ => 0,
            })
            .sum();
        self.health.applied(written, acked.max(0) as u64);
        true
    }

    /// Encodes the acknowledgements of `ops` into `acks_tx` (cleared first): plain ones a
    /// thousand ids per script call, failed data with their failure entries (one
    /// `FAIL_ACK_SCRIPT` call each), packed entries with their data counts.
    fn encode_acks(&self, acks_tx: &mut Transaction, ops: &[Op]) {
        acks_tx.clear();
        let mut acks: Vec<&str> = Vec::new();
        let mut weighed: Vec<(&str, usize)> = Vec::new();
        let mut failing: Vec<(&str, usize, &[Failed])> = Vec::new();
        for op in ops {
            match op {
                Op::Ack(id, data, failed) if !failed.is_empty() => {
                    failing.push((id, *data, failed));
                }
                Op::Ack(id, 1, _) => acks.push(id),
                Op::Ack(id, data, _) => weighed.push((id, *data)),
                Op::Add { .. } => {}
            }
        }
        if let Some(t) = &self.target {
            // One script call per thousand ids (see ACK_SCRIPT).
            let head = |tx: &mut Transaction, script: &str, args: usize| {
                tx.start(7 + args);
                for a in [
                    "EVAL",
                    script,
                    "3",
                    &t.stream,
                    &t.counter,
                    &t.data_counter,
                    &t.group,
                ] {
                    tx.arg(a.as_bytes());
                }
            };
            for chunk in acks.chunks(ACKS_PER_CALL) {
                head(acks_tx, ACK_SCRIPT, chunk.len());
                for id in chunk {
                    acks_tx.arg(id.as_bytes());
                }
            }
            for (id, data, failed) in failing {
                let args: Vec<String> = failed.iter().flat_map(|f| f.args(id)).collect();
                acks_tx.start(12 + args.len());
                for a in [
                    "EVAL",
                    FAIL_ACK_SCRIPT,
                    "5",
                    &t.stream,
                    &t.counter,
                    &t.data_counter,
                    &t.failures,
                    &t.failed_counter,
                    &t.group,
                    id,
                ] {
                    acks_tx.arg(a.as_bytes());
                }
                acks_tx.arg(data.to_string().as_bytes());
                acks_tx.arg(failed.len().to_string().as_bytes());
                for a in &args {
                    acks_tx.arg(a.as_bytes());
                }
            }
            for chunk in weighed.chunks(ACKS_PER_CALL / 2) {
                head(acks_tx, WEIGHED_ACK_SCRIPT, 2 * chunk.len());
                for (id, data) in chunk {
                    acks_tx.arg(id.as_bytes());
                    acks_tx.arg(data.to_string().as_bytes());
                }
            }
        }
    }
}
