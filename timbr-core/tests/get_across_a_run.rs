//! A `get` that waits on an empty queue while another thread starts and stops the machine:
//! a stop wakes one take per consumer, and the `get`'s take, waiting on the same queue, can
//! take such a wake-up. Had it kept it and gone on waiting, a consumer asleep in a take
//! without a deadline would never see the stop, and the stop would never return. Many runs
//! with 1 to 4 workers, stopped by `stop(Drain)`, `stop(Return)` or `request_stop` then
//! `wait`; each stop and each `get` is waited for on its own thread with a generous
//! deadline, so a hang fails the test instead of blocking it. Nothing is lost either way:
//! the datum put after the run is the `get`'s record, or still queued.
//!
//! On the built-in queue the `get` and the start begin together (the `get` usually waits
//! first); on a given queue that says when its first take begins, the start waits for the
//! `get`'s take: the interleaving is certain.

use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use timbr_core::io::Taken;
use timbr_core::{
    GetError, Machine, MachineState, MemoryQueue, NullSink, PutTimeoutError, Queue, Record, Stage,
    StopMode, TryPutError,
};

/// How long a stop or a `get` may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(20);
const ITERATIONS: usize = 600;

/// How the run ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Stop(StopMode),
    /// `request_stop(Drain)`, then `wait`: the stop's wake-ups alone (a joining `stop` sends
    /// more), then a `stop` that joins the threads.
    RequestThenWait,
}

fn ending(i: usize) -> Ending {
    match i % 3 {
        0 => Ending::Stop(StopMode::Drain),
        1 => Ending::Stop(StopMode::Return),
        _ => Ending::RequestThenWait,
    }
}

/// Ends the run on another thread; fails the test if it does not end in time.
fn end_within_deadline(machine: &Arc<Machine<u64>>, how: Ending, what: &str) {
    let (done_tx, done_rx) = mpsc::channel();
    let stopping = Arc::clone(machine);
    // Not joined if it hangs: the test fails, and the process ends with it.
    std::thread::spawn(move || {
        let state = match how {
            Ending::Stop(mode) => {
                stopping.stop(mode);
                stopping.state()
            }
            Ending::RequestThenWait => {
                stopping.request_stop(StopMode::Drain);
                let state = stopping.wait();
                stopping.stop(StopMode::Drain);
                state
            }
        };
        let _ = done_tx.send(state);
    });
    match done_rx.recv_timeout(DEADLINE) {
        Ok(state) => assert_eq!(state, MachineState::Stopped, "{what}"),
        Err(_) => panic!(
            "{what}: the run did not end within {DEADLINE:?} (a waiting `get` kept a \
             consumer's wake-up?)"
        ),
    }
}

/// The built-in queue wrapped: says when its first take begins (before a start, the only
/// take is the `get`'s).
struct Announcing {
    queue: MemoryQueue<u64>,
    first_take: Mutex<Option<mpsc::Sender<()>>>,
}

impl Queue<u64> for Announcing {
    fn try_put(&self, datum: u64) -> Result<(), TryPutError<u64>> {
        self.queue.try_put(datum)
    }
    fn put_until(&self, datum: u64, at: Option<Instant>) -> Result<(), PutTimeoutError<u64>> {
        self.queue.put_until(datum, at)
    }
    fn close(&self) {
        self.queue.close();
    }
    fn take(&self, deadline: Option<Instant>) -> Taken<u64> {
        if let Some(taking) = self.first_take.lock().unwrap().take() {
            let _ = taking.send(());
        }
        self.queue.take(deadline)
    }
    fn try_take(&self) -> Option<u64> {
        self.queue.try_take()
    }
    fn wake_takers(&self, n: usize) {
        self.queue.wake_takers(n);
    }
    fn len(&self) -> usize {
        self.queue.len()
    }
    fn capacity(&self) -> Option<usize> {
        self.queue.capacity()
    }
}

/// Starts `machine` once a `get` on another thread waits (or, with no `taking`, as it
/// begins); returns the `get`'s answer.
fn get_across_a_run(
    machine: &Arc<Machine<u64>>,
    taking: Option<mpsc::Receiver<()>>,
    how: Ending,
    what: &str,
) -> mpsc::Receiver<Result<Record, GetError>> {
    let together = Arc::new(Barrier::new(2));
    let (get_tx, get_rx) = mpsc::channel();
    {
        let (machine, together) = (Arc::clone(machine), Arc::clone(&together));
        std::thread::spawn(move || {
            together.wait();
            let _ = get_tx.send(machine.get(DEADLINE));
        });
    }
    together.wait();
    if let Some(taking) = taking {
        let waits = taking.recv_timeout(DEADLINE);
        assert!(waits.is_ok(), "{what}: the `get` never began to wait");
    }
    machine.start().unwrap();
    end_within_deadline(machine, how, what);
    get_rx
}

#[test]
fn a_waiting_get_never_keeps_a_stop_from_the_consumers() {
    let (mut got, mut refused) = (0, 0);
    for i in 0..ITERATIONS {
        let workers = 1 + i % 4;
        let how = ending(i);
        let announced = i % 2 == 1;
        let queue = if announced { "a given" } else { "the built-in" };
        let what = format!("iteration {i} ({workers} workers, {how:?}, {queue} queue)");
        let builder = Machine::<u64>::builder()
            .workers(workers)
            .sink(NullSink)
            .stage(Stage::new(0, "same", ["input"], |n: &u64| *n).unwrap());
        let (builder, taking) = if announced {
            let (tx, rx) = mpsc::channel();
            let queue = Announcing {
                queue: MemoryQueue::new(16),
                first_take: Mutex::new(Some(tx)),
            };
            (builder.queue(queue), Some(rx))
        } else {
            (builder, None)
        };
        let machine = Arc::new(builder.build().unwrap());
        let get = get_across_a_run(&machine, taking, how, &what);
        // After the run: the datum for a `get` still waiting.
        machine.put(i as u64).unwrap();
        match get.recv_timeout(DEADLINE + DEADLINE) {
            Ok(Ok(record)) => {
                assert!(record.is_ok(), "{what}: {record:?}");
                assert_eq!(machine.len(), 0, "{what}");
                got += 1;
            }
            // It met the running machine: the datum waits in the queue.
            Ok(Err(GetError::Running)) => {
                assert_eq!(machine.len(), 1, "{what}");
                refused += 1;
            }
            Ok(Err(e)) => panic!("{what}: the `get` failed: {e}"),
            Err(_) => panic!("{what}: the `get` did not return within {DEADLINE:?}"),
        }
    }
    // Both kinds are expected; how many of each depends on the scheduler.
    eprintln!("{got} gets waited through a run and took the datum after it, {refused} met it");
}
