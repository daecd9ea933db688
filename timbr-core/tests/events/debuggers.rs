//! The debuggers: stop at an error, keep it, replay the stage on its captured arguments.

use super::*;

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
