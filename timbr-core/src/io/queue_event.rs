//! What a queue has to say about itself — a lost connection, a datum given up on, work taken
//! over from a dead consumer — and the one-way channel it says it through.
//!
//! The queue lives in `io/` and knows nothing of machines, so it cannot call a handler. The
//! machine, when it is built, hands its queue a [`QueueEvents`] sender
//! ([`Queue::set_events`](crate::Queue::set_events)); the queue sends into it from whatever
//! thread noticed something, without ever blocking or running user code there (a queue may
//! hold its connection's lock at that moment). The machine's monitor thread delivers what
//! arrived, once per tick, as [`Event::Queue`](crate::Event::Queue) on the machine's usual
//! event path: counted by kind, decided on by the handler, seen by the plugins.
//!
//! The channel is bounded ([`QUEUE_EVENT_BACKLOG`]): a machine that is not running does not
//! deliver, and a queue must never grow without bound because nobody listens. Events past
//! the backlog are counted, and the machine reports the count as a handler error when it
//! next delivers.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

/// The most queue events that wait for their machine to deliver them; more are counted as
/// missed, not kept.
pub const QUEUE_EVENT_BACKLOG: usize = 4096;

/// Something that happened to a machine's queue (as opposed to a datum in it). Shared
/// queues, such as a Redis Stream read by a fleet, send these; the memory queue has nothing
/// to report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueEvent {
    /// A connection to the queue's server was lost; the queue retries with backoff.
    Disconnected {
        /// Which connection (a queue may have several: reading, writing, acknowledging…).
        link: String,
        /// Why.
        error: String,
    },
    /// A lost connection works again, or the server accepts again what it refused.
    Reconnected {
        /// Which connection.
        link: String,
        /// How long it was gone.
        after: Duration,
    },
    /// The queue's server answers but refuses a command (out of memory, a key of the wrong
    /// type…): nothing is lost, the queue retries with backoff until the cause is removed.
    /// Not a lost connection: `error` is the server's own message, naming the cause.
    Refused {
        /// Which connection.
        link: String,
        /// The server's answer.
        error: String,
    },
    /// A datum was given up on (delivered too often, or undecodable) and set aside with the
    /// reason, e.g. in a dead-letter stream. The machine goes on.
    DeadLettered {
        /// The datum's id in the queue.
        id: String,
        /// Why.
        reason: String,
    },
    /// A datum another consumer left unacknowledged too long was taken over by this one.
    Claimed {
        /// The datum's id in the queue.
        id: String,
        /// The consumer that had it.
        from: String,
    },
}

impl fmt::Display for QueueEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueEvent::Disconnected { link, error } => {
                write!(f, "queue connection `{link}` lost (retrying): {error}")
            }
            QueueEvent::Reconnected { link, after } => write!(
                f,
                "queue connection `{link}` back after {:.1}s",
                after.as_secs_f64()
            ),
            QueueEvent::Refused { link, error } => {
                write!(
                    f,
                    "queue server refuses `{link}`'s command (retrying): {error}"
                )
            }
            QueueEvent::DeadLettered { id, reason } => {
                write!(f, "queue entry {id} dead-lettered: {reason}")
            }
            QueueEvent::Claimed { id, from } => {
                write!(f, "queue entry {id} claimed from `{from}`")
            }
        }
    }
}

/// The sending end a machine hands its queue: cheap to clone, and [`send`](QueueEvents::send)
/// never blocks.
#[derive(Clone, Debug)]
pub struct QueueEvents {
    tx: Sender<QueueEvent>,
    missed: Arc<AtomicU64>,
}

impl QueueEvents {
    /// Sends `event` to the machine, which delivers it within a tick while it runs (or when
    /// it next runs). Never blocks: past [`QUEUE_EVENT_BACKLOG`] undelivered events, the
    /// event is counted as missed instead.
    ///
    /// Returns `false` once the machine is gone: the queue may forget this sender then.
    pub fn send(&self, event: QueueEvent) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.missed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The machine's end: what the monitor drains.
pub(crate) struct QueueEventInbox {
    rx: Receiver<QueueEvent>,
    missed: Arc<AtomicU64>,
}

impl QueueEventInbox {
    /// A sender for the queue and the inbox the machine keeps.
    pub(crate) fn channel() -> (QueueEvents, QueueEventInbox) {
        let (tx, rx) = bounded(QUEUE_EVENT_BACKLOG);
        let missed = Arc::new(AtomicU64::new(0));
        let events = QueueEvents {
            tx,
            missed: Arc::clone(&missed),
        };
        (events, QueueEventInbox { rx, missed })
    }

    /// Hands `deliver` what waits now — at most one backlog's worth, so that a queue
    /// sending without pause cannot keep the caller here — and returns how many events were
    /// missed since the last call.
    pub(crate) fn drain(&self, mut deliver: impl FnMut(QueueEvent)) -> u64 {
        for _ in 0..QUEUE_EVENT_BACKLOG {
            match self.rx.try_recv() {
                Ok(event) => deliver(event),
                Err(_) => break,
            }
        }
        self.missed.swap(0, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(n: usize) -> QueueEvent {
        QueueEvent::Claimed {
            id: format!("{n}-0"),
            from: "w1".to_owned(),
        }
    }

    #[test]
    fn events_arrive_in_order_and_past_the_backlog_are_counted_not_kept() {
        let (events, inbox) = QueueEventInbox::channel();
        let extra = 10;
        for n in 0..QUEUE_EVENT_BACKLOG + extra {
            assert!(events.send(claimed(n)));
        }
        let mut got = Vec::new();
        let missed = inbox.drain(|e| got.push(e));
        assert_eq!(got.len(), QUEUE_EVENT_BACKLOG);
        assert_eq!(got[0], claimed(0));
        assert_eq!(
            got[QUEUE_EVENT_BACKLOG - 1],
            claimed(QUEUE_EVENT_BACKLOG - 1)
        );
        assert_eq!(missed, extra as u64);
        // Counted once.
        assert_eq!(inbox.drain(|_| panic!("nothing left")), 0);
    }

    #[test]
    fn a_sender_learns_that_its_machine_is_gone() {
        let (events, inbox) = QueueEventInbox::channel();
        let clone = events.clone();
        assert!(clone.send(claimed(1)));
        drop(inbox);
        assert!(!events.send(claimed(2)));
        assert!(!clone.send(claimed(3)));
    }

    #[test]
    fn events_read_as_sentences() {
        let lost = QueueEvent::Disconnected {
            link: "reader".into(),
            error: "connection refused".into(),
        };
        assert_eq!(
            lost.to_string(),
            "queue connection `reader` lost (retrying): connection refused"
        );
        let back = QueueEvent::Reconnected {
            link: "reader".into(),
            after: Duration::from_millis(1500),
        };
        assert_eq!(
            back.to_string(),
            "queue connection `reader` back after 1.5s"
        );
        let dead = QueueEvent::DeadLettered {
            id: "1-0".into(),
            reason: "undecodable".into(),
        };
        assert_eq!(
            dead.to_string(),
            "queue entry 1-0 dead-lettered: undecodable"
        );
        assert_eq!(claimed(7).to_string(), "queue entry 7-0 claimed from `w1`");
    }
}
