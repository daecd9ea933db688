//! [`Kept`]: what a handler that stopped the machine kept, for a closer look.

use std::backtrace::Backtrace;
use std::sync::Arc;

use crate::datum::Failure;
use crate::observe::Event;

/// What a handler kept when it stopped the machine with
/// [`Action::StopAndKeep`](crate::Action::StopAndKeep).
///
/// Prints as a short report (`{}`), renders as HTML ([`to_html`](Kept::to_html), or
/// [`evcxr_display`](Kept::evcxr_display) in a Jupyter notebook, so that a cell ending in
/// `machine.kept().unwrap()` shows it), and its `Debug` is readable too (times in RFC 3339,
/// the backtrace summarized: print [`backtrace`](Kept::backtrace) for its frames).
#[derive(Clone)]
pub struct Kept {
    /// The event that stopped the machine.
    pub event: Event,
    /// Where the machine's thread was when it handled the event. (A stage's own frames are
    /// gone by then: [`Failure::replay`] reproduces them on your thread.)
    pub backtrace: Arc<Backtrace>,
}

impl Kept {
    /// The stage failure, if the event was one.
    pub fn failure(&self) -> Option<&Arc<Failure>> {
        match &self.event {
            Event::StageFailed(f) => Some(f),
            _ => None,
        }
    }
}
