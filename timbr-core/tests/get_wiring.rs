//! `get` keeps the wiring it last used while the stages stay as they are (no lock, no
//! reference count per datum): a swap is still seen by the very next `get`, never tears a
//! datum in half with callers on many threads, lets the old stages go at once, and may come
//! from a stage in the middle of a `get`.

use std::sync::{Arc, OnceLock, Weak};
use std::thread;
use std::time::Duration;

use timbr_core::{Machine, Stage};

fn version(v: u64) -> [Stage; 2] {
    [
        Stage::new(0, "a", ["input"], move |_: &u64| v).unwrap(),
        Stage::new(3, "b", ["f2"], move |_: &u64| v).unwrap(),
    ]
}

fn values(record: &timbr_core::Record) -> Vec<u64> {
    serde_json::from_str(record.json()).expect("a record of numbers")
}

#[test]
fn the_next_get_sees_a_swap() {
    let machine = Machine::<u64>::builder()
        .stages(version(0))
        .build()
        .unwrap();
    let mut current = 0;
    for v in 0..300 {
        // Two gets in three follow a swap; the third, the same stages as the one before.
        if v % 3 != 0 {
            machine.set_stages(version(v)).unwrap();
            current = v;
        }
        machine.try_put(v).unwrap();
        let got = values(&machine.get(Duration::from_secs(5)).unwrap());
        assert_eq!((got[1], got[4]), (current, current), "datum {v}");
    }
}

#[test]
fn callers_on_many_threads_never_see_half_a_swap() {
    const CALLERS: usize = 4;
    const EACH: usize = 2_000;
    let machine = Arc::new(
        Machine::<u64>::builder()
            .stages(version(0))
            .build()
            .unwrap(),
    );
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let machine = Arc::clone(&machine);
            thread::spawn(move || {
                for i in 0..EACH {
                    machine.put(i as u64).unwrap();
                    // Another caller may have taken it: then this one takes theirs.
                    let record = machine.get(Duration::from_secs(10)).unwrap();
                    let v = values(&record);
                    assert_eq!(v[1], v[4], "a datum saw two wirings: {v:?}");
                }
            })
        })
        .collect();
    for v in 1..400 {
        machine.set_stages(version(v)).unwrap();
    }
    for caller in callers {
        caller.join().unwrap();
    }
    let counts = machine.counts();
    assert_eq!(counts.processed, (CALLERS * EACH) as u64, "{counts:?}");
    assert!(counts.is_balanced(), "{counts:?}");
}

#[test]
fn replaced_stages_are_let_go_at_once() {
    let held = Arc::new(());
    let in_stage = Arc::clone(&held);
    let machine = Machine::<u64>::builder()
        .stage(
            Stage::new(0, "holds", ["input"], move |x: &u64| {
                x + Arc::strong_count(&in_stage) as u64
            })
            .unwrap(),
        )
        .build()
        .unwrap();
    machine.try_put(1).unwrap();
    machine.get(Duration::from_secs(5)).unwrap();
    assert_eq!(Arc::strong_count(&held), 2);
    machine
        .set_stage(Stage::new(0, "plain", ["input"], |x: &u64| *x).unwrap())
        .unwrap();
    assert_eq!(Arc::strong_count(&held), 1, "the old stage was dropped");
}

#[test]
fn a_stage_may_swap_stages_during_a_get() {
    let this: Arc<OnceLock<Weak<Machine<u64>>>> = Arc::new(OnceLock::new());
    let me = Arc::clone(&this);
    let swapper = Stage::new(0, "swapper", ["input"], move |x: &u64| {
        if let Some(machine) = me.get().and_then(Weak::upgrade) {
            let replaced = Stage::new(0, "tens", ["input"], |x: &u64| x * 10).unwrap();
            machine.set_stage(replaced).expect("a valid stage");
        }
        *x
    })
    .unwrap();
    let machine = Arc::new(Machine::<u64>::builder().stage(swapper).build().unwrap());
    this.set(Arc::downgrade(&machine)).unwrap();
    machine.try_put(7).unwrap();
    assert_eq!(values(&machine.get(Duration::from_secs(5)).unwrap())[1], 7);
    machine.try_put(7).unwrap();
    assert_eq!(values(&machine.get(Duration::from_secs(5)).unwrap())[1], 70);
}
