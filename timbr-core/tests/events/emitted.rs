//! The events a machine raises: stage failures, serialization, a full queue, drops, sources, sinks, idleness, completion.

use super::*;

#[test]
fn started_stopped_and_stage_failed_events_with_the_datum() {
    let (handler, seen) = recorder(None, Action::Continue);
    let machine = Machine::<u64>::builder()
        .stage(odd_fails())
        .handler(handler)
        .build()
        .unwrap();
    for n in [2, 3, 4] {
        machine.put(n).unwrap();
    }
    machine.start().unwrap();
    machine.stop_drain();
    machine.start().unwrap();
    machine.stop_drain();
    let events = seen.lock().unwrap().clone();
    let kinds: Vec<_> = events.iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Started,
            EventKind::StageFailed,
            EventKind::Stopped,
            EventKind::Started,
            EventKind::Stopped
        ]
    );
    assert!(matches!(events[0], Event::Started { restart: false }));
    assert!(matches!(events[3], Event::Started { restart: true }));
    let failure = events[1].failure().unwrap();
    assert_eq!(failure.datum::<u64>(), Some(&3));
    assert_eq!((failure.slot(), failure.stage()), (0, "halve"));
    assert_eq!(failure.error().to_string(), "3 is odd");
    assert!(events[1].is_error());
    assert!(matches!(
        &events[2],
        Event::Stopped {
            state: MachineState::Stopped
        }
    ));
}

