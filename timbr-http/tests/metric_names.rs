//! What `/metrics` names and labels: plugin fields split into counters and gauges (as the
//! plugin declares them); no label holds a fleet member's endpoint (a path named after its
//! process id, new at every restart) unless two members share a name; and the README lists
//! every family served.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use timbr_core::{Machine, MachineState, Status, StatusPlugin};
use timbr_http::{FleetFeed, HttpOptions, HttpServer, ServeHttp};

use common::{flowing_machine, get};

/// A plugin with a counter, a gauge and a text field.
struct Ticks;

impl StatusPlugin for Ticks {
    fn name(&self) -> &str {
        "ticks"
    }

    fn fields(&self, _status: &Status) -> serde_json::Value {
        serde_json::json!({"ticks": 5, "level": 0.5, "label": "not a number"})
    }

    fn counters(&self) -> &[&str] {
        &["ticks"]
    }
}

fn metrics_of(server: &HttpServer) -> String {
    let r = get(server.addr(), "/metrics", "");
    assert_eq!(r.code, 200, "{}", r.body);
    r.body
}

#[test]
fn plugin_fields_are_counters_or_gauges_as_the_plugin_says() {
    let machine = Arc::new(
        Machine::<u64>::builder()
            .name("plugged")
            .plugin(Ticks)
            .build()
            .unwrap(),
    );
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let text = metrics_of(&server);
    assert!(
        text.contains("# TYPE timbr_plugin_counter_total counter"),
        "{text}"
    );
    assert!(text.contains("# TYPE timbr_plugin_gauge gauge"), "{text}");
    assert!(
        text.contains(
            r#"timbr_plugin_counter_total{machine="plugged",plugin="ticks",field="ticks"} 5"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"timbr_plugin_gauge{machine="plugged",plugin="ticks",field="level"} 0.5"#),
        "{text}"
    );
    assert!(!text.contains("timbr_plugin_value"), "{text}");
    assert!(!text.contains("not a number"), "{text}");
}

fn running(name: &str) -> Status {
    Status::new(name, MachineState::Running)
}

#[test]
fn no_label_holds_a_members_endpoint_unless_two_share_a_name() {
    let fleet = Arc::new(FleetFeed::default());
    fleet.update("ipc:///tmp/timbr-0/4242-0.status", running("alpha"));
    fleet.update("ipc:///tmp/timbr-0/4243-0.status", running("twin"));
    fleet.update("ipc:///tmp/timbr-0/4244-0.status", running("twin"));
    fleet.join("ipc:///tmp/timbr-0/4245-0.status"); // no status yet
    let server = HttpServer::start(Arc::clone(&fleet), HttpOptions::new()).unwrap();
    let text = metrics_of(&server);
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    for line in &samples {
        if line.contains("4242") {
            panic!("alpha's endpoint is a label: {line}");
        }
    }
    assert!(text.contains(r#"timbr_up{machine="alpha"} 1"#), "{text}");
    // Two machines named `twin`: their endpoints tell them apart.
    assert!(
        text.contains(r#"timbr_up{machine="twin",source="ipc:///tmp/timbr-0/4243-0.status"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"timbr_up{machine="",source="ipc:///tmp/timbr-0/4245-0.status"} 0"#),
        "{text}"
    );
}

/// The metric names the README writes in backquotes: a trailing `{…}` is a label set
/// (`timbr_state{state}`), other `{a,b}` groups are expanded
/// (`timbr_data_{accepted,failed}_total` names two).
fn readme_names(readme: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for word in readme.split('`') {
        if !word.starts_with("timbr_") || word.contains(' ') {
            continue;
        }
        let word = match word
            .strip_suffix('}')
            .and_then(|w| w.rfind('{').map(|at| &w[..at]))
        {
            Some(name) if !name.ends_with('_') => name,
            _ => word,
        };
        let mut out = vec![String::new()];
        let mut rest = word;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(open) => {
                    let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
                    let head = &rest[..open];
                    let group = &rest[open + 1..close.min(rest.len())];
                    out = out
                        .iter()
                        .flat_map(|o| group.split(',').map(move |g| format!("{o}{head}{g}")))
                        .collect();
                    rest = rest.get(close + 1..).unwrap_or("");
                }
                None => {
                    out.iter_mut().for_each(|o| o.push_str(rest));
                    rest = "";
                }
            }
        }
        names.extend(out);
    }
    names
}

#[test]
fn the_readme_lists_every_metric_family() {
    let machine = flowing_machine("listed");
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let plugged = Arc::new(
        Machine::<u64>::builder()
            .name("plugged")
            .plugin(Ticks)
            .build()
            .unwrap(),
    );
    let plugged_server = plugged.serve_http(HttpOptions::new()).unwrap();
    let text = metrics_of(&server) + &metrics_of(&plugged_server);
    let families: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect();
    assert!(families.len() > 20, "{families:?}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let listed = readme_names(&readme);
    let missing: Vec<&String> = families.iter().filter(|f| !listed.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "not in the README's metric list: {missing:?}"
    );
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn retries_and_the_failure_store_are_exported() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;
    use timbr_core::{Backoff, RetryPolicy, Stage, StopMode, Transient};

    // Each even datum fails once, transiently, then passes; each odd one fails for good.
    let calls = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&calls);
    let flaky = Stage::try_new(0, "flaky", ["input"], move |n: &u64| {
        let call = seen.fetch_add(1, Ordering::Relaxed);
        match n % 2 {
            1 => Err(Transient::new(format!("{n} never works"))),
            _ if call % 2 == 0 => Err(Transient::new(format!("{n} not yet"))),
            _ => Ok(*n),
        }
    })
    .unwrap()
    .retry(RetryPolicy::new(2).backoff(Backoff::fixed(Duration::from_millis(1))));
    let machine = Arc::new(
        Machine::<u64>::builder()
            .name("retrying")
            .stage(flaky)
            .build()
            .unwrap(),
    );
    machine.start().unwrap();
    // One at a time, so that which call fails is known: 0 (fails, then passes), 1 (fails twice).
    for n in [0_u64, 1] {
        machine.put(n).unwrap();
        common::eventually(Duration::from_secs(60), "the datum to finish", || {
            let c = machine.counts();
            (c.processed + c.failed == n + 1).then_some(())
        });
    }
    machine.stop(StopMode::Drain);
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let text = metrics_of(&server);
    let stage = r#"{machine="retrying",stage="flaky",slot="0"}"#;
    assert_eq!(
        sample(&text, &format!("timbr_stage_retried_total{stage}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("timbr_stage_recovered_total{stage}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("timbr_stage_retries_exhausted_total{stage}")
        ),
        Some(1.0),
        "{text}"
    );
    let m = r#"{machine="retrying"}"#;
    assert_eq!(
        sample(&text, &format!("timbr_failures_stored{m}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("timbr_failures_capacity{m}")),
        Some(1000.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("timbr_failures_dropped_total{m}")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("timbr_data_retrying{m}")),
        Some(0.0),
        "{text}"
    );
}
