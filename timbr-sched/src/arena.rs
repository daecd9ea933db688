//! Reuse of a run's slots: the array a finished run leaves behind serves the next run on the
//! same thread, so a steady-state run allocates nothing for its slots.
//!
//! A run's slots are one `Option<Outcome>` per graph node, held in a [`SlotArray`]. Only the
//! plan's nodes are ever written (an input set outside the plan is not kept: nothing reads
//! it), so when the array is dropped (with the run's [`Outcomes`](crate::Outcomes), or with a
//! run never executed) those slots are emptied (each value dropped then, as before), the
//! others being empty already, and the empty array goes into a small per-thread cache;
//! [`Plan::run`](crate::Plan::run) takes an array of the right length from that cache before
//! allocating one. An empty array carries nothing from one run to the next, and any two plans
//! with as many nodes can share it.
//!
//! The cache keeps the last array given back apart from the others: a thread running one plan
//! over and over (a machine's worker) takes and gives back that one array, with no search and
//! no borrow flag.

use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};

use crate::Outcome;

/// A run's slots, one per graph node.
type Slots = Box<[Option<Outcome>]>;

/// A run's slots, handed back to this thread's cache, emptied, when dropped.
///
/// The array is in an `Option` so that giving it back leaves nothing behind to drop: moving
/// it out of a plain `Box` field would leave an empty `Box` whose destructor still runs, an
/// out-of-line call per run.
///
/// `written` lists the slots a run may have written (the plan's nodes, borrowed from the
/// plan for `'p`): only those are emptied, not every node of a graph whose plan runs a few.
/// `None` (the array outlives the plan's borrow, or was made without one) empties them all.
#[derive(Default)]
pub(crate) struct SlotArray<'p> {
    slots: Option<Slots>,
    written: Option<&'p [u32]>,
}

impl<'p> SlotArray<'p> {
    /// `len` empty slots of which a run writes `written` alone: see [`take`].
    #[inline]
    pub(crate) fn take(len: usize, written: &'p [u32]) -> SlotArray<'p> {
        SlotArray {
            slots: Some(take(len)),
            written: Some(written),
        }
    }

    /// The same slots, no longer borrowing the plan's list: all of them are emptied at the end.
    pub(crate) fn detach(mut self) -> SlotArray<'static> {
        SlotArray {
            slots: self.slots.take(),
            written: None,
        }
    }
}

impl Deref for SlotArray<'_> {
    type Target = [Option<Outcome>];

    #[inline]
    fn deref(&self) -> &[Option<Outcome>] {
        self.slots.as_deref().unwrap_or_default()
    }
}

impl DerefMut for SlotArray<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Option<Outcome>] {
        self.slots.as_deref_mut().unwrap_or_default()
    }
}

impl Drop for SlotArray<'_> {
    /// Drops every outcome and hands the emptied slots to the next run on this thread.
    #[inline]
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            give_back(slots, self.written);
        }
    }
}

/// How many empty slot arrays a thread keeps besides the last one (a thread usually runs one
/// or two plans).
const CACHED: usize = 4;

/// One thread's empty arrays.
struct Cache {
    /// The array given back last: the one the next run most likely wants.
    last: Cell<Option<Slots>>,
    /// Older ones, of other lengths as a rule.
    more: RefCell<Vec<Slots>>,
}

thread_local! {
    static FREE: Cache = const {
        Cache {
            last: Cell::new(None),
            more: RefCell::new(Vec::new()),
        }
    };
}

/// `len` empty slots: recycled from this thread's cache when it has an array of that length.
#[inline]
fn take(len: usize) -> Slots {
    let cached = FREE
        .try_with(|free| match free.last.take() {
            Some(last) if last.len() == len => Some(last),
            last => {
                free.last.set(last);
                take_more(free, len)
            }
        })
        .ok()
        .flatten();
    match cached {
        Some(slots) => slots,
        None => fresh(len),
    }
}

