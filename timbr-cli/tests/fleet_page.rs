//! `timbr-watch http --redis URL --stream S`: the fleet's page from its Redis registry, in a
//! real headless browser. A producer and two workers share a stream on a real
//! `redis-server`: the page lists all three (the producer, which serves no status, too) with
//! the stream as Redis sees it (its failure stream too) and the balance; the totals count the shared stream's
//! capacity once; a worker that stops cleanly leaves the watcher live (`/livez` 200) and
//! adds no rate any more. A screenshot is saved under `target/test-artifacts/`.

#[path = "../../timbr-http/tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use timbr_core::{Machine, Remote, RemoteOptions, Stage, StopMode};
use timbr_redis::{Announce, Producer, RedisOptions, RedisQueue, Summary};

use common::browser::{Browser, LIMIT};
use common::{eventually, free_port, get, Reaper};
use timbr_testkit::Server;

const STREAM: &str = "dash";

/// A worker named `name` on the stream: it announces itself with its status endpoint.
fn worker(url: &str, name: &str) -> (Arc<Machine<u64>>, Remote) {
    let queue =
        RedisQueue::<u64>::connect(RedisOptions::new(url, STREAM).consumer(name).capacity(64))
            .unwrap();
    let announce = Announce::for_queue(&queue, "worker").unwrap();
    // One datum in a hundred fails for good: it goes to the fleet's failure stream.
    let double = Stage::try_new(0, "double", ["input"], |n: &u64| {
        std::thread::sleep(Duration::from_millis(2));
        if n % 100 == 0 {
            Err(format!("{n} is round"))
        } else {
            Ok(n * 2)
        }
    })
    .unwrap();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .name(name)
            .sink(queue.sink("results"))
            .queue(queue)
            .stage(double)
            .plugin(announce.clone())
            .tick(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    let remote = Remote::serve(
        &machine,
        RemoteOptions::new().interval(Duration::from_millis(100)),
    )
    .unwrap();
    announce.status_endpoint(remote.status_endpoint());
    machine.start().unwrap();
    (machine, remote)
}

fn status(port: u16) -> Option<Value> {
    let r = common::try_get(([127, 0, 0, 1], port).into(), "/api/status")?;
    serde_json::from_str(&r.body).ok()
}

/// The registry's table as the page shows it, and the machine cards.
const READ_FLEET: &str = r##"JSON.stringify({
  rows: [...document.querySelectorAll("#registry-machines tr[data-machine]")].map((r) => ({
    name: r.dataset.machine, role: r.dataset.role,
    state: r.querySelector('[data-field="registry-state"]').textContent,
  })),
  queue: Object.fromEntries([...document.querySelectorAll("[data-registry]")].map((n) => [n.dataset.registry, n.textContent])),
  cards: [...document.querySelectorAll("section.machine")].map((m) => m.querySelector("h2").firstChild.textContent),
  nodes: [...document.querySelectorAll("#graph g.node[data-stage]")].map((n) => ({
    stage: n.dataset.stage,
    calls: parseFloat(n.querySelector('[data-field="calls"]').textContent.replace(/,/g, "")),
  })),
})"##;

