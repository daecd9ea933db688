//! Calls back into a machine from its own handler or from a stage `get` runs: answered, never
//! a thread waiting for itself.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use timbr_core::{Action, Event, GetError, Machine, Stage, StopMode};

#[test]
fn a_handler_putting_on_a_full_queue_does_not_wait_for_itself() {
    for _ in 0..20 {
        let machine: Arc<OnceLock<Arc<Machine<u32>>>> = Arc::new(OnceLock::new());
        let inside = Arc::clone(&machine);
        let refused = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&refused);
        let fails = Stage::try_new(0, "fails", ["input"], |n: &u32| {
            if n % 2 == 0 {
                Err("even")
            } else {
                Ok(*n)
            }
        })
        .unwrap();
        let built = Machine::<u32>::builder()
            .capacity(1)
            .stage(fails)
            .handler(move |event: &Event| {
                if let (Event::StageFailed(_), Some(m)) = (event, inside.get()) {
                    // Requeue the failed datum's successor: the queue (capacity 1) is often full.
                    if m.try_put(1).is_err() {
                        *counted.lock().unwrap() += 1;
                    }
                }
                Action::Continue
            })
            .build()
            .unwrap();
        let m = Arc::new(built);
        machine.set(Arc::clone(&m)).ok();
        m.start().unwrap();
        for n in 0..50 {
            while m.try_put(n * 2).is_err() {
                std::thread::yield_now();
            }
        }
        m.stop(StopMode::Drain);
        let counts = m.counts();
        assert!(counts.is_balanced(), "{counts:?}");
        assert_eq!(counts.queued, 0);
        // Every refusal the handler met was an event the handler did not see again.
        let status = m.status();
        assert!(status.errors.handler == 0, "{:?}", status.errors);
    }
}

#[test]
fn get_from_a_stage_that_get_runs_is_refused() {
    let machine: Arc<OnceLock<Arc<Machine<u32>>>> = Arc::new(OnceLock::new());
    let inside = Arc::clone(&machine);
    let nested = Stage::new(0, "nested", ["input"], move |_: &u32| {
        inside
            .get()
            .and_then(|m| m.get(Duration::from_millis(1)).err())
            .map(|e| format!("{e:?}"))
    })
    .unwrap();
    let m = Arc::new(Machine::<u32>::builder().stage(nested).build().unwrap());
    machine.set(Arc::clone(&m)).ok();
    m.try_put(1).unwrap();
    m.try_put(2).unwrap();
    let record = m.get(Duration::from_secs(1)).unwrap();
    assert!(record.json().contains("Nested"), "{}", record.json());
    // The nested call took nothing: the second datum is still queued.
    assert_eq!(m.counts().queued, 1);
    assert_eq!(
        GetError::Nested.to_string(),
        "`get` cannot be called from a stage that `get` is running"
    );
}
