//! The state machine, status snapshots (also under heavy traffic), per-stage statistics, and
//! the notebook's story: a stage failing on every 31st datum does not stop the machine.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use timbr_core::{
    observe::{ErrorKind, EventKind},
    sched::Threaded,
    Event, LogAndContinue, Machine, MachineState, Stage, StartError, Status, StopMode, Timing,
};

fn every_31st() -> Stage {
    Stage::try_new(1, "every_31st", ["f0"], |n: &u64| {
        if n % 31 == 0 {
            Err(format!("{n} is a multiple of 31"))
        } else {
            Ok(*n)
        }
    })
    .unwrap()
}

fn double() -> Stage {
    Stage::new(0, "double", ["input"], |n: &u64| n * 2).unwrap()
}

fn assert_consistent(s: &Status) {
    assert!(s.counts.is_balanced(), "unbalanced: {:?}", s.counts);
    assert_eq!(s.running, s.state.is_active(), "{:?}", s.state);
    if let Some(capacity) = s.queue.capacity {
        assert!(s.queue.depth as usize <= capacity, "{:?}", s.queue);
    }
}

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

/// The notebook's story: a fast producer, a stage raising on every 31st datum. The
/// notebook's machine died there; this one keeps going, and its status says what happened.
#[test]
fn the_notebook_story_a_stage_failing_every_31st_datum() {
    const N: u64 = 31 * 300;
    let log = LogAndContinue::new(5);
    let errors = log.log();
    let machine = Machine::<u64>::builder()
        .name("notebook")
        .stages([double(), every_31st()])
        .handler(log)
        .build()
        .unwrap();
    machine.start().unwrap();
    let putter = machine.putter();
    std::thread::spawn(move || (1..=N).for_each(|n| putter.put(n).unwrap()))
        .join()
        .unwrap();
    // Still running after all those failures.
    while machine.counts().processed + machine.counts().failed < N {
        assert!(machine.is_running());
        std::thread::yield_now();
    }
    let s = machine.status();
    assert_eq!(s.state, MachineState::Running);
    assert_eq!(s.errors.stage, N / 31);
    assert_eq!(s.counts.failed, N / 31);
    assert_eq!(s.counts.processed + s.counts.failed, N);
    let last = s.last_error.clone().unwrap();
    assert_eq!(last.kind, ErrorKind::Stage);
    assert_eq!(last.stage.as_deref(), Some("every_31st"));
    assert_eq!(last.slot, Some(1));
    assert!(
        last.message.ends_with("is a multiple of 31"),
        "{}",
        last.message
    );
    assert!(last.oid.is_some());
    assert_eq!(errors.count(EventKind::StageFailed), N / 31);
    let kept = errors.recent();
    assert_eq!(kept.len(), 5, "the ring keeps the last five");
    let Event::StageFailed(f) = &kept[4].event else {
        panic!("{:?}", kept[4].event)
    };
    assert_eq!(f.datum::<u64>(), Some(&N), "the last failing datum");
    machine.stop_drain();
    let s = machine.status();
    assert_eq!(s.state, MachineState::Stopped);
    assert!(s.counts.is_balanced());
    assert_eq!(s.counts.accepted, N, "nothing lost");
    let text = s.to_string();
    assert!(text.contains("every_31st"), "{text}");
}

