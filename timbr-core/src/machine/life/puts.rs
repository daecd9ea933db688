//! The gates of a machine's puts: a user's put counted against the drop's close, a
//! source's put counted against a draining stop (see the parent module's docs for why each
//! counts itself *before* it reads its flag).

use std::sync::atomic::Ordering;

use super::Lifecycle;

/// A put in progress (see [`Lifecycle::enter_put`]); counted out when dropped.
pub(crate) struct PutGuard<'a>(&'a Lifecycle);

impl Drop for PutGuard<'_> {
    fn drop(&mut self) {
        self.0.puts.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A source's put in progress (see [`Lifecycle::enter_source_put`]); counted out when
/// dropped.
pub(crate) struct SourcePut<'a>(&'a Lifecycle);

impl Drop for SourcePut<'_> {
    fn drop(&mut self) {
        self.0.source_puts.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lifecycle {
    /// Begins a source's put: `None` if the source must stop (it keeps its datum). Counting
    /// the put *before* reading the flag is what lets a drain end safely (see the module
    /// docs and [`source_may_put`](Self::source_may_put)).
    pub(crate) fn enter_source_put(&self) -> Option<SourcePut<'_>> {
        self.source_puts.fetch_add(1, Ordering::SeqCst);
        let put = SourcePut(self);
        (!self.source_stop.load(Ordering::SeqCst)).then_some(put)
    }

    /// Whether the source may still put a datum: a draining consumer reads this *before*
    /// it tries the queue, and ends only if it was false and the queue then was empty. Once
    /// the stop flag is raised (before the mode turns to drain), a source put that has not
    /// begun yet sees the flag; one that has is seen here.
    pub(crate) fn source_may_put(&self) -> bool {
        self.source_puts.load(Ordering::SeqCst) > 0
    }

    /// Begins a put: `None` once the machine is closed (the caller hands the datum back).
    /// Counting the put *before* checking the flag is what makes [`close`](Self::close) and
    /// [`wait_for_puts`](Self::wait_for_puts) airtight: a put either sees the machine
    /// closed, or is waited for.
    pub(crate) fn enter_put(&self) -> Option<PutGuard<'_>> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        let guard = PutGuard(self);
        (!self.closed.load(Ordering::SeqCst)).then_some(guard)
    }

    /// How many puts have begun and not ended: the accounts count them as accepted and
    /// queued (see the accounts' `Counters`).
    pub(crate) fn puts_in_progress(&self) -> u64 {
        self.puts.load(Ordering::SeqCst) as u64
    }

    /// No put may succeed from now on (the machine is being dropped).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Waits until no put that began before [`close`](Self::close) is still running. Such a
    /// put either completes at once or is woken by its queue's `close`, so this is a short
    /// wait, never a sleep.
    pub(crate) fn wait_for_puts(&self) {
        while self.puts.load(Ordering::SeqCst) > 0 {
            std::thread::yield_now();
        }
    }
}
