//! What is timed (sampling, per-stage statistics), the datum being worked on, events by kind and latency buckets.

use super::*;

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