/// An array of length `len` from the older ones, if there is one.
#[inline(never)]
fn take_more(free: &Cache, len: usize) -> Option<Slots> {
    let mut more = free.more.try_borrow_mut().ok()?;
    let at = more.iter().rposition(|s| s.len() == len)?;
    Some(more.swap_remove(at))
}

#[cold]
#[inline(never)]
fn fresh(len: usize) -> Slots {
    (0..len).map(|_| None).collect()
}

/// Empties `slots` (dropping their outcomes here) and keeps the array for a later run:
/// the slots listed in `written` if it is given, every slot if not.
#[inline]
fn give_back(mut slots: Slots, written: Option<&[u32]>) {
    // Drop the outcomes before touching the cache: a value's destructor may itself drop
    // outcomes and come back here.
    match written {
        Some(written) => {
            for &i in written {
                if let Some(slot) = slots.get_mut(i as usize) {
                    clear(slot);
                }
            }
            // The next run relies on it: no slot outside the list was written.
            debug_assert!(
                slots.iter().all(Option::is_none),
                "a slot outside the plan was written"
            );
        }
        None => {
            for slot in slots.iter_mut() {
                clear(slot);
            }
        }
    }
    if slots.is_empty() {
        return;
    }
    let _ = FREE.try_with(|free| match free.last.take() {
        None => free.last.set(Some(slots)),
        Some(last) => {
            free.last.set(Some(slots));
            keep_more(free, last);
        }
    });
}

/// Empties one slot. A slot that is empty or holds an inline value has nothing to drop: it is
/// only marked empty, without the destructor's three-way test of every run's slots.
#[inline(always)]
fn clear(slot: &mut Option<Outcome>) {
    match slot {
        None => {}
        Some(Outcome::Value(v)) if v.is_inline() => *slot = None,
        Some(_) => drop_outcome(slot),
    }
}

/// Drops an outcome that owns something (a shared value, an error, a skip's key).
#[inline(never)]
fn drop_outcome(slot: &mut Option<Outcome>) {
    *slot = None;
}

/// Keeps `slots` among the older arrays, if there is room.
#[inline(never)]
fn keep_more(free: &Cache, slots: Slots) {
    if let Ok(mut more) = free.more.try_borrow_mut() {
        if more.len() < CACHED {
            more.push(slots);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn an_array_comes_back_empty_and_is_reused() {
        let mut slots = take(3);
        assert!(slots.iter().all(Option::is_none));
        slots[1] = Some(Outcome::Value(Value::new(String::from("kept?"))));
        slots[2] = Some(Outcome::Value(Value::new(7_u64)));
        let at = slots.as_ptr();
        give_back(slots, None);
        let again = take(3);
        assert_eq!(again.as_ptr(), at, "the array is recycled");
        assert!(again.iter().all(Option::is_none), "no value survives a run");
        let other = take(5);
        assert_eq!(other.len(), 5);
    }

    #[test]
    fn arrays_of_several_lengths_are_all_kept() {
        let (a, b, c) = (take(2), take(3), take(4));
        let at = [a.as_ptr(), b.as_ptr(), c.as_ptr()];
        give_back(a, None);
        give_back(b, None);
        give_back(c, Some(&[]));
        // The last one given back, then the older ones, whatever the order asked.
        let (b, c, a) = (take(3), take(4), take(2));
        assert_eq!([a.as_ptr(), b.as_ptr(), c.as_ptr()], at);
    }

    #[test]
    fn values_are_dropped_when_given_back() {
        let value = std::sync::Arc::new(1_u8);
        let mut slots = take(2);
        slots[0] = Some(Outcome::Value(Value::from_arc(std::sync::Arc::clone(
            &value,
        ))));
        assert_eq!(std::sync::Arc::strong_count(&value), 2);
        give_back(slots, Some(&[0]));
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
    }
}
