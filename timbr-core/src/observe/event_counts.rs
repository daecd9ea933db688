//! Events counted by kind, for the status (and from there for metrics).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::observe::EventKind;

/// One counter per [`EventKind`]; shared by every thread of a machine.
pub(crate) struct EventCounts {
    cells: [AtomicU64; EventKind::ALL.len()],
}

impl Default for EventCounts {
    fn default() -> Self {
        EventCounts {
            cells: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl EventCounts {
    /// Counts one event of `kind`.
    pub(crate) fn count(&self, kind: EventKind) {
        // `ALL` lists every kind, so the position is always found.
        if let Some(i) = EventKind::ALL.iter().position(|&k| k == kind) {
            self.cells[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every kind's count, by [`EventKind::name`] (zeros included, so that the set of keys
    /// never changes).
    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        EventKind::ALL
            .iter()
            .zip(&self.cells)
            .map(|(kind, cell)| (kind.name().to_owned(), cell.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind() {
        let c = EventCounts::default();
        c.count(EventKind::StageFailed);
        c.count(EventKind::StageFailed);
        c.count(EventKind::Idle);
        let s = c.snapshot();
        assert_eq!(s.len(), EventKind::ALL.len());
        assert_eq!(s["stage_failed"], 2);
        assert_eq!(s["idle"], 1);
        assert_eq!(s["started"], 0);
    }
}
