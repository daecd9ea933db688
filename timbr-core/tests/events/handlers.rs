//! Handlers: panics caught, composition, replacement while running, stop/start/wait from a handler without deadlock, kept error chains, the shutdown and restart hooks.

use super::*;

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