/// The second an oid was made in.
fn second_of(oid: bson::oid::ObjectId) -> u32 {
    let b = oid.bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The default timing: one datum in 64 on a thread, and the first of every second in which
/// none was timed, so a slow pipeline gets latencies too. Which data were timed is worked
/// out from their oids, so the test holds however the seconds fall.
#[test]
fn the_default_timing_samples_one_in_64_and_one_a_second() {
    let machine = Machine::<u64>::builder().stage(double()).build().unwrap();
    let (mut expected, mut last_timed) = (0_u64, None);
    let mut n = 0_u64;
    let mut process = |machine: &Machine<u64>| {
        machine.put(n).unwrap();
        let second = second_of(machine.get(Duration::from_secs(5)).unwrap().oid());
        if n % 64 == 0 || last_timed != Some(second) {
            expected += 1;
            last_timed = Some(second);
        }
        n += 1;
        (expected, second)
    };
    let mut last = (0, 0);
    for _ in 0..200 {
        last = process(&machine);
    }
    assert_eq!(machine.status().stages[0].latency.samples, last.0);
    assert!(
        last.0 >= 4,
        "one in 64 of 200 (n = 0, 64, 128, 192), and each second's first"
    );
    // A datum in a later second is timed, whatever its number.
    while second_of(bson::oid::ObjectId::new()) == last.1 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (after, _) = process(&machine);
    assert_eq!(after, last.0 + 1);
    assert_eq!(machine.status().stages[0].latency.samples, after);
}

#[test]
fn per_stage_statistics_time_what_they_are_asked_to() {
    let slow = Stage::new(0, "slow", ["input"], |n: &u64| {
        std::thread::sleep(Duration::from_millis(2));
        *n
    })
    .unwrap();
    for (timing, expected) in [(Timing::All, 20), (Timing::Sampled(4), 5), (Timing::Off, 0)] {
        let machine = Machine::<u64>::builder()
            .stage(slow.clone())
            .stage(every_31st())
            .timing(timing)
            .build()
            .unwrap();
        (1..=20).for_each(|n| machine.put(n).unwrap());
        machine.start().unwrap();
        machine.stop_drain();
        let s = machine.status();
        let slow = &s.stages[0];
        assert_eq!((slow.slot, slow.name.as_str(), slow.calls), (0, "slow", 20));
        assert_eq!(slow.latency.samples, expected, "{timing:?}");
        if expected > 0 {
            let l = slow.latency;
            // Histogram values are within 1/32 of the truth.
            assert!(l.p50 >= Duration::from_micros(2000 * 31 / 32), "{l:?}");
            assert!(l.p50 <= l.p99 && l.p99 <= l.max && l.mean <= l.max, "{l:?}");
        }
    }
}

#[test]
fn the_current_datum_is_visible_while_a_stage_works_on_it() {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (e, r) = (Arc::clone(&entered), Arc::clone(&release));
    let stuck = Stage::new(0, "stuck", ["input"], move |n: &u64| {
        e.wait();
        r.wait();
        *n
    })
    .unwrap();
    let machine = Machine::<u64>::builder()
        .stage(stuck)
        .executor(Threaded::new())
        .build()
        .unwrap();
    machine.put(7).unwrap();
    machine.start().unwrap();
    entered.wait();
    let s = machine.status();
    assert_eq!(s.current.len(), 1);
    assert_eq!(s.counts.in_flight, 1);
    let oid = s.current[0].oid.clone();
    assert_eq!(oid.len(), 24);
    release.wait();
    machine.stop_drain();
    let s = machine.status();
    assert!(s.current.is_empty());
    assert_eq!(s.last_oid, Some(oid));
}

#[test]
fn status_serializes_and_round_trips() {
    let machine = Machine::<u64>::builder()
        .name("serde")
        .stages([double(), every_31st()])
        .build()
        .unwrap();
    (1..=62).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    machine.stop_drain();
    let s = machine.status();
    let json = serde_json::to_string(&s).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["state"], "stopped");
    assert!(
        v.get("reason").is_none(),
        "only a failed machine has a reason"
    );
    assert_eq!(v["counts"]["failed"], 2);
    assert_eq!(v["stages"][1]["name"], "every_31st");
    assert!(v["uptime"].is_f64());
    assert!(v["started_at"].as_str().unwrap().ends_with('Z'));
    let back: Status = serde_json::from_str(&json).unwrap();
    assert_eq!(back.counts, s.counts);
    assert_eq!(back.state, s.state);
    assert_eq!(back.stages[1].errors, 2);
    let (a, b) = (back.last_error.unwrap(), s.last_error.unwrap());
    assert_eq!((a.kind, a.message, a.oid), (b.kind, b.message, b.oid));
}

