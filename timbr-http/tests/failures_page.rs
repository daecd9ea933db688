//! The dashboard's failures, in a real headless browser: the newest data that failed for
//! good (as the status lists them), newest first, filterable by stage; the failure store's
//! counts; the datum a `Debugger` kept. Screenshots under `target/test-artifacts/`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use timbr_core::{Debugger, FailureFilter, Machine, MachineState, Stage};
use timbr_http::{HttpOptions, ServeHttp};

use common::browser::{Browser, LIMIT};
use common::{eventually, flowing_machine};

const READ_FAILURES: &str = r##"JSON.stringify({
  note: document.getElementById("failures-note").textContent,
  rows: [...document.querySelectorAll("#failures tr[data-failure]")].map((r) => ({
    oid: r.dataset.failure, stage: r.dataset.stage, time: Number(r.dataset.time),
    error: r.querySelector("td.message").textContent,
  })),
  empty: (document.querySelector("#failures td.meta") || {}).textContent || null,
  kept: (document.querySelector('[data-field="kept-datum"]') || {}).textContent || null,
  keptText: (document.querySelector(".kept") || {}).textContent || null,
})"##;

#[test]
fn the_page_lists_the_newest_failures_and_filters_them_by_stage() {
    let machine = flowing_machine("failing");
    let server = machine
        .serve_http(HttpOptions::new().push_interval(Duration::from_millis(200)))
        .unwrap();
    // Twenty failures at least (every 7th datum fails): the status lists the newest 20.
    eventually(LIMIT, "twenty failures kept", || {
        (machine.status().failures.stored >= 20).then_some(())
    });
    let mut b = Browser::launch();
    b.call("Page.navigate", json!({"url": server.url()}));
    let page = b.wait_for(LIMIT, "twenty failures listed", READ_FAILURES, |v| {
        (v["rows"].as_array()?.len() == 20).then(|| v.clone())
    });
    let rows = page["rows"].as_array().unwrap();
    for r in rows {
        assert_eq!(r["stage"], "every_7th", "{page}");
        assert!(
            r["error"].as_str().unwrap().contains("is a multiple of 7"),
            "{page}"
        );
    }
    // Failures the machine's store holds, newest first.
    let stored: Vec<String> = machine
        .failures(&FailureFilter::all())
        .unwrap()
        .into_iter()
        .map(|f| f.report.oid)
        .collect();
    let shown: Vec<&str> = rows.iter().map(|r| r["oid"].as_str().unwrap()).collect();
    for oid in &shown {
        assert!(stored.iter().any(|s| s == oid), "{oid} not in the store");
    }
    let times: Vec<f64> = rows.iter().map(|r| r["time"].as_f64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert!(
        page["note"].as_str().unwrap().contains("kept of 1,000"),
        "{page}"
    );
    b.screenshot_checked("dashboard-failures.png", 30_000);

    // Another stage: none failed there.
    b.eval(
        r#"(() => { const s = document.getElementById("failure-stage");
           s.value = "double"; s.dispatchEvent(new Event("change")); return 1; })()"#,
    );
    let filtered = b.wait_for(LIMIT, "the filter to apply", READ_FAILURES, |v| {
        (v["rows"].as_array()?.is_empty()).then(|| v.clone())
    });
    assert_eq!(filtered["empty"], "none at this stage", "{filtered}");
    b.assert_no_console_errors();
}

#[test]
fn the_datum_a_debugger_kept_is_shown() {
    let halve = Stage::try_new(0, "halve", ["input"], |n: &u32| {
        if n % 2 == 1 {
            Err(format!("{n} is odd"))
        } else {
            Ok(n / 2)
        }
    })
    .unwrap();
    let machine = Arc::new(
        Machine::<u32>::builder()
            .name("debugged")
            .stage(halve)
            .handler(Debugger)
            .build()
            .unwrap(),
    );
    machine.start().unwrap();
    for n in [4, 8, 7] {
        machine.put(n).unwrap();
    }
    eventually(LIMIT, "the machine to stop on 7", || {
        (machine.state() != MachineState::Running && machine.kept().is_some()).then_some(())
    });
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let mut b = Browser::launch();
    b.call("Page.navigate", json!({"url": server.url()}));
    let page = b.wait_for(LIMIT, "the kept datum", READ_FAILURES, |v| {
        v["kept"].is_string().then(|| v.clone())
    });
    assert_eq!(page["kept"], "7", "{page}");
    let text = page["keptText"].as_str().unwrap();
    assert!(
        text.contains("halve") && text.contains("7 is odd"),
        "{text}"
    );
    b.screenshot_checked("dashboard-kept.png", 20_000);
    b.assert_no_console_errors();
}
