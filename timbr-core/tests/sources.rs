//! Sources on their own thread: backpressure, drop policies, exhaustion, failures, and
//! stopping while blocked without losing the datum in hand.

use std::time::{Duration, Instant};

use timbr_core::io::SourceState;
use timbr_core::{ChannelSink, Machine, SourcePolicy, Stage, StopMode};

fn ids(records: &crossbeam_channel::Receiver<timbr_core::Record>) -> Vec<u64> {
    records
        .try_iter()
        .map(|r| serde_json::from_str::<Vec<u64>>(r.json()).unwrap()[0])
        .collect()
}

/// Waits (bounded) until `done` holds; the machine's own state, not a sleep, is the signal.
fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "condition not reached in 20 s");
        std::thread::yield_now();
    }
}

#[test]
fn a_source_feeds_everything_with_backpressure() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .capacity(4)
        .sink(sink)
        .build()
        .unwrap();
    machine.set_source(0..10_000_u64);
    assert_eq!(machine.source_state(), SourceState::Ready);
    machine.start().unwrap();
    wait_for(|| machine.source_state() == SourceState::Exhausted);
    machine.stop_drain();
    assert_eq!(ids(&records), (0..10_000).collect::<Vec<_>>());
    assert_eq!(machine.source_produced(), 10_000);
    let counts = machine.counts();
    assert_eq!(
        (counts.accepted, counts.processed, counts.dropped),
        (10_000, 10_000, 0)
    );
}

#[test]
fn a_source_blocked_on_a_full_queue_stops_and_resumes_without_loss() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .capacity(3)
        .sink(sink)
        .build()
        .unwrap();
    machine.start().unwrap();
    machine.stop_drain();
    machine.set_source(0..100_u64);
    // Start and stop repeatedly while the source races the consumer.
    for _ in 0..50 {
        machine.start().unwrap();
        machine.stop(StopMode::Drain);
    }
    machine.start().unwrap();
    wait_for(|| machine.source_state() == SourceState::Exhausted);
    machine.stop_drain();
    assert_eq!(
        ids(&records),
        (0..100).collect::<Vec<_>>(),
        "in order, none lost, none twice"
    );
}

#[test]
fn stop_returns_while_the_source_waits_for_room() {
    // A queue of 1, already full: the endless source blocks on its first datum, and a
    // returning stop must still join it (the test would hang otherwise) and lose nothing.
    let machine = Machine::<u64>::builder().capacity(1).build().unwrap();
    machine.set_source(0..);
    machine.try_put(u64::MAX).unwrap();
    machine.start().unwrap();
    let back = machine.stop(StopMode::Return);
    let counts = machine.counts();
    assert!(counts.is_balanced(), "{counts:?}");
    assert_eq!(counts.accepted, counts.processed + back.len() as u64);
    assert_eq!(counts.queued + counts.in_flight, 0);
}

#[test]
fn drop_policies_count_what_they_drop() {
    for policy in [SourcePolicy::DropNewest, SourcePolicy::DropOldest] {
        let (sink, records) = ChannelSink::unbounded();
        let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
        let stage_gate = std::sync::Arc::clone(&gate);
        let machine = Machine::<u64>::builder()
            .capacity(10)
            .source_policy(policy)
            .stage(
                Stage::new(0, "slow_first", ["input"], move |x: &u64| {
                    if *x == 0 {
                        stage_gate.wait(); // hold the consumer until the source is done
                    }
                    *x
                })
                .unwrap(),
            )
            .sink(sink)
            .build()
            .unwrap();
        // Datum 0 holds the only consumer; then the source floods the queue.
        machine.try_put(0).unwrap();
        machine.start().unwrap();
        wait_for(|| machine.counts().in_flight == 1);
        machine.set_source(1..1000_u64);
        wait_for(|| machine.source_state() == SourceState::Exhausted);
        gate.wait();
        machine.stop_drain();
        let counts = machine.counts();
        let delivered = ids(&records);
        assert_eq!(counts.accepted, 1000, "{policy:?}");
        assert_eq!(counts.dropped, 1000 - 11, "{policy:?}: {counts:?}");
        assert_eq!(counts.processed as usize, delivered.len());
        assert_eq!(counts.processed + counts.dropped, 1000, "{policy:?}");
        assert!(counts.is_balanced());
        if policy == SourcePolicy::DropOldest {
            assert_eq!(delivered.last(), Some(&999), "the newest survives");
        } else {
            assert!(
                delivered.iter().all(|&x| x <= 11),
                "the oldest survive: {delivered:?}"
            );
        }
    }
}

#[test]
fn failing_and_panicking_sources_are_reported() {
    let machine = Machine::<u64>::new();
    machine.set_try_source([Ok(1), Ok(2), Err("disk on fire"), Ok(3)]);
    machine.start().unwrap();
    wait_for(|| matches!(machine.source_state(), SourceState::Failed(_)));
    assert_eq!(
        machine.source_state(),
        SourceState::Failed("disk on fire".into())
    );
    machine.stop_drain();
    assert_eq!(machine.counts().processed, 2);

    machine.set_source((0..5_u64).map(|x| {
        if x == 3 {
            panic!("source bug at {x}")
        } else {
            x
        }
    }));
    machine.start().unwrap();
    wait_for(|| matches!(machine.source_state(), SourceState::Failed(_)));
    assert_eq!(
        machine.source_state(),
        SourceState::Failed("panicked: source bug at 3".into())
    );
    machine.stop_drain();
    assert_eq!(machine.counts().processed, 5);
}
