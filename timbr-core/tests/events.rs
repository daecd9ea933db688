//! Every event, every ready-made handler, composition, closures, panicking handlers, kept
//! failures and their replay, and the shutdown and restart hooks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, Weak};
use std::time::Duration;

use timbr_core::{
    observe::{ErrorKind, EventKind},
    Action, Debugger, Event, Handler, LogAndContinue, Machine, MachineState, Record, Sink,
    SinkError, SourcePolicy, Stage, StageDebugger, StopMode, StopWhenDone,
};

/// A handler that remembers every event and answers with `action` for `on`.
fn recorder(on: Option<EventKind>, action: Action) -> (impl Handler, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let handler = move |e: &Event| {
        log.lock().unwrap().push(e.clone());
        if Some(e.kind()) == on {
            action
        } else {
            Action::Continue
        }
    };
    (handler, seen)
}

fn kinds(seen: &Mutex<Vec<Event>>) -> Vec<EventKind> {
    seen.lock().unwrap().iter().map(Event::kind).collect()
}

fn odd_fails() -> Stage {
    Stage::try_new(0, "halve", ["input"], |n: &u64| {
        if n % 2 == 0 {
            Ok(n / 2)
        } else {
            Err(std::io::Error::other(format!("{n} is odd")))
        }
    })
    .unwrap()
}

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

/// A stage that holds its datum until released, to fill the queue behind it.
fn gate() -> (Stage, Arc<Barrier>, Arc<Barrier>) {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (e, r) = (Arc::clone(&entered), Arc::clone(&release));
    let first = Arc::new(AtomicUsize::new(0));
    let stage = Stage::new(0, "gate", ["input"], move |n: &u64| {
        if first.fetch_add(1, Ordering::AcqRel) == 0 {
            e.wait();
            r.wait();
        }
        *n
    })
    .unwrap();
    (stage, entered, release)
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

struct Refusing;

impl Sink for Refusing {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        Err(SinkError::msg(format!("no room for {}", record.oid_hex())))
    }
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

#[test]
fn the_debugger_stops_at_the_first_error_and_keeps_everything() {
    let machine = Machine::<u64>::builder()
        .stage(odd_fails())
        .stage(Stage::new(1, "after", ["f0"], |n: &u64| n + 1).unwrap())
        .handler(Debugger)
        .build()
        .unwrap();
    for n in [2, 4, 7, 8, 10] {
        machine.put(n).unwrap();
    }
    machine.start().unwrap();
    let state = machine.wait();
    let MachineState::Failed(reason) = &state else {
        panic!("{state:?}")
    };
    assert!(reason.contains("stage `halve` (f0) failed"), "{reason}");
    assert!(!machine.is_running());
    let kept = machine.kept().unwrap();
    let failure = kept.failure().unwrap();
    assert_eq!(failure.datum::<u64>(), Some(&7));
    assert_eq!(failure.chain(), ["7 is odd"]);
    assert!(!kept.backtrace.to_string().is_empty());
    // Replay: the stage again, on this thread, with the same arguments.
    let again = failure.replay().unwrap_err();
    assert_eq!(again.to_string(), "7 is odd");
    // Nothing lost: 7's record was delivered as failed, the rest is still queued.
    let c = machine.counts();
    assert_eq!((c.processed, c.failed, c.queued), (2, 1, 2));
    assert_eq!(machine.stop(StopMode::Return), [8, 10]);
    assert!(machine.take_kept().is_some());
    assert!(machine.kept().is_none());
}

#[test]
fn replay_reruns_a_panicking_stage_on_its_captured_arguments() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let fragile = Stage::new(
        1,
        "fragile",
        ["f0", "input"],
        move |f0: &u64, input: &u64| {
            counted.fetch_add(1, Ordering::AcqRel);
            assert!(*f0 < 10, "f0 = {f0} is too big (input {input})");
            f0 + input
        },
    )
    .unwrap();
    let upstream_calls = Arc::new(AtomicUsize::new(0));
    let up = Arc::clone(&upstream_calls);
    let triple = Stage::new(0, "triple", ["input"], move |n: &u64| {
        up.fetch_add(1, Ordering::AcqRel);
        n * 3
    })
    .unwrap();
    let machine = Machine::<u64>::builder()
        .stages([triple, fragile])
        .handler(StageDebugger)
        .build()
        .unwrap();
    machine.put(5).unwrap();
    machine.start().unwrap();
    machine.wait();
    let kept = machine.take_kept().unwrap();
    let failure = kept.failure().unwrap();
    assert!(failure.error().is_panic());
    assert_eq!(failure.value::<u64>("f0"), Some(&15));
    let err = failure.replay().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("f0 = 15 is too big (input 5)"));
    assert_eq!(calls.load(Ordering::Acquire), 2, "the stage ran again");
    assert_eq!(
        upstream_calls.load(Ordering::Acquire),
        1,
        "upstream did not"
    );
    machine.stop_drain();
}

