//! The operator's dashboard in a real headless browser: the charts over time have axes with
//! units and the past after a reload (the server's history), the stage graph has a node per
//! stage with live numbers, and the end of the process is shown as the final state. Each
//! page's screenshot is saved under `target/test-artifacts/` and must not be blank.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use timbr_core::StopMode;
use timbr_http::{HttpOptions, ServeHttp};

use common::browser::{Browser, LIMIT};
use common::{eventually, flowing_machine, get};

/// Each chart: its points, units, and how many tick labels each axis has; the graph's nodes
/// with their numbers, and its edges; how many history answers the page has drawn.
const READ_CHARTS: &str = r##"JSON.stringify({
  fetches: Number(document.body.dataset.historyFetches || 0),
  window: (document.querySelector("[data-window].on") || {dataset: {}}).dataset.window,
  charts: [...document.querySelectorAll("svg.chart")].map((c) => ({
    chart: c.dataset.chart,
    points: Number(c.dataset.points || 0),
    unit: c.querySelector(".unit") ? c.querySelector(".unit").textContent : "",
    yticks: c.querySelectorAll(".tick.y").length,
    xticks: c.querySelectorAll(".tick.x").length,
    lines: c.querySelectorAll("polyline.series").length,
  })),
  nodes: [...document.querySelectorAll("#graph g.node[data-stage]")].map((n) => ({
    stage: n.dataset.stage,
    health: n.getAttribute("class"),
    calls: parseFloat(n.querySelector('[data-field="calls"]').textContent.replace(/,/g, "")),
    errors: parseFloat(n.querySelector('[data-field="errors"]').textContent.replace(/,/g, "")),
    p99: n.querySelector('[data-field="p99"]').textContent,
  })),
  edges: [...document.querySelectorAll("#graph path.edge")].map((e) => e.dataset.from + ">" + e.dataset.to).sort(),
})"##;

const UNITS: [(&str, &str); 5] = [
    ("data", "data/s"),
    ("errors", "errors / call"),
    ("queue", "data queued"),
    ("latency", "latency (s)"),
    ("busy", "busy share"),
];

/// The charts once the page has drawn a history of at least `least` points in each.
fn charts_drawn(b: &mut Browser, least: u64) -> Value {
    b.wait_for(
        LIMIT,
        "the charts drawn from the history",
        READ_CHARTS,
        |v| {
            let charts = v["charts"].as_array()?;
            (v["fetches"].as_u64()? >= 1
                && charts.len() == UNITS.len()
                && charts.iter().all(|c| c["points"].as_u64() >= Some(least)))
            .then(|| v.clone())
        },
    )
}

fn assert_axes(v: &Value) {
    for (chart, (name, unit)) in v["charts"].as_array().unwrap().iter().zip(UNITS) {
        assert_eq!(chart["chart"], name, "{v}");
        assert_eq!(chart["unit"], unit, "{v}");
        assert!(chart["yticks"].as_u64().unwrap() >= 2, "{chart}");
        assert!(chart["xticks"].as_u64().unwrap() >= 2, "{chart}");
        assert!(chart["lines"].as_u64().unwrap() >= 1, "{chart}");
    }
}

