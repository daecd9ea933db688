//! Item 5 of the process-edges issue: `--workers 1000000` tried to allocate ~40 GB before
//! starting a thread. Every count-like builder setting has a bound and a clear error past it.

use timbr_core::{
    machine::{MAX_CAPACITY, MAX_SLOTS, MAX_WORKERS},
    BuildError, Machine,
};

#[test]
fn settings_past_their_bounds_are_refused_before_anything_is_allocated() {
    for (builder, setting, max) in [
        (
            Machine::<u64>::builder().workers(1_000_000),
            "workers",
            MAX_WORKERS,
        ),
        (
            Machine::<u64>::builder().workers(MAX_WORKERS + 1),
            "workers",
            MAX_WORKERS,
        ),
        (
            Machine::<u64>::builder().capacity(usize::MAX),
            "capacity",
            MAX_CAPACITY,
        ),
        (
            Machine::<u64>::builder().slots(MAX_SLOTS + 1),
            "slots",
            MAX_SLOTS,
        ),
    ] {
        match builder.build() {
            Err(e @ BuildError::OutOfBounds { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains(setting) && text.contains(&max.to_string()),
                    "{text}"
                );
            }
            other => panic!("{setting}: {:?}", other.map(|_| "built")),
        }
    }
    // At the bounds, it builds.
    let machine = Machine::<u64>::builder()
        .workers(MAX_WORKERS)
        .slots(MAX_SLOTS)
        .build()
        .unwrap();
    assert_eq!(machine.slots(), MAX_SLOTS);
}
