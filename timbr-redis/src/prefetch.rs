//! Taking ahead: a thread of its own reads the next batch from Redis while the machine's
//! consumers process the current one, so that the round trip of an `XREADGROUP` overlaps
//! the stages instead of taking turns with them.
//!
//! The thread reads only when a taker asks: when a take finds the buffer empty, or when a
//! take leaves it at half a batch or less (the prefetch) — except while entries are
//! delivered again (after a restart, claims): those come one at a time, each fetched once
//! the one before was processed and acknowledged (see `reader/mod.rs` for why). So a machine
//! that stopped taking
//! (stopped, or draining what it fetched) fetches at most the one batch already asked for,
//! and this consumer holds at most about one and a half batches fetched and not yet
//! processed: what a crash redelivers. Every read is also the moment the outbox's open
//! buffer goes out ([`Outbox::kick`]), which keeps an idle fleet acknowledged.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;
use timbr_core::io::{Delivery, Taken};

use crate::health::Health;
use crate::outbox::Outbox;
use crate::reader::Reader;
use crate::RedisOptions;

/// Fetched entries, pending under this consumer, and the thread that fetches them.
pub(crate) struct Prefetch<T> {
    shared: Arc<Shared<T>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled when a fetch is asked for or ends, a taker is woken, or the queue closes.
    changed: Condvar,
}

struct State<T> {
    buffer: VecDeque<Delivery<T>>,
    /// Entries whose records the sink refused: delivered again by the next fetch.
    released: Vec<String>,
    /// Takes to wake ([`timbr_core::Queue::wake_takers`]).
    wakes: usize,
    /// A fetch is asked for.
    want: bool,
    /// A fetch is under way.
    fetching: bool,
    /// The last fetch redelivered: take one at a time, never ahead (see `reader/mod.rs`).
    one_at_a_time: bool,
    /// The queue is dropped: the thread ends.
    closing: bool,
}

impl<T: DeserializeOwned + Send + 'static> Prefetch<T> {
    /// Starts the fetching thread on `reader`.
    pub(crate) fn start(
        reader: Reader<T>,
        options: RedisOptions,
        health: Arc<Health>,
        outbox: Arc<Outbox>,
    ) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buffer: VecDeque::with_capacity(options.batch * 2),
                released: Vec::new(),
                wakes: 0,
                want: false,
                fetching: false,
                one_at_a_time: true,
                closing: false,
            }),
            changed: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("timbr-redis-fetch".to_owned())
                .spawn(move || shared.run(reader, &options, &health, &outbox))
                // Without the thread nothing would ever be taken: as fatal as an allocation
                // failure (the OS refusing a thread), and as rare.
                .expect("cannot spawn the fetching thread")
        };
        Prefetch {
            shared,
            thread: Some(thread),
        }
    }
}

impl<T> Prefetch<T> {
    /// The next fetched entry, waiting until `deadline` (for ever if `None`) or a wake-up.
    /// Asks for the next batch once half a batch or less is left.
    pub(crate) fn take(&self, deadline: Option<Instant>, low_water: usize) -> Taken<Delivery<T>> {
        let s = &*self.shared;
        let mut state = s.state.lock();
        loop {
            // Data first, as with the memory queue: a wake-up never hides a fetched entry.
            if let Some(d) = state.buffer.pop_front() {
                if state.buffer.len() <= low_water
                    && !state.one_at_a_time
                    && !state.fetching
                    && !state.want
                {
                    state.want = true;
                    s.changed.notify_all();
                }
                return Taken::Datum(d);
            }
            if state.wakes > 0 {
                state.wakes -= 1;
                return Taken::Woken;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Taken::TimedOut;
            }
            if !state.fetching && !state.want {
                state.want = true;
                s.changed.notify_all();
            }
            match deadline {
                None => s.changed.wait(&mut state),
                Some(d) => {
                    if s.changed.wait_until(&mut state, d).timed_out()
                        && state.buffer.is_empty()
                        && state.wakes == 0
                    {
                        return Taken::TimedOut;
                    }
                }
            }
        }
    }

    /// A fetched entry if there is one now (never asks for more: a draining machine
    /// processes what it has).
    pub(crate) fn try_take(&self) -> Option<Delivery<T>> {
        self.shared.state.lock().buffer.pop_front()
    }

    /// Wakes `n` takes, now or in the future.
    pub(crate) fn wake(&self, n: usize) {
        let mut state = self.shared.state.lock();
        state.wakes += n;
        self.shared.changed.notify_all();
    }

    /// Delivers entry `id` again at the next fetch.
    pub(crate) fn release(&self, id: &str) {
        self.shared.state.lock().released.push(id.to_owned());
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.shared.state.lock().closing = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread gives up a retry once `closing` is set and a read blocks at most
            // `block` (≤ 10 s): this join ends. A panic there would be a bug, already
            // reported by the panic hook.
            let _ = thread.join();
        }
    }
}

impl<T: DeserializeOwned> Shared<T> {
    /// The fetching thread's body.
    fn run(&self, mut reader: Reader<T>, o: &RedisOptions, health: &Health, outbox: &Outbox) {
        let closing = || self.state.lock().closing;
        let mut fetched = VecDeque::with_capacity(o.batch);
        loop {
            let released = {
                let mut state = self.state.lock();
                while !state.want && !state.closing {
                    // While the machine processes what it has (or waits for retries), the
                    // entries it holds are kept from other consumers (`Reader::touch_if_due`).
                    match reader.next_touch() {
                        Some(due) if Instant::now() >= due => {
                            parking_lot::MutexGuard::unlocked(&mut state, || {
                                reader.touch_if_due(o, &closing);
                            });
                        }
                        Some(due) => {
                            self.changed.wait_until(&mut state, due);
                        }
                        None => self.changed.wait(&mut state),
                    }
                }
                if state.closing {
                    return;
                }
                state.want = false;
                state.fetching = true;
                std::mem::take(&mut state.released)
            };
            if reader.may_redeliver(!released.is_empty()) {
                // Everything processed so far is acknowledged before anything is delivered
                // again: a poisonous entry is then the only one whose count grows.
                outbox.sync(&closing);
            } else {
                // What was processed so far is acknowledged while this batch is read.
                outbox.kick();
            }
            let again = reader.fetch(o, health, released, o.block, &closing, &mut fetched);
            let mut state = self.state.lock();
            state.buffer.extend(fetched.drain(..));
            state.one_at_a_time = again;
            state.fetching = false;
            self.changed.notify_all();
        }
    }
}