#[test]
fn the_stage_debugger_ignores_other_errors() {
    let machine = Machine::<u64>::builder()
        .sink(Refusing)
        .stage(odd_fails())
        .handler(StageDebugger)
        .build()
        .unwrap();
    for n in [2, 4, 6, 9, 10] {
        machine.put(n).unwrap();
    }
    machine.start().unwrap();
    assert!(matches!(machine.wait(), MachineState::Failed(_)));
    assert_eq!(
        machine.sink_errors(),
        4,
        "sink errors went on until the stage failed"
    );
    assert_eq!(
        machine.kept().unwrap().failure().unwrap().datum::<u64>(),
        Some(&9)
    );
    assert_eq!(machine.stop(StopMode::Return), [10]);
}

#[test]
fn a_stop_on_a_non_error_event_ends_stopped_not_failed() {
    let (handler, _) = recorder(Some(EventKind::QueueFull), Action::Stop);
    let (stage, entered, release) = gate();
    let machine = Machine::<u64>::builder()
        .capacity(1)
        .stage(stage)
        .handler(handler)
        .build()
        .unwrap();
    machine.start().unwrap();
    machine.put(1).unwrap();
    entered.wait();
    machine.put(2).unwrap();
    assert!(machine.try_put(3).is_err());
    release.wait();
    assert_eq!(machine.wait(), MachineState::Stopped);
    assert_eq!(machine.stop(StopMode::Return), [2]);
}

#[test]
fn a_panicking_handler_is_caught_counted_and_the_machine_goes_on() {
    let machine = Machine::<u64>::builder()
        .stage(odd_fails())
        .handler(|e: &Event| {
            if e.is_error() {
                panic!("handler bug");
            }
            Action::Continue
        })
        .build()
        .unwrap();
    (0..10).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    machine.stop_drain();
    let s = machine.status();
    assert_eq!(s.errors.handler, 5);
    assert_eq!(s.counts.processed + s.counts.failed, 10);
    let last = s.last_error.unwrap();
    assert_eq!(last.kind, ErrorKind::Handler);
    assert!(last.message.contains("handler bug"), "{}", last.message);
}

#[test]
fn handlers_compose_and_the_most_drastic_action_wins() {
    let a = |_: &Event| Action::Complete;
    let b = |e: &Event| {
        if e.is_error() {
            Action::Stop
        } else {
            Action::Continue
        }
    };
    let mut both = a.and(b);
    let failure_event = {
        let machine = Machine::<u64>::builder()
            .stage(odd_fails())
            .handler(Debugger)
            .build()
            .unwrap();
        machine.put(1).unwrap();
        machine.start().unwrap();
        machine.wait();
        machine.kept().unwrap().event
    };
    assert_eq!(both.handle(&failure_event), Action::Stop);
    assert_eq!(
        both.handle(&Event::Started { restart: false }),
        Action::Complete
    );
    let idle = StopWhenDone::new()
        .or_idle(Duration::from_secs(3))
        .and(StopWhenDone::new().or_idle(Duration::from_secs(1)));
    assert_eq!(idle.idle_after(), Some(Duration::from_secs(1)));
}

