//! Writes that must reach Redis in order: a sink's records first, then the acknowledgements
//! of the entries they came from.
//!
//! At-least-once rests on one rule: an entry is acknowledged only once its record is in
//! Redis. The consumer hands a record to the sink and then acknowledges; when the sink and
//! the acknowledgements share this outbox, both are buffered in that order and go out in one
//! `MULTI`/`EXEC` round trip per batch, so the rule holds however the batch ends: applied
//! whole, or not at all (the entries stay pending and are delivered again; a lost `EXEC`
//! reply retried can only write a record twice, never acknowledge one that was not written).
//! Dropping the buffer (a stop during an outage) is safe for the same reason.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use redis::Value;

use crate::health::Health;
use crate::link::{group_gone, Link};

/// Acknowledges entries and counts them in one step, so the fleet's balance is exact
/// (`XACK` answers how many were still pending: a repeated acknowledgement counts nothing).
const ACK_SCRIPT: &str = "local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2)) \
                          redis.call('INCRBY', KEYS[2], n) return n";
/// Ids per script call (Lua's `unpack` has a stack limit).
const ACKS_PER_CALL: usize = 1000;

/// Where acknowledgements go: the queue's stream, its group and the acknowledged counter.
pub(crate) struct AckTarget {
    pub(crate) stream: String,
    pub(crate) group: String,
    pub(crate) counter: String,
}

enum Op {
    /// A record for a sink stream: `XADD stream * field value…`.
    Add {
        stream: Arc<str>,
        fields: [(&'static str, String); 4],
    },
    /// An entry of the queue's stream to acknowledge.
    Ack(String),
}

pub(crate) struct Outbox {
    state: Mutex<State>,
    health: Arc<Health>,
    target: Option<AckTarget>,
    /// Flush once this many operations wait.
    flush_at: usize,
}

struct State {
    link: Link,
    ops: Vec<Op>,
}

impl Outbox {
    pub(crate) fn new(
        link: Link,
        health: Arc<Health>,
        target: Option<AckTarget>,
        flush_at: usize,
    ) -> Self {
        Outbox {
            state: Mutex::new(State {
                link,
                ops: Vec::with_capacity(flush_at),
            }),
            health,
            target,
            flush_at,
        }
    }

    /// Buffers a record for `stream`; flushes when the buffer is full or `now` is asked.
    pub(crate) fn add(&self, stream: &Arc<str>, fields: [(&'static str, String); 4], now: bool) {
        let mut state = self.state.lock();
        state.ops.push(Op::Add {
            stream: Arc::clone(stream),
            fields,
        });
        if now || state.ops.len() >= self.flush_at {
            self.flush_locked(&mut state, None);
        }
    }

    /// Buffers the acknowledgement of entry `id`.
    pub(crate) fn ack(&self, id: &str) {
        let mut state = self.state.lock();
        state.ops.push(Op::Ack(id.to_owned()));
        if state.ops.len() >= self.flush_at {
            self.flush_locked(&mut state, None);
        }
    }

    /// Sends everything buffered, retrying through outages until `deadline` (for ever if
    /// `None`); past it the buffer is dropped, which loses nothing (see the module's docs).
    /// Returns whether everything went out.
    pub(crate) fn flush(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state.lock();
        self.flush_locked(&mut state, deadline)
    }

    fn flush_locked(&self, state: &mut State, deadline: Option<Instant>) -> bool {
        if state.ops.is_empty() {
            return true;
        }
        // Every record first, then every acknowledgement, in one transaction: an ack only
        // ever moves after the record it was buffered behind, so the rule still holds, and
        // the acks go out as one script call per thousand.
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut written = 0_u64;
        let mut acks: Vec<&str> = Vec::new();
        for op in &state.ops {
            match op {
                Op::Ack(id) => acks.push(id),
                Op::Add { stream, fields } => {
                    let cmd = pipe.cmd("XADD").arg(&**stream).arg("*");
                    for (k, v) in fields {
                        cmd.arg(*k).arg(v);
                    }
                    cmd.ignore();
                    written += 1;
                }
            }
        }
        if let Some(t) = &self.target {
            for chunk in acks.chunks(ACKS_PER_CALL) {
                pipe.cmd("EVAL")
                    .arg(ACK_SCRIPT)
                    .arg(2)
                    .arg(&t.stream)
                    .arg(&t.counter)
                    .arg(&t.group)
                    .arg(chunk);
            }
        }
        let give_up = || deadline.is_some_and(|d| Instant::now() >= d);
        let replies: Option<Vec<Value>> = state.link.run(&give_up, |con| {
            pipe.query(con).or_else(|e| {
                if group_gone(&e) {
                    Ok(Vec::new())
                } else {
                    Err(e)
                }
            })
        });
        state.ops.clear();
        match replies {
            Some(replies) => {
                let acked: i64 = replies
                    .iter()
                    .map(|v| match v {
                        Value::Int(n) => *n,
                        _ => 0,
                    })
                    .sum();
                Health::add(&self.health.acked, acked.max(0) as u64);
                Health::add(&self.health.written, written);
                true
            }
            None => false,
        }
    }
}
