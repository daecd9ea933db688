//! What happens to a fleet's queue reaches the machine's handler: an outage (`redis-server`
//! killed and restarted) and a dead letter (bytes another program wrote) each arrive as an
//! `Event::Queue`, on the machine's usual event path — counted by kind in the status, and
//! decided on by the handler like any other event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use timbr_core::io::QueueEvent;
use timbr_core::{observe::EventKind, Action, Debugger, Event, Machine, MachineState, StopMode};
use timbr_redis::{redis, RedisOptions, RedisQueue, DATUM_FIELD};
use timbr_testkit::*;

fn queue(server: &Server, stream: &str) -> RedisQueue<u64> {
    RedisQueue::connect(
        RedisOptions::new(server.url(), stream)
            .consumer("w1")
            .backoff_max(Duration::from_millis(100)),
    )
    .expect("the test's redis-server")
}

/// Writes an entry whose datum is not JSON, as a program other than timbr might.
fn put_garbage(server: &Server, stream: &str) -> String {
    redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg(DATUM_FIELD)
        .arg(b"\xff not json".as_slice())
        .query(&mut server.con())
        .unwrap()
}

#[test]
fn an_outage_and_a_dead_letter_reach_the_users_handler() {
    let mut server = Server::start();
    let queue = queue(&server, "numbers");
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let log = Arc::clone(&seen);
    let machine = Machine::<u64>::builder()
        .queue(queue.clone())
        .sink(queue.sink("numbers:results"))
        .handler(move |e: &Event| {
            log.lock().unwrap().push(e.clone());
            Action::Continue
        })
        .build()
        .unwrap();
    machine.start().unwrap();
    let count = |kind: EventKind| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|e| e.kind() == kind)
            .count()
    };

    let garbage = put_garbage(&server, "numbers");
    queue.put_all([1, 2, 3]).unwrap();
    until("the dead letter to reach the handler", || {
        count(EventKind::DeadLettered) == 1
    });
    let dead = seen
        .lock()
        .unwrap()
        .iter()
        .find_map(|e| match e {
            Event::Queue(QueueEvent::DeadLettered { id, reason }) => {
                Some((id.clone(), reason.clone()))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(dead.0, garbage);
    assert!(dead.1.starts_with("undecodable"), "{dead:?}");

    server.kill();
    until("the outage to reach the handler", || {
        count(EventKind::QueueDisconnected) >= 1
    });
    server.restart();
    until("the reconnection to reach the handler", || {
        count(EventKind::QueueReconnected) >= 1
    });
    queue.put_all([4, 5]).unwrap();
    until("every datum to be processed", || {
        machine.counts().processed >= 5
    });
    machine.stop(StopMode::Drain);

    let status = machine.status();
    assert_eq!(status.events["dead_lettered"], 1, "{:?}", status.events);
    assert!(status.events["queue_disconnected"] >= 1);
    assert!(status.events["queue_reconnected"] >= 1);
    assert_eq!(
        status.state,
        MachineState::Stopped,
        "outages do not stop it"
    );
    // The handler saw them in order: lost before found, for each connection.
    let events = seen.lock().unwrap();
    let lost = events
        .iter()
        .position(|e| e.kind() == EventKind::QueueDisconnected)
        .unwrap();
    let found = events
        .iter()
        .position(|e| e.kind() == EventKind::QueueReconnected)
        .unwrap();
    assert!(lost < found);
    assert!(
        matches!(events.last(), Some(Event::Stopped { .. })),
        "queue events come before `Stopped`: {:?}",
        events.last()
    );
    let ids = result_numbers(&server);
    for n in 1..=5 {
        assert!(ids.contains(&n), "{n} has a record: {ids:?}");
    }
}

#[test]
fn a_debugger_stops_the_machine_at_a_dead_letter_and_keeps_it() {
    let server = Server::start();
    let queue = queue(&server, "numbers");
    let machine = Machine::<u64>::builder()
        .queue(queue.clone())
        .sink(queue.sink("numbers:results"))
        .handler(Debugger)
        .build()
        .unwrap();
    machine.start().unwrap();
    let garbage = put_garbage(&server, "numbers");
    let state = machine.wait_timeout(PATIENCE);
    machine.stop(StopMode::Return);
    let MachineState::Failed(reason) = state else {
        panic!("the debugger stops the machine on the dead letter: {state:?}");
    };
    assert!(reason.contains(&garbage), "{reason}");
    let kept = machine.kept().expect("the event is kept");
    assert!(matches!(
        &kept.event,
        Event::Queue(QueueEvent::DeadLettered { id, .. }) if *id == garbage
    ));
}

/// The numbers in the records of `numbers:results`.
fn result_numbers(server: &Server) -> Vec<u64> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("numbers:results")
        .arg("-")
        .arg("+")
        .query(&mut server.con())
        .unwrap();
    reply
        .ids
        .iter()
        .map(|e| {
            let record: String = redis::from_redis_value(&e.map["record"]).unwrap();
            let array: Vec<serde_json::Value> = serde_json::from_str(&record).unwrap();
            array[0].as_u64().unwrap()
        })
        .collect()
}