#[test]
fn a_handler_may_ask_its_own_machine_to_stop_without_deadlock() {
    let slot: Arc<Mutex<Weak<Machine<u64>>>> = Arc::new(Mutex::new(Weak::new()));
    let target = Arc::clone(&slot);
    let machine = Arc::new(
        Machine::<u64>::builder()
            .stage(odd_fails())
            .handler(move |e: &Event| {
                if e.is_error() {
                    if let Some(m) = target.lock().unwrap().upgrade() {
                        // On a machine thread this only asks; it never waits for itself.
                        assert!(m.stop(StopMode::Return).is_empty());
                    }
                }
                Action::Continue
            })
            .build()
            .unwrap(),
    );
    *slot.lock().unwrap() = Arc::downgrade(&machine);
    for n in [2, 3, 4] {
        machine.put(n).unwrap();
    }
    machine.start().unwrap();
    assert_eq!(machine.wait(), MachineState::Stopped);
    assert_eq!(machine.stop(StopMode::Return), [4]);
}

#[test]
fn restart_hooks_run_on_every_start_but_the_first() {
    let restarts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&restarts);
    let machine = Machine::<u64>::builder()
        .on_restart(move |s| {
            assert_eq!(s.state, MachineState::Running);
            counted.fetch_add(1, Ordering::AcqRel);
        })
        .build()
        .unwrap();
    for _ in 0..3 {
        machine.start().unwrap();
        machine.stop_drain();
    }
    assert_eq!(restarts.load(Ordering::Acquire), 2);
}

#[test]
fn handlers_can_be_replaced_while_running() {
    let machine = Machine::<u64>::builder()
        .stage(odd_fails())
        .build()
        .unwrap();
    machine.start().unwrap();
    machine.set_handler(Debugger);
    machine.put(3).unwrap();
    assert!(matches!(machine.wait(), MachineState::Failed(_)));
    machine.stop_drain();
}

#[derive(Debug)]
struct Parse(std::num::ParseIntError);

impl std::fmt::Display for Parse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the text is not a number")
    }
}

impl std::error::Error for Parse {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn a_kept_failure_has_the_whole_error_chain() {
    let parse = Stage::try_new(0, "parse", ["input"], |s: &String| {
        s.parse::<u32>().map_err(Parse)
    })
    .unwrap();
    let machine = Machine::<String>::builder()
        .stage(parse)
        .handler(Debugger)
        .build()
        .unwrap();
    machine.put("12".to_owned()).unwrap();
    machine.put("twelve".to_owned()).unwrap();
    machine.start().unwrap();
    assert!(matches!(machine.wait(), MachineState::Failed(_)));
    let kept = machine.take_kept().unwrap();
    let failure = kept.failure().unwrap();
    assert_eq!(
        failure.chain(),
        ["the text is not a number", "invalid digit found in string"]
    );
    assert_eq!(
        failure.datum::<String>().map(String::as_str),
        Some("twelve")
    );
    machine.stop_drain();
}

#[test]
fn stop_start_and_wait_from_a_handler_on_a_callers_thread_never_deadlock() {
    let slot: Arc<Mutex<Weak<Machine<u64>>>> = Arc::new(Mutex::new(Weak::new()));
    let target = Arc::clone(&slot);
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&answers);
    let machine = Arc::new(
        Machine::<u64>::builder()
            .capacity(1)
            .handler(move |e: &Event| {
                if e.kind() == EventKind::QueueFull {
                    if let Some(m) = target.lock().unwrap().upgrade() {
                        // On the caller of try_put, inside the handler: these only ask or refuse.
                        let started = m.start();
                        let state = m.wait();
                        m.stop(StopMode::Drain);
                        seen.lock().unwrap().push((started.is_err(), state));
                    }
                }
                Action::Continue
            })
            .build()
            .unwrap(),
    );
    *slot.lock().unwrap() = Arc::downgrade(&machine);
    let (stage, entered, release) = gate();
    machine.set_stage(stage).unwrap();
    machine.start().unwrap();
    machine.put(1).unwrap();
    entered.wait();
    machine.put(2).unwrap();
    assert!(machine.try_put(3).is_err());
    release.wait();
    assert_eq!(machine.wait(), MachineState::Stopped);
    assert_eq!(*answers.lock().unwrap(), [(true, MachineState::Running)]);
    machine.stop_drain();
    assert_eq!(machine.counts().processed, 2);
}

