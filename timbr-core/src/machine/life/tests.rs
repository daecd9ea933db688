use super::*;

#[test]
fn a_life_from_start_to_settled() {
    let life = Lifecycle::default();
    assert!(!life.begin_start(2, 0).unwrap());
    assert!(life.is_running());
    assert!(matches!(
        life.begin_start(2, 0),
        Err(StartError::AlreadyRunning)
    ));
    assert!(life.request_stop(MachineState::Stopped, Mode::Drain));
    assert_eq!(life.mode(), Mode::Drain);
    assert!(life.source_must_stop());
    // A later return is stronger than a drain; a second plain stop is not.
    assert!(life.request_stop(MachineState::Stopped, Mode::Return));
    assert!(!life.request_stop(MachineState::Stopped, Mode::Return));
    assert_eq!(life.consumer_exited(), Exit::Others);
    assert_eq!(life.consumer_exited(), Exit::Last);
    assert!(
        life.is_running(),
        "the last consumer counts until the sink flushed"
    );
    assert_eq!(life.end(), MachineState::Stopped);
    assert!(!life.is_running());
    assert_eq!(
        life.wait(Some(Duration::ZERO)),
        MachineState::Stopped,
        "not settled yet: the wait times out"
    );
    drop(Settle(&life));
    assert_eq!(life.wait(None), MachineState::Stopped);
    assert!(life.begin_start(1, 0).unwrap(), "a restart");
}

#[test]
fn an_error_overrides_a_completion_in_progress() {
    let life = Lifecycle::default();
    life.begin_start(1, 0).unwrap();
    life.request_stop(MachineState::Completed, Mode::Drain);
    assert!(life.request_stop(MachineState::Failed("boom".into()), Mode::Return));
    assert_eq!(life.consumer_exited(), Exit::Last);
    assert_eq!(life.end(), MachineState::Failed("boom".into()));
}

#[test]
fn a_closed_life_refuses_puts_and_waits_for_those_in_progress() {
    let life = Lifecycle::default();
    let in_progress = life.enter_put().expect("open");
    life.close();
    assert!(life.enter_put().is_none());
    let waiter = std::thread::scope(|s| {
        let waiting = s.spawn(|| life.wait_for_puts());
        drop(in_progress);
        waiting.join()
    });
    assert!(waiter.is_ok());
}

#[test]
fn a_start_with_no_thread_fails_and_settles() {
    let life = Lifecycle::default();
    life.begin_start(3, 0).unwrap();
    life.spawn_failed(3, "no threads");
    assert_eq!(life.wait(None), MachineState::Failed("no threads".into()));
}
