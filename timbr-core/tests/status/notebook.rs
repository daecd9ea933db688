//! The notebook's story: a stage failing on every 31st datum, a full queue, a stateful stage; the machine goes on and loses nothing.

use super::*;

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
