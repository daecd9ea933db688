//! The errors a machine has seen: counts by kind, and the last one (for the status).

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::observe::status::{ErrorCounts, ErrorKind, ErrorReport};

/// Error counts by kind and the last error; shared by every thread of a machine.
#[derive(Default)]
pub(crate) struct ErrorBook {
    stage: AtomicU64,
    serialization: AtomicU64,
    sink: AtomicU64,
    source: AtomicU64,
    handler: AtomicU64,
    last: Mutex<Option<ErrorReport>>,
    last_sink: Mutex<Option<String>>,
}

impl ErrorBook {
    pub(crate) fn record(&self, report: ErrorReport) {
        let counter = match report.kind {
            ErrorKind::Stage => &self.stage,
            ErrorKind::Serialization => &self.serialization,
            ErrorKind::Sink => {
                *self.last_sink.lock() = Some(report.message.clone());
                &self.sink
            }
            ErrorKind::Source => &self.source,
            ErrorKind::Handler => &self.handler,
        };
        counter.fetch_add(1, Ordering::AcqRel);
        *self.last.lock() = Some(report);
    }

    pub(crate) fn counts(&self) -> ErrorCounts {
        let load = |c: &AtomicU64| c.load(Ordering::Acquire);
        ErrorCounts {
            stage: load(&self.stage),
            serialization: load(&self.serialization),
            sink: load(&self.sink),
            source: load(&self.source),
            handler: load(&self.handler),
        }
    }

    pub(crate) fn last(&self) -> Option<ErrorReport> {
        self.last.lock().clone()
    }

    pub(crate) fn last_sink(&self) -> Option<String> {
        self.last_sink.lock().clone()
    }
}
