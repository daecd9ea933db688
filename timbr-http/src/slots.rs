//! Connection slots, on two budgets so that no kind of client can keep probes and scrapes
//! out: event streams (open dashboards) hold slots of their own, and requests share the rest.
//!
//! A connection enters as a request **reading its head**. A new connection when every request
//! slot is taken cuts off the oldest one still reading its head (its socket is shut down, its
//! thread ends at once): a client that idles or sends a byte at a time (slowloris) cannot hold
//! a slot against one that sends its request at once, as probes and scrapers do. Only when
//! every request slot is **answering** is a new connection refused with `503`. A request for
//! the event stream moves to a stream slot, or gets `503` when the streams' budget is spent.
//!
//! A [`Slot`] is an RAII guard: whatever ends its thread (an answer, a timeout, a panic in a
//! status feed), dropping it releases the slot.

use std::collections::VecDeque;
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long a new connection waits for connections cut off to end, at most.
const CUT_WAIT: Duration = Duration::from_secs(1);

/// Every slot, and the budgets.
pub(crate) struct Slots {
    inner: Mutex<Inner>,
    /// Notified whenever a slot is released.
    released: Condvar,
    streams_max: usize,
    requests_max: usize,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Connections reading their request head, oldest first, each with a handle to cut it off.
    reading: VecDeque<(u64, TcpStream)>,
    /// Requests whose head was read, being answered.
    answering: usize,
    /// Event streams being served.
    streams: usize,
    /// Connections cut off whose threads have not ended yet (they end at once: their read
    /// fails). Bounded by the request budget, like the connections they replaced.
    cut: usize,
}

impl Inner {
    fn total(&self) -> usize {
        self.reading.len() + self.answering + self.streams + self.cut
    }
}

/// Why a connection gets no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// Every request slot is answering a request.
    Requests,
    /// Every stream slot holds an open event stream.
    Streams,
}

impl Full {
    /// What the `503` says.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Full::Requests => "too many requests at once",
            Full::Streams => "too many event streams (open dashboards) at once: close one",
        }
    }
}

/// What a slot is used for now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    Reading,
    Answering,
    Streaming,
}

/// One connection's slot; released when dropped.
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
    id: u64,
    now: Use,
}

impl Slots {
    /// `streams` slots for event streams, `requests` for the rest (each at least 1).
    pub(crate) fn new(streams: usize, requests: usize) -> Self {
        Slots {
            inner: Mutex::new(Inner::default()),
            released: Condvar::new(),
            streams_max: streams.max(1),
            requests_max: requests.max(1),
        }
    }

    /// A slot for a new connection reading its request head (`handle`: a clone of its socket,
    /// to cut it off with), cutting off the oldest such connection if every request slot is
    /// taken; the slot's id, or why there is none. Returns the connection cut off, if any,
    /// for the caller to shut down outside the lock.
    pub(crate) fn admit(&self, handle: TcpStream) -> Result<(u64, Option<TcpStream>), Full> {
        let deadline = Instant::now() + CUT_WAIT;
        let mut inner = self.inner.lock();
        let mut cut = None;
        while inner.reading.len() + inner.answering >= self.requests_max {
            if inner.reading.is_empty() {
                return Err(Full::Requests);
            }
            if inner.cut < self.requests_max {
                cut = inner.reading.pop_front().map(|(_, s)| s);
                inner.cut += 1;
                break;
            }
            // As many cut off as there are request slots, their threads not ended yet (they
            // end at once, but a burst of connections can outpace them): wait for them rather
            // than run more threads than slots.
            if self.released.wait_until(&mut inner, deadline).timed_out() {
                return Err(Full::Requests);
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.reading.push_back((id, handle));
        Ok((id, cut))
    }

    /// The guard of slot `id` (from [`admit`](Slots::admit)), to move on its thread.
    pub(crate) fn guard(&self, id: u64) -> Slot<'_> {
        Slot {
            slots: self,
            id,
            now: Use::Reading,
        }
    }

    /// Connections holding a slot, or cut off and not yet ended.
    pub(crate) fn held(&self) -> usize {
        self.inner.lock().total()
    }

    /// Waits until every slot is released, at most until `deadline`.
    pub(crate) fn wait_all_released(&self, deadline: Instant) {
        let mut inner = self.inner.lock();
        while inner.total() > 0 {
            if self.released.wait_until(&mut inner, deadline).timed_out() {
                return;
            }
        }
    }
}

impl Slot<'_> {
    /// The request head was read: the slot now answers it. False if the connection was cut
    /// off meanwhile (its socket is shut down: there is no one to answer).
    pub(crate) fn answering(&mut self) -> bool {
        let mut inner = self.slots.inner.lock();
        let Some(at) = inner.reading.iter().position(|(id, _)| *id == self.id) else {
            return false;
        };
        inner.reading.remove(at);
        inner.answering += 1;
        self.now = Use::Answering;
        true
    }