#[test]
fn serialization_failures_are_events_not_failures() {
    let (handler, seen) = recorder(None, Action::Continue);
    // JSON object keys must be strings: this map cannot be serialized.
    let pairs = Stage::new(0, "pairs", ["input"], |n: &u64| {
        HashMap::from([((*n, *n), 1_u8)])
    })
    .unwrap();
    let machine = Machine::<u64>::builder()
        .stage(pairs)
        .handler(handler)
        .build()
        .unwrap();
    let record = {
        machine.put(1).unwrap();
        machine.get(Duration::from_secs(1)).unwrap()
    };
    assert!(record.is_ok(), "no stage failed");
    assert_eq!(record.unserializable()[0].key, "f0_s");
    assert!(record.json().contains("_exception"));
    let events = seen.lock().unwrap().clone();
    let Event::SerializationFailed { key, message, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(key, "f0_s");
    assert!(message.contains("key must be a string"), "{message}");
    // The record hands the message over as is: nobody parses its JSON back.
    let unserializable = &record.unserializable()[0];
    assert_eq!(&unserializable.message, message);
    let entry: serde_json::Value = serde_json::from_str(&unserializable.text).unwrap();
    assert_eq!(entry["_exception"], message.as_str());
    let s = machine.status();
    assert_eq!(s.errors.serialization, 1);
    assert_eq!(s.counts.processed, 1);
    assert_eq!(s.last_error.unwrap().kind, ErrorKind::Serialization);
}

#[test]
fn queue_full_on_try_put_is_an_event_and_the_datum_comes_back() {
    let (handler, seen) = recorder(None, Action::Continue);
    let machine = Machine::<u64>::builder()
        .capacity(1)
        .handler(handler)
        .build()
        .unwrap();
    machine.try_put(1).unwrap();
    let back = machine.try_put(2).unwrap_err();
    assert_eq!(back.into_inner(), 2);
    assert_eq!(kinds(&seen), [EventKind::QueueFull]);
    assert!(matches!(
        seen.lock().unwrap()[0],
        Event::QueueFull { capacity: Some(1) }
    ));
    assert!(!seen.lock().unwrap()[0].is_error());
}

#[test]
fn dropped_and_source_exhausted_events() {
    let (handler, seen) = recorder(None, Action::Continue);
    let (stage, entered, release) = gate();
    let machine = Machine::<u64>::builder()
        .capacity(2)
        .stage(stage)
        .source_policy(SourcePolicy::DropNewest)
        .handler(handler)
        .build()
        .unwrap();
    machine.set_source(0..10);
    machine.start().unwrap();
    entered.wait();
    // The gate holds datum 0; the queue holds 2; the source drops the rest.
    while machine.source_state() != timbr_core::io::SourceState::Exhausted {
        std::thread::yield_now();
    }
    release.wait();
    machine.stop_drain();
    let kinds = kinds(&seen);
    let c = machine.counts();
    // The gate holds one datum and the queue two: 3 survive, unless the source filled the
    // queue before the gate took its first datum (then 2).
    assert!(c.processed == 3 || c.processed == 2, "{c:?}");
    assert_eq!(c.processed + c.dropped, 10);
    let dropped = kinds.iter().filter(|&&k| k == EventKind::Dropped).count();
    assert_eq!(dropped as u64, c.dropped);
    assert!(kinds.contains(&EventKind::SourceExhausted));
    assert!(c.is_balanced());
}

#[test]
fn a_failing_source_is_an_error_event() {
    let (handler, seen) = recorder(Some(EventKind::SourceFailed), Action::Stop);
    let machine = Machine::<u64>::builder().handler(handler).build().unwrap();
    machine.set_try_source([Ok(1), Ok(2), Err("disk on fire")]);
    machine.start().unwrap();
    let state = machine.wait_timeout(Duration::from_secs(60));
    assert_eq!(
        state,
        MachineState::Failed("source failed: disk on fire".to_owned())
    );
    machine.stop_drain();
    assert!(kinds(&seen).contains(&EventKind::SourceFailed));
    let s = machine.status();
    assert_eq!(s.errors.source, 1);
    assert_eq!(s.last_error.unwrap().kind, ErrorKind::Source);
    assert!(s.counts.is_balanced());
}

#[test]
fn sink_failures_are_events_and_never_lose_the_count() {
    let (handler, seen) = recorder(None, Action::Continue);
    let machine = Machine::<u64>::builder()
        .sink(Refusing)
        .handler(handler)
        .build()
        .unwrap();
    (0..5).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    machine.stop_drain();
    let sink_events = kinds(&seen)
        .into_iter()
        .filter(|&k| k == EventKind::SinkFailed)
        .count();
    assert_eq!(sink_events, 5);
    assert_eq!(machine.sink_errors(), 5);
    assert!(machine
        .last_sink_error()
        .unwrap()
        .starts_with("no room for"));
    assert_eq!(machine.counts().processed, 5);
}

#[test]
fn idle_events_and_stop_when_done_after_idle() {
    let (recorder, seen) = recorder(None, Action::Continue);
    let machine = Machine::<u64>::builder()
        .tick(Duration::from_millis(5))
        .handler(
            StopWhenDone::new()
                .or_idle(Duration::from_millis(50))
                .and(recorder),
        )
        .build()
        .unwrap();
    (0..100).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    assert_eq!(
        machine.wait_timeout(Duration::from_secs(30)),
        MachineState::Completed
    );
    machine.stop_drain();
    let kinds = kinds(&seen);
    let idle = kinds.iter().position(|&k| k == EventKind::Idle).unwrap();
    assert_eq!(
        &kinds[idle..],
        [EventKind::Idle, EventKind::Completed, EventKind::Stopped]
    );
    assert_eq!(machine.counts().processed, 100);
}

#[test]
fn stop_when_done_completes_when_the_source_is_exhausted_and_drained() {
    for workers in [1, 3] {
        let log = LogAndContinue::new(10);
        let errors = log.log();
        let shutdowns = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&shutdowns);
        let machine = Machine::<u64>::builder()
            .workers(workers)
            .capacity(8)
            .stage(odd_fails())
            .handler(StopWhenDone::new().and(log))
            .on_shutdown(move |s| {
                assert_eq!(s.state, MachineState::Completed);
                assert_eq!(s.counts.processed + s.counts.failed, 1000);
                counted.fetch_add(1, Ordering::AcqRel);
            })
            .build()
            .unwrap();
        machine.set_source(0..1000);
        machine.start().unwrap();
        assert_eq!(machine.wait(), MachineState::Completed);
        assert!(!machine.is_running());
        let c = machine.counts();
        assert_eq!((c.processed, c.failed, c.queued), (500, 500, 0));
        assert_eq!(errors.count(EventKind::StageFailed), 500);
        assert_eq!(errors.count(EventKind::Completed), 1);
        assert_eq!(errors.recent().len(), 10);
        machine.stop_drain();
        assert_eq!(shutdowns.load(Ordering::Acquire), 1);
        assert_eq!(
            machine.state(),
            MachineState::Completed,
            "stop keeps the outcome"
        );
    }
}
