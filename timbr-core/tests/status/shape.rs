//! The status as data: serialization, its JSON, rates and uptime, plugins, what each stage reads.

use super::*;

#[test]
fn status_serializes_and_round_trips() {
    let machine = Machine::<u64>::builder()
        .name("serde")
        .stages([double(), every_31st()])
        .build()
        .unwrap();
    (1..=62).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    machine.stop_drain();
    let s = machine.status();
    let json = serde_json::to_string(&s).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["state"], "stopped");
    assert!(
        v.get("reason").is_none(),
        "only a failed machine has a reason"
    );
    assert_eq!(v["counts"]["failed"], 2);
    assert_eq!(v["stages"][1]["name"], "every_31st");
    assert!(v["uptime"].is_f64());
    assert!(v["started_at"].as_str().unwrap().ends_with('Z'));
    let back: Status = serde_json::from_str(&json).unwrap();
    assert_eq!(back.counts, s.counts);
    assert_eq!(back.state, s.state);
    assert_eq!(back.stages[1].errors, 2);
    let (a, b) = (back.last_error.unwrap(), s.last_error.unwrap());
    assert_eq!((a.kind, a.message, a.oid), (b.kind, b.message, b.oid));
}

#[test]
fn status_json_has_the_state_flat_not_nested() {
    let machine = Machine::<u64>::builder()
        .stages([double(), every_31st()])
        .handler(timbr_core::Debugger)
        .build()
        .unwrap();
    (1..=62).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    let state = machine.wait();
    assert!(matches!(state, MachineState::Failed(_)), "{state:?}");
    let s = machine.status();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["state"], "failed");
    let reason = v["reason"].as_str().expect("a failed machine says why");
    assert!(reason.contains("every_31st"), "{reason}");
    let back: Status = serde_json::from_value(v).unwrap();
    assert_eq!(back.state, s.state);
    assert_eq!(back.counts, s.counts);
}

#[test]
fn rates_and_uptime_are_measured() {
    let machine = Machine::<u64>::builder()
        .tick(Duration::from_millis(5))
        .build()
        .unwrap();
    machine.start().unwrap();
    for n in 0..2000 {
        machine.put(n).unwrap();
    }
    while machine.counts().processed < 2000 {
        std::thread::yield_now();
    }
    let s = machine.status();
    assert!(s.uptime > Duration::ZERO);
    assert!(s.rate.overall > 0.0, "{:?}", s.rate);
    assert!(
        s.rate.recent > 0.0,
        "the window starts at the start: {:?}",
        s.rate
    );
    machine.stop_drain();
    let stopped = machine.status();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        machine.status().uptime,
        stopped.uptime,
        "uptime stops with the machine"
    );
}

struct Seen(std::sync::atomic::AtomicU64);

impl timbr_core::StatusPlugin for Seen {
    fn name(&self) -> &str {
        "seen"
    }

    fn fields(&self, status: &Status) -> serde_json::Value {
        serde_json::json!({ "done": status.counts.processed, "ticks": self.0.load(Ordering::Relaxed) })
    }

    fn part(
        &self,
        _: &Status,
        fields: &serde_json::Value,
    ) -> Option<timbr_core::observe::DisplayPart> {
        Some(timbr_core::observe::DisplayPart::new(
            "seen",
            format!("seen       {}", fields["done"]),
            format!("<p>seen {}</p>", fields["done"]),
        ))
    }

    fn tick(&self, _: &Status) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

struct Broken;

impl timbr_core::StatusPlugin for Broken {
    fn name(&self) -> &str {
        "broken"
    }

    fn fields(&self, _: &Status) -> serde_json::Value {
        panic!("plugin bug")
    }

    fn tick(&self, _: &Status) {
        panic!("plugin bug")
    }
}

#[test]
fn plugins_add_fields_and_parts_and_a_broken_one_harms_nothing() {
    let machine = Machine::<u64>::builder()
        .tick(Duration::from_millis(1))
        .plugin(Broken)
        .plugin(Seen(Default::default()))
        .build()
        .unwrap();
    (0..10).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    while machine.status().plugins["seen"]["ticks"] == 0 {
        std::thread::yield_now();
    }
    machine.stop_drain();
    let s = machine.status();
    assert_eq!(s.plugins["seen"]["done"], 10);
    assert!(!s.plugins.contains_key("broken"));
    assert_eq!(s.parts.len(), 1);
    assert!(s.to_string().contains("seen       10"));
    assert!(s.to_html().contains("<p>seen 10</p>"));
}

#[test]
fn the_status_says_what_each_stage_reads_and_how_many_workers_there_are() {
    let machine = Machine::<u64>::builder()
        .workers(3)
        .stage(double())
        .stage(every_31st())
        .build()
        .unwrap();
    let s = machine.status();
    assert_eq!(s.workers, 3);
    let reads: Vec<&[String]> = s.stages.iter().map(|st| st.reads.as_slice()).collect();
    assert_eq!(reads, [&["in".to_owned()][..], &["f0".to_owned()][..]]);
}
