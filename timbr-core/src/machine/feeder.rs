//! The source thread's body: it feeds the queue from the source iterator with backpressure
//! or a drop policy, and stops and resumes without losing the datum in hand.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::io::source::{SourceParts, SourceStatus};
use crate::io::SourceState;
use crate::machine::Supervisor;
use crate::unwind;
use crate::{
    observe::{ErrorKind, ErrorReport},
    Event, PutTimeoutError, Queue, SourcePolicy, TryPutError,
};

/// How long a source blocked on a full queue waits before checking whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(20);

pub(crate) struct Feeder<'a, T> {
    pub(crate) queue: &'a dyn Queue<T>,
    pub(crate) sup: &'a Supervisor,
    pub(crate) policy: SourcePolicy,
    pub(crate) status: &'a SourceStatus,
}

impl<T: Send + 'static> Feeder<'_, T> {
    /// Feeds the queue until the iterator ends or fails, or `stop` is raised; returns what
    /// is left so a later start resumes there.
    pub(crate) fn run(&self, mut parts: SourceParts<T>) -> SourceParts<T> {
        self.status.set(SourceState::Running);
        loop {
            if self.sup.life.source_must_stop() {
                self.status.set(SourceState::Ready);
                return parts;
            }
            let datum = match parts.pending.take() {
                Some(d) => d,
                None => match self.next(&mut parts) {
                    Some(d) => d,
                    None => return parts,
                },
            };
            if let Some(d) = self.offer(datum) {
                parts.pending = Some(d);
                self.status.set(SourceState::Ready);
                return parts;
            }
        }
    }

    fn next(&self, parts: &mut SourceParts<T>) -> Option<T> {
        let iter = parts.iter.as_mut()?;
        // A panicking iterator is a failed source.
        let end = match unwind::catch(|| iter.next()) {
            Ok(Some(Ok(d))) => {
                self.status.produced.fetch_add(1, Ordering::AcqRel);
                return Some(d);
            }
            Ok(Some(Err(e))) => SourceState::Failed(e),
            Ok(None) => SourceState::Exhausted,
            Err(panic) => SourceState::Failed(format!("panicked: {panic}")),
        };
        parts.iter = None;
        let event = match &end {
            SourceState::Failed(message) => {
                self.sup
                    .errors
                    .record(ErrorReport::new(ErrorKind::Source, message.clone()));
                Event::SourceFailed {
                    message: message.clone(),
                }
            }
            _ => Event::SourceExhausted {
                produced: self.status.produced.load(Ordering::Acquire),
            },
        };
        self.status.set(end);
        self.sup.emit(event);
        None
    }

    /// Puts `datum` by the policy; hands it back if the source must stop first.
    fn offer(&self, datum: T) -> Option<T> {
        // A stop raised while the iterator worked (a rate limit sleeps there) is seen here,
        // atomically with the drain's end: the datum stays the source's, for the next start.
        let Some(_source_put) = self.sup.life.enter_source_put() else {
            return Some(datum);
        };
        // In progress (counted as accepted and queued) until this returns. A closed machine
        // (being dropped) takes nothing more: the source keeps its datum, as when it is
        // asked to stop.
        let Some(_put) = self.sup.life.enter_put() else {
            return Some(datum);
        };
        match self.put(datum) {
            Put::Queued => self.sup.counters.accept(),
            Put::Dropped => {
                // Accepted, then discarded by the policy: both, while still in progress.
                self.sup.counters.accept();
                self.sup.counters.drop_new();
                self.sup.emit(Event::Dropped {
                    policy: self.policy,
                });
            }
            Put::Kept(datum) => return Some(datum),
            Put::Refused(reason) => self.refused(reason),
        }
        None
    }

    fn put(&self, datum: T) -> Put<T> {
        let mut datum = match self.queue.try_put(datum) {
            Ok(()) => return Put::Queued,
            Err(TryPutError::Full(d)) => d,
            Err(e) => return Put::from(e),
        };
        match self.policy {
            // A source blocked on a full queue is a put in progress, as a blocked `put` is.
            SourcePolicy::Block => loop {
                if self.sup.life.source_must_stop() {
                    return Put::Kept(datum);
                }
                match self
                    .queue
                    .put_until(datum, Some(Instant::now() + STOP_CHECK))
                {
                    Ok(()) => return Put::Queued,
                    Err(PutTimeoutError::Timeout(d)) => datum = d,
                    Err(PutTimeoutError::Closed(d)) => return Put::Kept(d),
                    Err(PutTimeoutError::Rejected { reason, .. }) => return Put::Refused(reason),
                }
            },
            SourcePolicy::DropNewest => Put::Dropped,
            SourcePolicy::DropOldest => loop {
                if self.queue.try_take().is_some() {
                    self.sup.counters.drop_old();
                    self.sup.emit(Event::Dropped {
                        policy: self.policy,
                    });
                }
                match self.queue.try_put(datum) {
                    Ok(()) => return Put::Queued,
                    Err(TryPutError::Full(d)) => datum = d,
                    Err(e) => return Put::from(e),
                }
            },
        }
    }

    /// The queue refused a datum for good (one it cannot encode): putting it again would
    /// fail again, so the source goes on without it — counted as rejected and reported as a
    /// source error with the queue's reason, never silently.
    fn refused(&self, reason: String) {
        self.sup.counters.reject();
        self.sup.errors.record(ErrorReport::new(
            ErrorKind::Source,
            format!("the queue refused a datum: {reason}"),
        ));
    }
}

/// Where a source's datum went.
enum Put<T> {
    /// The queue holds it.
    Queued,
    /// The policy discarded it (the queue was full).
    Dropped,
    /// It did not go in and stays the source's (the machine stops or closes).
    Kept(T),
    /// The queue refused it for good, with its reason.
    Refused(String),
}

impl<T> From<TryPutError<T>> for Put<T> {
    fn from(e: TryPutError<T>) -> Self {
        match e {
            TryPutError::Full(d) | TryPutError::Closed(d) => Put::Kept(d),
            TryPutError::Rejected { reason, .. } => Put::Refused(reason),
        }
    }
}
