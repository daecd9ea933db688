//! Regression: composing the ready-made handlers with `.and(…)` failed with E0599 in any
//! file that did not `use timbr_core::Handler`. This file must never import it.

use timbr_core::{
    Debugger, LogAndContinue, Machine, MachineState, Stage, StageDebugger, StopWhenDone,
};

fn failing_on(bad: u64) -> Stage {
    Stage::try_new(0, "fails", ["input"], move |n: &u64| {
        if *n == bad {
            Err(format!("{n} is bad"))
        } else {
            Ok(*n)
        }
    })
    .unwrap()
}

#[test]
fn ready_made_handlers_compose_without_importing_handler() {
    // Every ready-made handler, and a composition, has `and` of its own.
    let log = LogAndContinue::default();
    let errors = log.log();
    let machine = Machine::<u64>::builder()
        .stage(failing_on(3))
        .handler(StopWhenDone::new().and(log).and(StageDebugger))
        .build()
        .unwrap();
    machine.set_source(1..=5);
    machine.start().unwrap();
    let state = machine.wait();
    assert!(matches!(state, MachineState::Failed(_)), "{state:?}");
    assert_eq!(errors.errors(), 1, "the log saw the failure");
    assert_eq!(
        machine.kept().unwrap().failure().unwrap().datum::<u64>(),
        Some(&3)
    );
    machine.stop_drain();

    let machine = Machine::<u64>::builder()
        .stage(failing_on(0))
        .handler(
            Debugger
                .and(LogAndContinue::new(4))
                .and(StopWhenDone::new()),
        )
        .build()
        .unwrap();
    machine.set_source(1..=5);
    machine.start().unwrap();
    assert_eq!(machine.wait(), MachineState::Completed);
    assert_eq!(machine.counts().processed, 5);
}