#[test]
fn charts_have_axes_and_the_past_after_a_reload_and_the_graph_a_node_per_stage() {
    let machine = flowing_machine("graphs");
    let server = machine
        .serve_http(
            HttpOptions::new()
                .push_interval(Duration::from_millis(200))
                .history_interval(Duration::from_millis(100)),
        )
        .unwrap();
    // The server keeps its history before any page is open.
    eventually(LIMIT, "history on the server", || {
        let v: Value =
            serde_json::from_str(&get(server.addr(), "/api/history/5m", "").body).ok()?;
        (v["points"].as_array()?.len() >= 5).then_some(())
    });
    let mut b = Browser::launch();
    b.call("Page.navigate", json!({"url": server.url()}));
    // The first answer already holds the past: no waiting for pushes to make a line.
    let first = charts_drawn(&mut b, 5);
    assert_axes(&first);
    b.call("Page.reload", json!({}));
    let reloaded = charts_drawn(&mut b, 5);
    assert_eq!(
        reloaded["fetches"], 1,
        "the page was not reloaded: {reloaded}"
    );
    let before = first["charts"][0]["points"].as_u64().unwrap();
    assert!(
        reloaded["charts"][0]["points"].as_u64().unwrap() >= before,
        "{reloaded}"
    );
    assert_axes(&reloaded);

    // Another window: the charts are drawn again from the server's answer for it.
    let fetched = reloaded["fetches"].as_u64().unwrap();
    b.eval(r#"document.querySelector('[data-window="all"]').click(), 1"#);
    let all = b.wait_for(LIMIT, "the charts since the start", READ_CHARTS, |v| {
        (v["fetches"].as_u64()? > fetched && v["window"] == "all").then(|| v.clone())
    });
    assert_axes(&all);
    assert!(
        all["charts"][0]["points"].as_u64().unwrap() >= before,
        "{all}"
    );

    // The graph: one node per stage, with numbers that live; an edge per dependency
    // (`every_7th` reads the datum and `text`'s output).
    let graph = b.wait_for(LIMIT, "the graph's live numbers", READ_CHARTS, |v| {
        let nodes = v["nodes"].as_array()?;
        (nodes.len() == 3
            && nodes.iter().all(|n| n["calls"].as_f64() > Some(0.0))
            && nodes[2]["errors"].as_f64() > Some(0.0))
        .then(|| v.clone())
    });
    let nodes = graph["nodes"].as_array().unwrap();
    let stages: Vec<&str> = nodes.iter().map(|n| n["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["double", "text", "every_7th"]);
    assert_eq!(
        graph["edges"],
        json!(["0>1", "1>2", "in>0", "in>2"]),
        "{graph}"
    );
    assert!(
        nodes[0]["health"].as_str().unwrap().ends_with(" ok"),
        "{graph}"
    );
    assert!(
        !nodes[2]["health"].as_str().unwrap().ends_with(" ok"),
        "a stage failing one datum in seven is not healthy: {graph}"
    );
    assert!(nodes[0]["p99"].as_str().unwrap().ends_with('s'), "{graph}");
    // Numbers that change: the total errors of the failing stage grow.
    let errors = nodes[2]["errors"].as_f64().unwrap();
    b.wait_for(LIMIT, "the graph's numbers to change", READ_CHARTS, |v| {
        (v["nodes"][2]["errors"].as_f64()? > errors).then_some(())
    });
    b.screenshot_checked("dashboard-charts.png", 30_000);
    b.assert_no_console_errors();
}

const READ_END: &str = r##"JSON.stringify({
  ended: document.getElementById("ended").hidden ? null : document.getElementById("ended").textContent,
  conn: document.getElementById("conn").textContent,
  state: (document.querySelector('[data-field="state"]') || {}).textContent,
  updates: Number(document.body.dataset.updates || 0),
})"##;

#[test]
fn the_final_state_is_shown_within_two_seconds_of_the_end() {
    let machine = flowing_machine("ending");
    let server = machine
        .serve_http(HttpOptions::new().push_interval(Duration::from_millis(200)))
        .unwrap();
    let mut b = Browser::launch();
    b.call("Page.navigate", json!({"url": server.url()}));
    b.wait_for(LIMIT, "the page running", READ_END, |v| {
        (v["state"] == "running" && v["updates"].as_u64()? >= 1).then_some(())
    });
    // The program stops its machine and ends: its server goes with it.
    machine.stop(StopMode::Return);
    drop(server);
    let ended = Instant::now();
    let shown = b.wait_for(Duration::from_secs(2), "the final state", READ_END, |v| {
        v["ended"].is_string().then(|| v.clone())
    });
    println!(
        "final state shown {:?} after the server ended",
        ended.elapsed()
    );
    assert_eq!(shown["ended"], "ended: stopped", "{shown}");
    assert_eq!(shown["state"], "stopped", "{shown}");
    assert!(
        shown["conn"]
            .as_str()
            .unwrap()
            .starts_with("server stopped"),
        "{shown}"
    );
    // And it stays so: no "reconnecting…" to a server that is gone.
    b.eval("new Promise((r) => setTimeout(r, 1500))");
    let later: Value = serde_json::from_str(b.eval(READ_END).as_str().unwrap()).unwrap();
    assert_eq!(later["ended"], shown["ended"], "{later}");
    assert!(
        later["conn"]
            .as_str()
            .unwrap()
            .starts_with("server stopped"),
        "{later}"
    );
    b.screenshot_checked("dashboard-ended.png", 20_000);
    // A history request the page sent just before the end may find the server gone: the
    // browser logs that refusal, which is no error of the page's.
    b.eval("1");
    b.errors
        .retain(|e| !(e.contains("ERR_CONNECTION_REFUSED") && e.contains("/api/history/")));
    b.assert_no_console_errors();
}

/// A loopback proxy to `to` that can be cut: every connection through it ends, and new ones
/// are refused, as when a server's process is killed without a word.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    listener: Option<std::net::TcpListener>,
}

impl Proxy {
    fn start(to: std::net::SocketAddr) -> Proxy {
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = Arc::new(std::sync::Mutex::new(Vec::<TcpStream>::new()));
        let (l, c, k) = (
            listener.try_clone().unwrap(),
            Arc::clone(&cut),
            Arc::clone(&conns),
        );
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(client) = client else { continue };
                if c.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(server) = TcpStream::connect(to) else {
                    continue;
                };
                let mut kept = k.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                for (mut from, mut into) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut into);
                        let _ = into.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy {
            addr,
            cut,
            conns,
            listener: Some(listener),
        }
    }

    /// Ends every connection and refuses new ones.
    fn cut(&mut self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        // Wake the accepting thread so that it sees the cut and ends, closing the port.
        let _ = std::net::TcpStream::connect(self.addr);
        self.listener.take();
    }
}

#[test]
fn a_server_gone_without_a_word_is_not_shown_running() {
    let machine = flowing_machine("vanishing");
    let server = machine
        .serve_http(HttpOptions::new().push_interval(Duration::from_millis(200)))
        .unwrap();
    let mut proxy = Proxy::start(server.addr());
    let mut b = Browser::launch();
    b.call(
        "Page.navigate",
        json!({"url": format!("http://{}/", proxy.addr)}),
    );
    b.wait_for(LIMIT, "the page running", READ_END, |v| {
        (v["state"] == "running" && v["updates"].as_u64()? >= 1).then_some(())
    });
    proxy.cut();
    let gone = b.wait_for(LIMIT, "the page to say the server is gone", READ_END, |v| {
        v["conn"]
            .as_str()?
            .starts_with("server not answering")
            .then(|| v.clone())
    });
    assert_eq!(gone["state"], "last seen running", "{gone}");
    assert!(gone["ended"].is_null(), "{gone}");
    b.screenshot_checked("dashboard-gone.png", 20_000);
    // The browser logs its attempts to reconnect: those are no errors of the page's.
    b.eval("1");
    b.errors
        .retain(|e| !e.contains("ERR_CONNECTION_REFUSED") && !e.contains("net::ERR_"));
    b.assert_no_console_errors();
    machine.stop(StopMode::Return);
}
