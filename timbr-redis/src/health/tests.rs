//! Each transition of [`Health`]: what it counts, the event it raises, its `tracing` event.

use std::collections::BTreeMap;

use super::*;

fn recording() -> (Arc<Health>, Arc<Mutex<Vec<QueueEvent>>>) {
    let health = Health::named("s", "g", "c");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&seen);
    health.listen(Arc::new(move |e| into.lock().push(e.clone())));
    (health, seen)
}

#[test]
fn an_outage_is_counted_once_said_once_and_ends_connected() {
    let (h, seen) = recording();
    h.disconnected("reader", "refused".into());
    h.still_failing("refused again".into());
    let r = h.report();
    assert!(!r.connected);
    assert_eq!(
        (r.outages, r.last_error.as_deref()),
        (1, Some("refused again"))
    );
    h.reconnected("reader", Duration::from_secs(2));
    assert!(h.report().connected);
    let seen = seen.lock();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(matches!(&seen[0], QueueEvent::Disconnected { link, .. } if link == "reader"));
    assert!(matches!(&seen[1], QueueEvent::Reconnected { after, .. } if after.as_secs() == 2));
}

#[test]
fn a_refusal_is_said_when_it_begins_or_changes_and_cleared_per_connection() {
    let (h, seen) = recording();
    h.refused("outbox", "OOM".into(), true);
    h.refused("outbox", "OOM".into(), false);
    h.refused("writer", "OOM".into(), true);
    h.refused("outbox", "WRONGTYPE".into(), false);
    let r = h.report();
    assert!(r.connected, "a server that refuses answers");
    assert_eq!(r.refused.as_deref(), Some("outbox: WRONGTYPE; writer: OOM"));
    h.reconnected("outbox", Duration::ZERO);
    assert_eq!(h.report().refused.as_deref(), Some("writer: OOM"));
    let refusals = seen
        .lock()
        .iter()
        .filter(|e| matches!(e, QueueEvent::Refused { .. }))
        .count();
    assert_eq!(refusals, 3);
}

#[test]
fn entries_count_what_they_went_through_and_raise_their_events() {
    let (h, seen) = recording();
    h.redelivered();
    h.claimed("1-0", "w1");
    h.dead_lettered("2-0", "delivered 5 times".into(), Dead::Redelivered);
    h.deserialize_panicked();
    h.dead_lettered("3-0", "undecodable".into(), Dead::Undecodable);
    h.applied(4, 3);
    h.put(7);
    h.released();
    h.split();
    let r = h.report();
    assert_eq!(
        (
            r.redeliveries,
            r.claimed,
            r.dead_lettered,
            r.undecodable,
            r.panicked
        ),
        (1, 1, 2, 1, 1)
    );
    assert_eq!(
        (r.written, r.acked, r.put, r.released, r.split),
        (4, 3, 7, 1, 1)
    );
    assert_eq!(
        (r.stream.as_str(), r.group.as_str(), r.consumer.as_str()),
        ("s", "g", "c")
    );
    assert_eq!(
        *seen.lock(),
        [
            QueueEvent::Claimed {
                id: "1-0".into(),
                from: "w1".into()
            },
            QueueEvent::DeadLettered {
                id: "2-0".into(),
                reason: "delivered 5 times".into()
            },
            QueueEvent::DeadLettered {
                id: "3-0".into(),
                reason: "undecodable".into()
            },
        ]
    );
}

/// An event's level and fields (as text).
type Seen = (tracing::Level, BTreeMap<String, String>);

/// A subscriber keeping each event.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl tracing::Subscriber for Collect {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().push((*event.metadata().level(), fields));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn each_transition_is_a_tracing_event_with_its_fields() {
    let collect = Collect::default();
    let h = Health::named("tweets", "timbr", "w1");
    tracing::subscriber::with_default(collect.clone(), || {
        h.disconnected("reader", "connection refused".into());
        h.still_failing("connection refused".into());
        h.reconnected("reader", Duration::from_millis(1500));
        h.refused("outbox", "OOM command not allowed".into(), true);
        h.refused("outbox", "OOM command not allowed".into(), false);
        h.claimed("1-0", "w0");
        h.dead_lettered("2-0", "undecodable: no field `d`".into(), Dead::Undecodable);
        h.applied(10, 10);
    });
    let events = collect.0.lock();
    let got: Vec<(tracing::Level, &str)> = events
        .iter()
        .map(|(level, f)| (*level, f["message"].as_str()))
        .collect();
    use tracing::Level;
    assert_eq!(
        got,
        [
            (Level::WARN, "redis connection lost, retrying with backoff"),
            (Level::INFO, "redis connection back"),
            (
                Level::WARN,
                "redis refuses a command, retrying with backoff"
            ),
            (
                Level::INFO,
                "entry claimed from a consumer that left it pending"
            ),
            (Level::WARN, "entry dead-lettered"),
        ],
        "one event per transition, none for a retry or a count"
    );
    for (_, fields) in events.iter() {
        assert_eq!(fields["stream"], "tweets");
        assert_eq!(fields["group"], "timbr");
        assert_eq!(fields["consumer"], "w1");
    }
    assert_eq!(events[0].1["link"], "reader");
    assert_eq!(events[0].1["error"], "connection refused");
    assert_eq!(events[1].1["after_secs"], "1.5");
    assert_eq!(events[2].1["error"], "OOM command not allowed");
    assert_eq!(
        (events[3].1["id"].as_str(), events[3].1["from"].as_str()),
        ("1-0", "w0")
    );
    assert_eq!(events[4].1["id"], "2-0");
    assert_eq!(events[4].1["reason"], "undecodable: no field `d`");
}

#[test]
fn a_panicking_listener_does_not_stop_the_next_event() {
    let h = Health::named("s", "g", "c");
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    h.listen(Arc::new(move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
        panic!("a listener's bug");
    }));
    h.claimed("1-0", "w1");
    h.claimed("2-0", "w1");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(h.report().claimed, 2);
}
