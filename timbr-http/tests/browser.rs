//! A real headless browser (Debian's `chromium`, driven over the DevTools protocol) opens
//! the dashboard of a running machine and of a fleet of two: the rendered page shows the
//! live numbers, they change as data flow, the console has no errors, and a screenshot is
//! saved under `target/test-artifacts/`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use timbr_core::{Remote, RemoteOptions};
use timbr_http::{FleetWatch, HttpOptions, HttpServer, ServeHttp};

use common::browser::{Browser, LIMIT};
use common::{eventually, flowing_machine};

/// What the page shows: updates received, the total processed, and each machine card's
/// name, state and processed count.
const READ_PAGE: &str = r#"(() => !document.getElementById("conn") ? "{}" : JSON.stringify({
  updates: Number(document.body.dataset.updates || 0),
  conn: document.getElementById("conn").textContent,
  total: Number(document.querySelector('[data-total="processed"]').textContent.replace(/,/g, "")),
  machines: [...document.querySelectorAll("section.machine")].map((m) => ({
    source: m.dataset.source,
    name: m.querySelector("h2").firstChild.textContent,
    state: m.querySelector('[data-field="state"]').textContent,
    processed: Number(m.querySelector('[data-field="processed"]').textContent.replace(/,/g, "")),
    stages: m.querySelectorAll("tr[data-stage]").length,
    bars: m.querySelectorAll("svg.dist rect").length,
    points: Number(m.querySelector('svg[data-chart="rate"]').dataset.points),
  })),
}))()"#;

fn read(b: &mut Browser) -> Value {
    serde_json::from_str(b.eval(READ_PAGE).as_str().unwrap()).unwrap()
}

/// Opens `url` and checks that the numbers live: shown, then grown, with `names` on cards.
fn watch_dashboard(url: &str, names: &[&str], shot: &str) {
    let mut b = Browser::launch();
    b.call("Page.navigate", json!({"url": url}));
    let first = eventually(LIMIT, "the first numbers", || {
        let v = read(&mut b);
        (v["updates"].as_u64()? >= 1
            && v["total"].as_f64()? > 0.0
            && v["machines"].as_array()?.len() == names.len())
        .then_some(v)
    });
    assert_eq!(first["conn"], "live");
    for (card, name) in first["machines"].as_array().unwrap().iter().zip(names) {
        assert_eq!(card["name"], *name, "{first}");
        assert_eq!(card["state"], "running", "{first}");
        assert_eq!(card["stages"], 3, "{first}");
    }
    let later = eventually(LIMIT, "the numbers to change", || {
        let v = read(&mut b);
        let grew = v["machines"]
            .as_array()?
            .iter()
            .zip(first["machines"].as_array()?)
            .all(|(now, then)| now["processed"].as_f64() > then["processed"].as_f64());
        (grew && v["updates"].as_u64()? >= first["updates"].as_u64()? + 2).then_some(v)
    });
    assert!(later["total"].as_f64() > first["total"].as_f64(), "{later}");
    let cards = later["machines"].as_array().unwrap();
    let sum: f64 = cards.iter().map(|m| m["processed"].as_f64().unwrap()).sum();
    // Totals and cards come from one snapshot.
    assert_eq!(later["total"].as_f64().unwrap(), sum, "{later}");
    for card in cards {
        assert!(
            card["bars"].as_u64().unwrap() > 0,
            "no latency bars: {later}"
        );
        assert!(
            card["points"].as_u64().unwrap() >= 2,
            "no rate chart: {later}"
        );
    }
    b.screenshot_checked(shot, 30_000);
    b.assert_no_console_errors();
}

#[test]
fn the_dashboard_of_one_machine_lives_in_a_real_browser() {
    let machine = flowing_machine("solo");
    let server = machine
        .serve_http(HttpOptions::new().push_interval(Duration::from_millis(200)))
        .unwrap();
    watch_dashboard(&server.url(), &["solo"], "dashboard-one.png");
}

#[test]
fn the_dashboard_of_a_fleet_of_two_lives_in_a_real_browser() {
    let machines = [flowing_machine("east"), flowing_machine("west")];
    let remotes: Vec<Remote> = machines
        .iter()
        .map(|m| {
            Remote::serve(m, RemoteOptions::new().interval(Duration::from_millis(100))).unwrap()
        })
        .collect();
    let watch = FleetWatch::new(remotes.iter().map(|r| r.status_endpoint().to_owned())).unwrap();
    let fleet = watch.fleet();
    eventually(LIMIT, "both statuses", || {
        use timbr_http::StatusFeed;
        fleet
            .observe()
            .iter()
            .all(|o| o.status.is_some())
            .then_some(())
    });
    let server = HttpServer::start(
        Arc::clone(&fleet),
        HttpOptions::new().push_interval(Duration::from_millis(200)),
    )
    .unwrap();
    watch_dashboard(&server.url(), &["east", "west"], "dashboard-fleet.png");
}
