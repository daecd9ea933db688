//! A draining stop with an endless source running leaves nothing queued, whatever the
//! interleaving: the source's last put either lands before the drain ends (and is
//! processed) or is not made (the source keeps the datum for the next start).
//!
//! Regression: the source checked its stop flag, then spent time in its iterator (a rate
//! limit), then put one more datum after the consumers had found the queue empty and
//! ended; the final status showed `queued 1`.

use std::sync::Arc;

use timbr_core::{ChannelSink, Machine, StopMode};

/// A small deterministic generator: stops land at varied moments without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// An endless source that works a varied while inside `next`, as a rate-limited generator
/// does: the moment a stop lands inside it is the one that lost the race.
fn endless(seed: u64) -> impl Iterator<Item = u64> + Send + 'static {
    let mut rng = XorShift(seed | 1);
    (0_u64..).inspect(move |_| {
        for _ in 0..rng.next() % 64 {
            std::hint::spin_loop();
        }
        if rng.next() % 4 == 0 {
            std::thread::yield_now();
        }
    })
}

/// Spins a random while, so the stop lands anywhere in the source's cycle.
fn pause(rng: &mut XorShift) {
    for _ in 0..rng.next() % 20_000 {
        std::hint::spin_loop();
    }
    if rng.next() % 3 == 0 {
        std::thread::yield_now();
    }
}

fn assert_drained(machine: &Machine<u64>, round: usize) {
    let counts = machine.counts();
    assert_eq!(
        (counts.queued, counts.in_flight),
        (0, 0),
        "round {round}: a drain left data behind: {counts:?}"
    );
    assert!(counts.is_balanced(), "round {round}: {counts:?}");
    assert_eq!(
        counts.accepted,
        counts.processed + counts.failed,
        "round {round}: {counts:?}"
    );
}

#[test]
fn stop_drain_with_an_endless_source_leaves_nothing_queued() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .capacity(64)
        .sink(sink)
        .build()
        .unwrap();
    machine.set_source(endless(0x9e37_79b9_7f4a_7c15));
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut seen = 0_u64;
    for round in 0..600 {
        machine.start().unwrap();
        pause(&mut rng);
        assert!(machine.stop(StopMode::Drain).is_empty());
        assert_drained(&machine, round);
        seen += records.try_iter().count() as u64;
        assert_eq!(seen, machine.counts().processed, "round {round}");
    }
}

#[test]
fn a_requested_drain_with_an_endless_source_leaves_nothing_queued() {
    // The stop a handler or another thread asks for does not join the source: the
    // consumers alone must not end before the source's last put.
    let machine = Machine::<u64>::builder().capacity(64).build().unwrap();
    machine.set_source(endless(0x1234_5678_9abc_def1));
    let mut rng = XorShift(0x0bad_cafe_f00d_d00d);
    for round in 0..600 {
        machine.start().unwrap();
        pause(&mut rng);
        assert!(machine.request_stop(StopMode::Drain));
        machine.wait();
        assert_drained(&machine, round);
        machine.stop(StopMode::Drain);
        assert_drained(&machine, round);
    }
}

#[test]
fn a_drain_with_several_workers_and_a_full_queue_leaves_nothing_queued() {
    // A tiny queue keeps the source blocked for room most of the time; several workers end
    // independently.
    let machine = Arc::new(
        Machine::<u64>::builder()
            .capacity(2)
            .workers(3)
            .build()
            .unwrap(),
    );
    machine.set_source(endless(0x5555_aaaa_3333_cccc));
    let mut rng = XorShift(0x7777_1111_9999_4444);
    for round in 0..400 {
        machine.start().unwrap();
        pause(&mut rng);
        machine.stop(StopMode::Drain);
        assert_drained(&machine, round);
    }
}
