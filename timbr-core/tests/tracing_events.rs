//! What a machine does reaches `tracing` (issue 22: logs where Rust programs send them):
//! a stage failure with its machine, stage, slot and oid; each change of state; a panicking
//! handler. A recording subscriber is this test binary's global one; each test reads only
//! the events of its own machine (by name), so the tests may run in parallel.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use timbr_core::{Event, Machine, Stage};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};

/// One event as the subscriber saw it.
#[derive(Debug, Clone)]
struct Seen {
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
}

/// Every event of this test binary.
static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());
/// Every span's fields, by id.
static SPANS: Mutex<BTreeMap<u64, BTreeMap<String, String>>> = Mutex::new(BTreeMap::new());
static NEXT_SPAN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The spans this thread is in, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The subscriber: records every event in [`SEEN`].
struct Recorder;

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = NEXT_SPAN.fetch_add(1, Ordering::Relaxed);
        let mut fields = BTreeMap::new();
        attributes.record(&mut Fields(&mut fields));
        fields.insert("name".to_owned(), attributes.metadata().name().to_owned());
        SPANS.lock().unwrap().insert(id, fields);
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        // The innermost span's fields, as `span.NAME`.
        if let Some(id) = ENTERED.with(|e| e.borrow().last().copied()) {
            for (k, v) in &SPANS.lock().unwrap()[&id] {
                fields.insert(format!("span.{k}"), v.clone());
            }
        }
        SEEN.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
    fn enter(&self, id: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, _: &Id) {
        ENTERED.with(|e| e.borrow_mut().pop());
    }
}

/// Installs the recorder, once.
fn recorder() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Recorder).expect("the only subscriber");
    });
}

/// The events of the machine named `machine`, so far.
fn seen(machine: &str) -> Vec<Seen> {
    let all = SEEN.lock().unwrap();
    all.iter()
        .filter(|s| s.fields.get("machine").map(String::as_str) == Some(machine))
        .cloned()
        .collect()
}

fn failing(name: &str) -> Machine<u32> {
    let halve = Stage::try_new(0, "halve", ["input"], |n: &u32| {
        if n % 2 == 0 {
            Ok(n / 2)
        } else {
            Err(format!("{n} is odd"))
        }
    })
    .unwrap();
    Machine::<u32>::builder()
        .name(name)
        .stage(halve)
        .build()
        .unwrap()
}

#[test]
fn a_stage_failure_is_a_warning_with_its_machine_stage_and_oid() {
    recorder();
    let machine = failing("trace-stage");
    machine.try_put(3).unwrap();
    let record = machine.get(Duration::from_secs(10)).unwrap();
    let failures: Vec<Seen> = seen("trace-stage")
        .into_iter()
        .filter(|s| s.fields.get("message").is_some_and(|m| m == "stage failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!((f.level, f.target.as_str()), (Level::WARN, "timbr::datum"));
    assert_eq!(f.fields["stage"], "halve");
    assert_eq!(f.fields["slot"], "0");
    assert_eq!(f.fields["oid"], record.oid().to_hex());
    assert_eq!(f.fields["error"], "3 is odd");
}

#[test]
fn every_change_of_state_is_traced_in_order() {
    recorder();
    let machine = failing("trace-life");
    machine.try_put(2).unwrap();
    machine.start().unwrap();
    machine.stop_drain();
    let changes: Vec<(String, String)> = seen("trace-life")
        .into_iter()
        .filter(|s| s.target == "timbr::machine" && s.fields.contains_key("to"))
        .map(|s| (s.fields["from"].clone(), s.fields["to"].clone()))
        .collect();
    let expected = [
        ("idle", "running"),
        ("running", "stopping"),
        ("stopping", "stopped"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(changes, expected);
}

#[test]
fn a_panicking_handler_is_a_warning() {
    recorder();
    let machine = Machine::<u32>::builder()
        .name("trace-handler")
        .handler(|e: &Event| -> timbr_core::Action {
            if matches!(e, Event::Started { .. }) {
                panic!("handler bug");
            }
            timbr_core::Action::Continue
        })
        .build()
        .unwrap();
    machine.start().unwrap();
    machine.stop_drain();
    let warned = seen("trace-handler").into_iter().any(|s| {
        s.level == Level::WARN
            && s.fields
                .get("error")
                .is_some_and(|e| e.contains("handler bug"))
    });
    assert!(warned, "{:?}", seen("trace-handler"));
}

/// With `datum_spans`, what a stage logs is inside the span of its datum (machine and oid);
/// without, it is in none.
#[test]
fn a_stage_logs_inside_its_datums_span_when_asked() {
    recorder();
    let logs = |input: &u32| -> u32 {
        tracing::info!(marker = "stage-log", "working on {input}");
        *input
    };
    for (spans, name) in [(true, "trace-spans-on"), (false, "trace-spans-off")] {
        let machine = Machine::<u32>::builder()
            .name(name)
            .datum_spans(spans)
            .stage(Stage::new(0, "logs", ["input"], logs).unwrap())
            .build()
            .unwrap();
        machine.try_put(u32::from(spans)).unwrap();
        let record = machine.get(Duration::from_secs(10)).unwrap();
        let wanted = format!("working on {}", u32::from(spans));
        let seen: Vec<Seen> = SEEN
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.fields.get("message") == Some(&wanted))
            .cloned()
            .collect();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let fields = &seen[0].fields;
        if spans {
            assert_eq!(fields.get("span.name").map(String::as_str), Some("datum"));
            assert_eq!(fields.get("span.machine").map(String::as_str), Some(name));
            assert_eq!(fields.get("span.oid"), Some(&record.oid().to_hex()));
        } else {
            assert!(!fields.contains_key("span.name"), "{fields:?}");
        }
    }
}