#[test]
fn the_fleet_page_lists_a_producer_and_two_workers_from_redis() {
    let redis = Server::start();
    let url = redis.url();
    let mut producer =
        Producer::<u64>::connect(RedisOptions::new(&url, STREAM).consumer("producer-1")).unwrap();
    let announced = Announce::for_producer(&producer, "producer").unwrap();
    let (first, second) = (worker(&url, "worker-1"), worker(&url, "worker-2"));
    producer.put_all(1..=3000, &|| false).unwrap();
    assert!(announced.beat(&Summary {
        state: "running".to_owned(),
        put_rate: 1000.0,
        ..Summary::default()
    }));

    let port = free_port();
    let _watcher = Reaper(
        Command::new(env!("CARGO_BIN_EXE_timbr-watch"))
            .args(["http", &format!("127.0.0.1:{port}"), "--redis", &url])
            .args(["--stream", STREAM])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let board = eventually(LIMIT, "the registry and both workers' statuses", || {
        let v = status(port)?;
        let listed = v["registry"]["machines"].as_array()?.len();
        let statuses = v["machines"]
            .as_array()?
            .iter()
            .filter(|m| m["state"] == "running")
            .count();
        (listed == 3 && statuses == 2).then_some(v)
    });
    // The stream both workers read is one queue: its capacity counts once in the totals.
    let capacity = board["machines"][0]["status"]["queue"]["capacity"]
        .as_u64()
        .unwrap();
    assert_eq!(board["totals"]["queue_capacity"], capacity, "{board}");

    let mut b = Browser::launch();
    b.call(
        "Page.navigate",
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    );
    let page = b.wait_for(LIMIT, "the registry's table", READ_FLEET, |v| {
        (v["rows"].as_array()?.len() == 3 && v["cards"].as_array()?.len() == 2).then(|| v.clone())
    });
    let mut roles: Vec<(&str, &str)> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["role"].as_str().unwrap()))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        [
            ("producer-1", "producer"),
            ("worker-1", "worker"),
            ("worker-2", "worker")
        ],
        "{page}"
    );
    for field in [
        "stream_length",
        "lag",
        "pending",
        "dead_letters",
        "failures",
        "balanced",
    ] {
        assert!(page["queue"][field].is_string(), "{field}: {page}");
    }
    assert_eq!(page["queue"]["balanced"], "balanced", "{page}");
    // Data failed for good reach the failure stream, and the page says so.
    b.wait_for(LIMIT, "a failure in the failure stream", READ_FLEET, |v| {
        let n: u64 = v["queue"]["failures"]
            .as_str()?
            .replace(',', "")
            .parse()
            .ok()?;
        (n > 0 && v["queue"]["balanced"] == "balanced").then_some(())
    });
    // The stage graph sums the fleet: one node for the stage both workers run.
    b.wait_for(LIMIT, "the fleet's stage graph", READ_FLEET, |v| {
        let nodes = v["nodes"].as_array()?;
        (nodes.len() == 1 && nodes[0]["stage"] == "double" && nodes[0]["calls"].as_f64()? > 0.0)
            .then_some(())
    });
    b.screenshot_checked("dashboard-fleet-redis.png", 30_000);

    // worker-2 stops cleanly and its process ends (its status endpoint goes).
    let (machine, remote) = second;
    machine.stop(StopMode::Return);
    let stopped = eventually(LIMIT, "worker-2 stopped on the page's data", || {
        let v = status(port)?;
        let m = v["machines"]
            .as_array()?
            .iter()
            .find(|m| m["status"]["name"] == "worker-2")?
            .clone();
        (m["state"] == "stopped").then_some(v)
    });
    drop(remote);
    let running_rate: f64 = stopped["machines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "running")
        .map(|m| m["status"]["rate"]["recent"].as_f64().unwrap())
        .sum();
    assert_eq!(
        stopped["totals"]["rate_recent"].as_f64().unwrap(),
        running_rate,
        "{stopped}"
    );
    let livez = get(([127, 0, 0, 1], port).into(), "/livez", "");
    assert_eq!(livez.code, 200, "{}", livez.body);
    // And once its status is stale (its process gone), still: it said it stopped.
    eventually(LIMIT, "worker-2's status to go stale", || {
        let v = status(port)?;
        v["machines"]
            .as_array()?
            .iter()
            .any(|m| m["status"]["name"] == "worker-2" && m["stale"] == true)
            .then_some(())
    });
    let livez = get(([127, 0, 0, 1], port).into(), "/livez", "");
    assert_eq!(livez.code, 200, "{}", livez.body);
    b.wait_for(LIMIT, "worker-2 stopped on the page", READ_FLEET, |v| {
        v["rows"]
            .as_array()?
            .iter()
            .any(|r| r["name"] == "worker-2" && r["state"] == "stopped")
            .then_some(())
    });
    b.assert_no_console_errors();
    first.0.stop(StopMode::Return);
}