#[test]
fn status_json_has_the_state_flat_not_nested() {
    let machine = Machine::<u64>::builder()
        .stages([double(), every_31st()])
        .handler(timbr_core::Debugger)
        .build()
        .unwrap();
    (1..=62).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    let state = machine.wait();
    assert!(matches!(state, MachineState::Failed(_)), "{state:?}");
    let s = machine.status();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["state"], "failed");
    let reason = v["reason"].as_str().expect("a failed machine says why");
    assert!(reason.contains("every_31st"), "{reason}");
    let back: Status = serde_json::from_value(v).unwrap();
    assert_eq!(back.state, s.state);
    assert_eq!(back.counts, s.counts);
}

#[test]
fn rates_and_uptime_are_measured() {
    let machine = Machine::<u64>::builder()
        .tick(Duration::from_millis(5))
        .build()
        .unwrap();
    machine.start().unwrap();
    for n in 0..2000 {
        machine.put(n).unwrap();
    }
    while machine.counts().processed < 2000 {
        std::thread::yield_now();
    }
    let s = machine.status();
    assert!(s.uptime > Duration::ZERO);
    assert!(s.rate.overall > 0.0, "{:?}", s.rate);
    assert!(
        s.rate.recent > 0.0,
        "the window starts at the start: {:?}",
        s.rate
    );
    machine.stop_drain();
    let stopped = machine.status();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        machine.status().uptime,
        stopped.uptime,
        "uptime stops with the machine"
    );
}

struct Seen(std::sync::atomic::AtomicU64);

impl timbr_core::StatusPlugin for Seen {
    fn name(&self) -> &str {
        "seen"
    }

    fn fields(&self, status: &Status) -> serde_json::Value {
        serde_json::json!({ "done": status.counts.processed, "ticks": self.0.load(Ordering::Relaxed) })
    }

    fn part(
        &self,
        _: &Status,
        fields: &serde_json::Value,
    ) -> Option<timbr_core::observe::DisplayPart> {
        Some(timbr_core::observe::DisplayPart::new(
            "seen",
            format!("seen       {}", fields["done"]),
            format!("<p>seen {}</p>", fields["done"]),
        ))
    }

    fn tick(&self, _: &Status) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

struct Broken;

impl timbr_core::StatusPlugin for Broken {
    fn name(&self) -> &str {
        "broken"
    }

    fn fields(&self, _: &Status) -> serde_json::Value {
        panic!("plugin bug")
    }

