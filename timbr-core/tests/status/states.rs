//! The state machine, and snapshots that balance under heavy traffic.

use super::*;

#[test]
fn the_state_machine_follows_start_stop_and_restart() {
    let machine = Machine::<u64>::builder().build().unwrap();
    assert_eq!(machine.state(), MachineState::Idle);
    assert!(!machine.is_running());
    machine.start().unwrap();
    assert_eq!(machine.state(), MachineState::Running);
    assert!(machine.is_running());
    assert!(matches!(machine.start(), Err(StartError::AlreadyRunning)));
    machine.stop_drain();
    assert_eq!(machine.state(), MachineState::Stopped);
    assert!(!machine.is_running());
    machine.stop_drain();
    assert_eq!(machine.state(), MachineState::Stopped, "stop is idempotent");
    machine.start().unwrap();
    assert_eq!(machine.state(), MachineState::Running);
    let status = machine.status();
    assert_consistent(&status);
    assert!(status.started_at.is_some());
    machine.stop(StopMode::Return);
    assert_eq!(machine.state(), MachineState::Stopped);
    // A stopped machine waits for nothing.
    assert_eq!(machine.wait(), MachineState::Stopped);
}

#[test]
fn is_running_and_the_state_agree_under_concurrent_start_and_stop() {
    let machine = Arc::new(Machine::<u64>::builder().workers(2).build().unwrap());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (machine, done) = (Arc::clone(&machine), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut seen = 0;
            while !done.load(Ordering::Acquire) {
                assert_consistent(&machine.status());
                seen += 1;
            }
            seen
        })
    };
    for i in 0..200 {
        let _ = machine.start();
        machine.put(i).unwrap();
        if i % 2 == 0 {
            machine.stop(StopMode::Drain);
        } else {
            machine.stop(StopMode::Return);
        }
        assert!(!machine.is_running());
        assert!(!machine.state().is_active());
    }
    done.store(true, Ordering::Release);
    assert!(watcher.join().unwrap() > 0);
    assert!(machine.counts().is_balanced());
}

#[test]
fn snapshots_taken_during_heavy_traffic_always_balance() {
    heavy_traffic(false);
}

#[test]
fn snapshots_taken_during_heavy_traffic_always_balance_threaded_and_ordered() {
    heavy_traffic(true);
}

fn heavy_traffic(threaded: bool) {
    const N: u64 = 30_000;
    let builder = Machine::<u64>::builder()
        .workers(2)
        .capacity(64)
        .ordered(threaded)
        .stages([double(), every_31st()]);
    let builder = if threaded {
        builder.executor(Threaded::new())
    } else {
        builder
    };
    let machine = Arc::new(builder.build().unwrap());
    machine.start().unwrap();
    let producer = {
        let putter = machine.putter();
        std::thread::spawn(move || (1..=N).for_each(|n| putter.put(n).unwrap()))
    };
    let observers: Vec<_> = (0..2)
        .map(|_| {
            let machine = Arc::clone(&machine);
            std::thread::spawn(move || {
                let mut last_done = 0;
                let mut snapshots = 0;
                loop {
                    let s = machine.status();
                    assert_consistent(&s);
                    let done = s.counts.processed + s.counts.failed;
                    assert!(done >= last_done, "finished data went down");
                    last_done = done;
                    // Stage statistics are read after the counts, and a datum's calls are
                    // counted before the datum is: never fewer calls than finished data.
                    assert!(s.stages[0].calls >= done, "{} < {done}", s.stages[0].calls);
                    // Each worker shows at most its own datum.
                    assert!(s.current.len() <= 2);
                    snapshots += 1;
                    std::thread::yield_now();
                    if done == N {
                        return snapshots;
                    }
                }
            })
        })
        .collect();
    producer.join().unwrap();
    for o in observers {
        assert!(o.join().unwrap() > 0);
    }
    machine.stop_drain();
    let s = machine.status();
    assert_consistent(&s);
    assert_eq!(s.counts.accepted, N);
    assert_eq!(s.counts.failed, N / 31);
    assert_eq!(s.counts.processed, N - N / 31);
    assert_eq!(s.stages[0].calls, N);
    assert_eq!(s.stages[1].calls, N);
    assert_eq!(s.stages[1].errors, N / 31);
    assert_eq!(s.errors.stage, N / 31);
    assert!(s.current.is_empty());
    assert!(s.last_oid.is_some());
}