    /// Moves an answering request to a stream slot, if the streams' budget allows.
    pub(crate) fn streaming(&mut self) -> Result<(), Full> {
        if self.now != Use::Answering {
            return Err(Full::Streams);
        }
        let mut inner = self.slots.inner.lock();
        if inner.streams >= self.slots.streams_max {
            return Err(Full::Streams);
        }
        inner.answering -= 1;
        inner.streams += 1;
        self.now = Use::Streaming;
        Ok(())
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut inner = self.slots.inner.lock();
        match self.now {
            Use::Reading => match inner.reading.iter().position(|(id, _)| *id == self.id) {
                Some(at) => {
                    inner.reading.remove(at);
                }
                // Cut off by a newer connection: counted among those until now.
                None => inner.cut -= 1,
            },
            Use::Answering => inner.answering -= 1,
            Use::Streaming => inner.streams -= 1,
        }
        drop(inner);
        self.slots.released.notify_all();
    }
}

/// Shuts a connection cut off down: its thread's read fails at once and the thread ends.
pub(crate) fn cut_off(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// A connected socket (the client end is returned too, to keep it open).
    fn socket(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    #[test]
    fn the_oldest_head_is_cut_off_and_answering_requests_are_not() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let slots = Slots::new(1, 2);
        let (a, _ca) = socket(&listener);
        let (b, _cb) = socket(&listener);
        let (id_a, cut) = slots.admit(a).unwrap();
        assert!(cut.is_none());
        let (id_b, _) = slots.admit(b).unwrap();
        let mut slot_b = slots.guard(id_b);
        assert!(slot_b.answering());
        // Full: the oldest still reading (a) is cut off for the newcomer.
        let (c, _cc) = socket(&listener);
        let (id_c, cut) = slots.admit(c).unwrap();
        assert!(cut.is_some());
        let mut slot_a = slots.guard(id_a);
        assert!(!slot_a.answering(), "a was cut off");
        let mut slot_c = slots.guard(id_c);
        assert!(slot_c.answering());
        // Both request slots answer: a newcomer is refused.
        let (d, _cd) = socket(&listener);
        assert_eq!(slots.admit(d).unwrap_err(), Full::Requests);
        assert_eq!(slots.held(), 3);
        drop(slot_a);
        // One stream slot: the first stream gets it, the second does not.
        assert!(slot_b.streaming().is_ok());
        assert_eq!(slot_c.streaming(), Err(Full::Streams));
        drop(slot_b);
        drop(slot_c);
        assert_eq!(slots.held(), 0);
    }

    #[test]
    fn a_slot_is_released_by_a_panic() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let slots = Slots::new(1, 1);
        let (a, _ca) = socket(&listener);
        let (id, _) = slots.admit(a).unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut slot = slots.guard(id);
            assert!(slot.answering());
            panic!("a feed panicked");
        }));
        assert!(caught.is_err());
        assert_eq!(slots.held(), 0);
    }
}