    fn tick(&self, _: &Status) {
        panic!("plugin bug")
    }
}

#[test]
fn plugins_add_fields_and_parts_and_a_broken_one_harms_nothing() {
    let machine = Machine::<u64>::builder()
        .tick(Duration::from_millis(1))
        .plugin(Broken)
        .plugin(Seen(Default::default()))
        .build()
        .unwrap();
    (0..10).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    while machine.status().plugins["seen"]["ticks"] == 0 {
        std::thread::yield_now();
    }
    machine.stop_drain();
    let s = machine.status();
    assert_eq!(s.plugins["seen"]["done"], 10);
    assert!(!s.plugins.contains_key("broken"));
    assert_eq!(s.parts.len(), 1);
    assert!(s.to_string().contains("seen       10"));
    assert!(s.to_html().contains("<p>seen 10</p>"));
}

/// The notebook's story, second half: a producer as fast as it can go with `try_put` on a
/// small queue (the notebook's producer crashed on a full queue), and a stateful stage that
/// remembers the last 50 and fails on every 31st call. The producer keeps every datum it is
/// handed back and retries; the machine keeps running; nothing is lost or counted twice.
#[test]
fn the_notebook_story_with_a_full_queue_and_a_stateful_stage() {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    const N: u64 = 31 * 100;
    let memory: Arc<Mutex<VecDeque<u64>>> = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let remember = {
        let (memory, calls) = (Arc::clone(&memory), Arc::clone(&calls));
        Stage::try_new(0, "remember", ["input"], move |n: &u64| {
            let call = calls.fetch_add(1, Ordering::AcqRel) + 1;
            let mut memory = memory.lock().map_err(|_| "poisoned".to_owned())?;
            memory.push_back(*n);
            if memory.len() > 50 {
                memory.pop_front();
            }
            if call % 31 == 0 {
                return Err(format!("call {call} is a 31st"));
            }
            Ok(memory.len())
        })
        .unwrap()
    };
    let log = LogAndContinue::new(3);
    let errors = log.log();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .capacity(4)
            .stage(remember)
            .handler(log)
            .build()
            .unwrap(),
    );
    machine.start().unwrap();
    let producer = {
        let machine = Arc::clone(&machine);
        std::thread::spawn(move || {
            let mut handed_back = 0_u64;
            for n in 1..=N {
                let mut datum = n;
                loop {
                    match machine.try_put(datum) {
                        Ok(()) => break,
                        Err(full) => {
                            handed_back += 1;
                            datum = full.into_inner();
                            std::thread::yield_now();
                        }
                    }
                }
            }
            handed_back
        })
    };
    let handed_back = producer.join().unwrap();
    while machine.counts().processed + machine.counts().failed < N {
        assert!(machine.is_running(), "the machine keeps running");
        std::thread::yield_now();
    }
    machine.stop_drain();
    let s = machine.status();
    assert_eq!(s.counts.accepted, N, "every datum got in, each once");
    assert_eq!(
        s.counts.rejected, handed_back,
        "each refusal handed the datum back"
    );
    assert_eq!(errors.count(EventKind::QueueFull), handed_back);
    assert_eq!(s.counts.failed, N / 31);
    assert_eq!(s.stages[0].errors, N / 31);
    assert_eq!(memory.lock().unwrap().len(), 50);
    assert_eq!(memory.lock().unwrap().back(), Some(&N));
    assert_eq!(errors.recent().len(), 3);
}

#[test]
fn events_are_counted_by_kind_and_latency_comes_in_buckets() {
    let machine = Machine::<u64>::builder()
        .stages([double(), every_31st()])
        .timing(Timing::All)
        .build()
        .unwrap();
    (1..=62).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    machine.stop_drain();
    let s = machine.status();
    assert_eq!(s.events["stage_failed"], 2);
    assert_eq!(s.events["started"], 1);
    assert_eq!(s.events["stopped"], 1);
    assert_eq!(s.events.len(), EventKind::ALL.len());
    for stage in &s.stages {
        let b = &stage.buckets;
        assert_eq!(b.counts.len(), 27);
        assert!(b
            .counts
            .windows(2)
            .all(|w| w[0].le < w[1].le && w[0].count <= w[1].count));
        // Every timed call of these stages takes less than 17 s: the last bucket holds all.
        assert_eq!(b.counts.last().unwrap().count, stage.latency.samples);
        assert_eq!(stage.latency.samples, stage.calls);
        assert!(b.sum >= stage.latency.max);
    }
    let back: Status = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back.events, s.events);
    assert_eq!(back.stages[0].buckets.counts.len(), 27);
}

#[test]
fn the_status_says_what_each_stage_reads_and_how_many_workers_there_are() {
    let machine = Machine::<u64>::builder()
        .workers(3)
        .stage(double())
        .stage(every_31st())
        .build()
        .unwrap();
    let s = machine.status();
    assert_eq!(s.workers, 3);
    let reads: Vec<&[String]> = s.stages.iter().map(|st| st.reads.as_slice()).collect();
    assert_eq!(reads, [&["in".to_owned()][..], &["f0".to_owned()][..]]);
}
