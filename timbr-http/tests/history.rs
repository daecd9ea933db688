//! The server's history (`/api/history/…`): kept from the server's start whether or not a
//! dashboard is open, so a page opened later draws the past; rates and windowed latency of a
//! flowing machine; the stages with what they read.

mod common;

use std::time::Duration;

use serde_json::Value;
use timbr_http::{HttpOptions, ServeHttp};

use common::{eventually, flowing_machine, get};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn the_history_is_kept_without_a_dashboard_and_served_per_window() {
    let machine = flowing_machine("hist");
    let server = machine
        .serve_http(HttpOptions::new().history_interval(Duration::from_millis(50)))
        .unwrap();
    // Nobody asked for anything yet: the history fills by itself.
    let series: Value = eventually(LIMIT, "five points of history", || {
        let r = get(server.addr(), "/api/history/5m", "");
        assert_eq!(r.code, 200, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        let busy = v["points"]
            .as_array()?
            .iter()
            .filter(|p| p["processed"].as_f64() > Some(0.0))
            .count();
        (busy >= 5).then_some(v)
    });
    assert_eq!(series["window"], "5m");
    assert_eq!(series["interval"], 0.05);
    let stages = series["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["double", "text", "every_7th"]);
    assert_eq!(stages[2]["reads"], serde_json::json!(["in", "f1"]));
    let points = series["points"].as_array().unwrap();
    let at: Vec<f64> = points.iter().map(|p| p["at"].as_f64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    let last = points.last().unwrap();
    assert_eq!(last["stages"].as_array().unwrap().len(), 3);
    // Every datum goes through `double`, and every 7th fails in `every_7th`: some point has
    // a p99 and an error rate near 1/7 (with only a few data per point, not exactly).
    assert!(
        points
            .iter()
            .any(|p| p["stages"][0]["p99"].as_f64() > Some(0.0)),
        "{series}"
    );
    assert!(
        points.iter().any(|p| p["stages"][2]["error_rate"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r < 0.5)),
        "{series}"
    );
    assert!(
        last["busy"]
            .as_f64()
            .is_some_and(|b| (0.0..=1.0).contains(&b)),
        "{last}"
    );
    for window in ["1h", "all"] {
        let r = get(server.addr(), &format!("/api/history/{window}"), "");
        assert_eq!(r.code, 200);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            v["points"].as_array().unwrap().len() >= points.len() - 1,
            "{window}"
        );
    }
    assert_eq!(get(server.addr(), "/api/history/2d", "").code, 404);
    machine.stop(timbr_core::StopMode::Return);
}
