//! The state machine, status snapshots (also under heavy traffic), per-stage statistics, and
//! the notebook's story: a stage failing on every 31st datum does not stop the machine.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use timbr_core::{
    observe::{ErrorKind, EventKind},
    sched::Threaded,
    Event, LogAndContinue, Machine, MachineState, Stage, StartError, Status, StopMode, Timing,
};

fn every_31st() -> Stage {
    Stage::try_new(1, "every_31st", ["f0"], |n: &u64| {
        if n % 31 == 0 {
            Err(format!("{n} is a multiple of 31"))
        } else {
            Ok(*n)
        }
    })
    .unwrap()
}

fn double() -> Stage {
    Stage::new(0, "double", ["input"], |n: &u64| n * 2).unwrap()
}

fn assert_consistent(s: &Status) {
    assert!(s.counts.is_balanced(), "unbalanced: {:?}", s.counts);
    assert_eq!(s.running, s.state.is_active(), "{:?}", s.state);
    if let Some(capacity) = s.queue.capacity {
        assert!(s.queue.depth as usize <= capacity, "{:?}", s.queue);
    }
}

mod notebook;
mod shape;
mod states;
mod timing;
