//! Reuse of a run's slots: the array a finished run leaves behind serves the next run on the
//! same thread, so a steady-state run allocates nothing for its slots.
//!
//! A run's slots are one `Option<Outcome>` per graph node. When [`Outcomes`](crate::Outcomes)
//! is dropped, every slot is emptied (each value dropped then, as before) and the empty array
//! goes into a small per-thread cache; [`Plan::run`](crate::Plan::run) takes an array of the
//! right length from that cache before allocating one. An empty array carries nothing from
//! one run to the next, and any two plans with as many nodes can share it.

use std::cell::RefCell;

use crate::Outcome;

/// A run's slots, one per graph node.
pub(crate) type Slots = Box<[Option<Outcome>]>;

/// How many empty slot arrays a thread keeps (a thread usually runs one or two plans).
const CACHED: usize = 4;

thread_local! {
    static FREE: RefCell<Vec<Slots>> = const { RefCell::new(Vec::new()) };
}

/// `len` empty slots: recycled from this thread's cache when it has an array of that length.
#[inline]
pub(crate) fn take(len: usize) -> Slots {
    let cached = FREE
        .try_with(|free| {
            let mut free = free.try_borrow_mut().ok()?;
            let at = free.iter().rposition(|s| s.len() == len)?;
            Some(free.swap_remove(at))
        })
        .ok()
        .flatten();
    cached.unwrap_or_else(|| (0..len).map(|_| None).collect())
}

/// Empties `slots` (dropping their outcomes here) and keeps the array for a later run.
#[inline]
pub(crate) fn give_back(mut slots: Slots) {
    // Drop the outcomes before touching the cache: a value's destructor may itself drop
    // outcomes and come back here.
    for slot in slots.iter_mut() {
        *slot = None;
    }
    if slots.is_empty() {
        return;
    }
    let _ = FREE.try_with(|free| {
        if let Ok(mut free) = free.try_borrow_mut() {
            if free.len() < CACHED {
                free.push(slots);
            }
        }
    });
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
        let at = slots.as_ptr();
        give_back(slots);
        let again = take(3);
        assert_eq!(again.as_ptr(), at, "the array is recycled");
        assert!(again.iter().all(Option::is_none), "no value survives a run");
        let other = take(5);
        assert_eq!(other.len(), 5);
    }

    #[test]
    fn values_are_dropped_when_given_back() {
        let value = std::sync::Arc::new(1_u8);
        let mut slots = take(2);
        slots[0] = Some(Outcome::Value(Value::from_arc(std::sync::Arc::clone(
            &value,
        ))));
        assert_eq!(std::sync::Arc::strong_count(&value), 2);
        give_back(slots);
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
    }
}
