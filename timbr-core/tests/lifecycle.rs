//! Starting, stopping, restarting and dropping a machine: prompt, idempotent, nothing lost.

use std::time::Duration;

use timbr_core::{ChannelSink, GetError, Machine, Stage, StartError, StopMode};

#[test]
fn start_stop_restart_and_is_running_follow_the_threads() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u32>::builder().sink(sink).build().unwrap();
    assert!(!machine.is_running());
    machine.start().unwrap();
    assert!(machine.is_running());
    assert!(matches!(machine.start(), Err(StartError::AlreadyRunning)));
    machine.put(1).unwrap();
    assert_eq!(
        records.recv_timeout(Duration::from_secs(5)).unwrap().json(),
        "[1,1,1,1,1,1,1,1,1]"
    );
    assert!(machine.stop(StopMode::Drain).is_empty());
    assert!(!machine.is_running());
    assert!(
        machine.stop(StopMode::Drain).is_empty(),
        "stop is idempotent"
    );
    machine.start().unwrap();
    machine.put(2).unwrap();
    assert!(records
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .json()
        .starts_with("[2,"));
    machine.stop_drain();
    assert!(!machine.is_running());
}

#[test]
fn stop_can_drain_or_hand_the_queue_back() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u32>::builder().sink(sink).build().unwrap();
    for i in 0..100 {
        machine.try_put(i).unwrap();
    }
    // Not running: a returning stop hands everything back, in order.
    let back = machine.stop(StopMode::Return);
    assert_eq!(back, (0..100).collect::<Vec<_>>());
    let counts = machine.counts();
    assert_eq!(
        (counts.accepted, counts.returned, counts.queued),
        (100, 100, 0)
    );

    for i in 0..100 {
        machine.try_put(i).unwrap();
    }
    machine.start().unwrap();
    machine.stop(StopMode::Drain);
    assert_eq!(records.try_iter().count(), 100);
    let counts = machine.counts();
    assert_eq!(
        (
            counts.accepted,
            counts.processed,
            counts.queued,
            counts.in_flight
        ),
        (200, 100, 0, 0)
    );
    assert!(counts.is_balanced());
}

#[test]
fn get_takes_one_datum_when_stopped_only() {
    let machine = Machine::<u8>::new();
    assert_eq!(
        machine.get(Duration::from_millis(1)).unwrap_err(),
        GetError::Timeout
    );
    machine.try_put(9).unwrap();
    assert!(machine
        .get(Duration::from_secs(1))
        .unwrap()
        .json()
        .starts_with("[9,"));
    machine.start().unwrap();
    assert_eq!(
        machine.get(Duration::from_millis(1)).unwrap_err(),
        GetError::Running
    );
}

#[test]
fn a_full_queue_hands_the_datum_back() {
    let machine = Machine::<String>::builder().capacity(2).build().unwrap();
    machine.try_put("a".into()).unwrap();
    machine.try_put("b".into()).unwrap();
    assert!(machine.is_full());
    assert_eq!(machine.try_put("c".into()).unwrap_err().into_inner(), "c");
    assert_eq!(
        machine
            .put_timeout("d".into(), Duration::from_millis(1))
            .unwrap_err()
            .into_inner(),
        "d"
    );
    let counts = machine.counts();
    assert_eq!((counts.accepted, counts.rejected, counts.queued), (2, 2, 2));
    assert!(counts.is_balanced());
}

#[test]
fn dropping_a_running_machine_drains_and_joins() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u32>::builder().sink(sink).build().unwrap();
    machine.start().unwrap();
    for i in 0..1000 {
        machine.put(i).unwrap();
    }
    drop(machine);
    assert_eq!(
        records.iter().count(),
        1000,
        "drained on drop; the channel closes when the sink is dropped"
    );
}

#[test]
fn restart_cycles_lose_nothing() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .capacity(8)
        .workers(2)
        .stage(Stage::new(0, "id", ["input"], |x: &u64| *x).unwrap())
        .sink(sink)
        .build()
        .unwrap();
    let mut next = 0_u64;
    let mut returned = Vec::new();
    for cycle in 0..300 {
        machine.start().unwrap();
        for _ in 0..5 {
            machine.put(next).unwrap();
            next += 1;
        }
        let mode = if cycle % 2 == 0 {
            StopMode::Drain
        } else {
            StopMode::Return
        };
        returned.extend(machine.stop(mode));
        assert!(!machine.is_running());
        assert!(machine.counts().is_balanced());
    }
    let mut seen: Vec<u64> = records
        .try_iter()
        .map(|r| serde_json::from_str::<Vec<u64>>(r.json()).unwrap()[0])
        .collect();
    seen.extend(returned);
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..next).collect::<Vec<_>>(),
        "every datum delivered or returned, once"
    );
}