#[test]
fn stop_from_a_stage_on_the_threaded_executor_never_deadlocks() {
    let slot: Arc<Mutex<Weak<Machine<u64>>>> = Arc::new(Mutex::new(Weak::new()));
    let target = Arc::clone(&slot);
    let stopper = Stage::new(0, "stopper", ["input"], move |n: &u64| {
        if *n == 3 {
            if let Some(m) = target.lock().unwrap().upgrade() {
                m.stop(StopMode::Return);
            }
        }
        *n
    })
    .unwrap();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .executor(timbr_core::sched::Threaded::new())
            .stage(stopper)
            .build()
            .unwrap(),
    );
    *slot.lock().unwrap() = Arc::downgrade(&machine);
    (1..=5).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    assert_eq!(machine.wait(), MachineState::Stopped);
    assert_eq!(machine.stop(StopMode::Return), [4, 5]);
}

#[test]
fn a_debugger_after_stop_when_done_still_stops_at_an_error_and_keeps_it() {
    let machine = Machine::<u64>::builder()
        .stage(odd_fails())
        .handler(StopWhenDone::new().and(Debugger))
        .build()
        .unwrap();
    machine.set_source([2, 4, 6]);
    let (stage, entered, release) = gate();
    machine.set_stage(stage).unwrap();
    machine.start().unwrap();
    entered.wait();
    // The source is exhausted (completion asked) while the gate holds datum 2.
    while machine.source_state() != timbr_core::io::SourceState::Exhausted {
        std::thread::yield_now();
    }
    machine.set_stage(odd_fails()).unwrap();
    release.wait();
    assert_eq!(machine.wait(), MachineState::Completed);
    let _ = machine.stop(StopMode::Return);
    // Now with an error during the drain: the debugger's stop wins over completion.
    let machine = Machine::<u64>::builder()
        .stage(odd_fails())
        .handler(StopWhenDone::new().and(Debugger))
        .build()
        .unwrap();
    machine.set_source([2, 3, 4, 6]);
    machine.start().unwrap();
    assert!(matches!(machine.wait(), MachineState::Failed(_)));
    assert_eq!(
        machine.kept().unwrap().failure().unwrap().datum::<u64>(),
        Some(&3)
    );
    machine.stop(StopMode::Return);
    let c = machine.counts();
    assert_eq!(c.processed + c.failed + c.returned + c.queued, 4);
}

#[test]
fn panicking_shutdown_and_restart_hooks_are_caught_and_counted() {
    let machine = Machine::<u64>::builder()
        .on_shutdown(|_| panic!("shutdown hook bug"))
        .on_restart(|_| panic!("restart hook bug"))
        .build()
        .unwrap();
    machine.start().unwrap();
    machine.stop_drain();
    machine.start().unwrap();
    machine.stop_drain();
    let s = machine.status();
    assert_eq!(s.errors.handler, 3, "two shutdowns and one restart");
    assert_eq!(s.state, MachineState::Stopped);
    assert!(s.last_error.unwrap().message.contains("hook panicked"));
}
