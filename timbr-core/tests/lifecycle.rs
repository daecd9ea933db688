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

/// A start whose run is stopped, and overtaken by another start, while it waits between
/// announcing its run and spawning its threads (here: held in its restart hook) must not
/// spawn a second set of consumers: worker `i` would then run twice at once, writing the one
/// lane of counts and the one statistics shard meant for a single thread, and the extra
/// consumers would each end the machine again (one `Stopped`, one shutdown hook, each).
#[test]
fn a_start_overtaken_by_a_stop_and_another_start_spawns_no_second_set_of_workers() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Mutex};

    const WORKERS: usize = 3;
    const DATA: u32 = 3_000;
    let hold = Arc::new(AtomicBool::new(false));
    let shutdowns = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    let machine = Arc::new(
        Machine::<u32>::builder()
            .workers(WORKERS)
            .on_restart({
                let hold = Arc::clone(&hold);
                move |_| {
                    if hold.swap(false, Ordering::SeqCst) {
                        entered_tx.lock().unwrap().send(()).unwrap();
                        release_rx.lock().unwrap().recv().unwrap();
                    }
                }
            })
            .on_shutdown({
                let shutdowns = Arc::clone(&shutdowns);
                move |_| {
                    shutdowns.fetch_add(1, Ordering::SeqCst);
                }
            })
            .build()
            .unwrap(),
    );
    machine.start().unwrap();
    machine.stop(StopMode::Drain);
    assert_eq!(shutdowns.load(Ordering::SeqCst), 1);

    hold.store(true, Ordering::SeqCst);
    let first = std::thread::spawn({
        let machine = Arc::clone(&machine);
        move || machine.start()
    });
    entered.recv_timeout(Duration::from_secs(30)).unwrap();
    // The held start's run is stopped before it has threads, and a new run starts.
    assert!(machine.stop(StopMode::Return).is_empty());
    machine.start().unwrap();
    release.send(()).unwrap();
    first.join().unwrap().unwrap();

    for n in 0..DATA {
        machine.put(n).unwrap();
    }
    machine.stop(StopMode::Drain);
    let counts = machine.status().counts;
    assert!(counts.is_balanced(), "{counts:?}");
    assert_eq!(
        counts.processed + counts.failed,
        u64::from(DATA),
        "{counts:?}"
    );
    assert_eq!(
        shutdowns.load(Ordering::SeqCst),
        2,
        "one end per run: one set of consumers"
    );
}
