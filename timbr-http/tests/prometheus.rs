//! A real Prometheus (Debian's `prometheus`) scrapes a running machine; its HTTP API then
//! has the counters and the per-stage latency histogram with plausible values, and
//! `promtool check metrics` accepts the exposition.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use timbr_http::{HttpOptions, ServeHttp};

use common::{eventually, flowing_machine, free_port, get, scratch, tool, try_get, Reaper};

#[test]
fn promtool_accepts_the_exposition() {
    let machine = flowing_machine("promtool");
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    // Wait for some data, so that every family (the histogram too) has samples.
    eventually(Duration::from_secs(60), "data", || {
        (machine.counts().processed > 50).then_some(())
    });
    let text = get(server.addr(), "/metrics", "").body;
    for name in [
        "timbr_data_processed_total{",
        "timbr_stage_latency_seconds_bucket{",
        "timbr_events_total{",
        "timbr_errors_total{",
        "timbr_state{",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let mut child = Command::new(tool("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of an instant query, if it has one sample.
fn query(prom: std::net::SocketAddr, expr: &str) -> Option<f64> {
    let path = format!("/api/v1/query?query={}", encode(expr));
    let r = try_get(prom, &path)?;
    if r.code != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&r.body).ok()?;
    let result = v["data"]["result"].as_array()?;
    let [sample] = &result[..] else { return None };
    sample["value"][1].as_str()?.parse().ok()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_real_prometheus_scrapes_a_running_machine() {
    let machine = flowing_machine("scraped");
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let dir = scratch("prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 500ms\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: timbr\n    scrape_interval: 500ms\n    scrape_timeout: 400ms\n    static_configs:\n      - targets: ['{}']\n",
            server.addr()
        ),
    )
    .unwrap();
    let port = free_port();
    let prom_addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let _prometheus = Reaper(
        Command::new(tool("prometheus", "prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let limit = Duration::from_secs(120);
    let labels = r#"machine="scraped",source="in-process""#;
    // Two scrapes at least: the counter has grown between them.
    let processed = eventually(limit, "Prometheus to scrape twice", || {
        let n = query(
            prom_addr,
            &format!("count_over_time(timbr_data_processed_total{{{labels}}}[1m])"),
        )?;
        (n >= 2.0).then_some(())?;
        query(
            prom_addr,
            &format!("timbr_data_processed_total{{{labels}}}"),
        )
    });
    assert!(processed > 0.0, "{processed}");
    let grew = eventually(limit, "the counter to grow", || {
        query(
            prom_addr,
            &format!("increase(timbr_data_processed_total{{{labels}}}[1m])"),
        )
        .filter(|&x| x > 0.0)
    });
    assert!(grew > 0.0);
    assert_eq!(
        query(prom_addr, &format!("timbr_up{{{labels}}}")),
        Some(1.0)
    );
    assert_eq!(
        query(
            prom_addr,
            &format!(r#"timbr_state{{{labels},state="running"}}"#)
        ),
        Some(1.0)
    );
    // Every 7th datum fails in stage `every_7th`.
    let failed = query(prom_addr, &format!("timbr_data_failed_total{{{labels}}}")).unwrap();
    assert!(
        failed > 0.0 && failed < processed,
        "{failed} of {processed}"
    );
    let stage_errors = query(
        prom_addr,
        &format!(r#"timbr_stage_errors_total{{{labels},stage="every_7th"}}"#),
    )
    .unwrap();
    assert!(stage_errors > 0.0);
    // The histogram: every timed call is in some bucket; the median of a stage that
    // formats a number is between 10 ns and 100 ms even on a loaded machine.
    let count = query(
        prom_addr,
        &format!(r#"timbr_stage_latency_seconds_count{{{labels},stage="text"}}"#),
    )
    .unwrap();
    let inf = query(
        prom_addr,
        &format!(r#"timbr_stage_latency_seconds_bucket{{{labels},stage="text",le="+Inf"}}"#),
    )
    .unwrap();
    assert!(count > 0.0 && inf == count, "{inf} vs {count}");
    let p50 = query(
        prom_addr,
        &format!(
            r#"histogram_quantile(0.5, sum by (le) (timbr_stage_latency_seconds_bucket{{{labels},stage="text"}}))"#
        ),
    )
    .unwrap();
    assert!(p50 > 1e-8 && p50 < 0.1, "p50 {p50}");
    let mean = query(
        prom_addr,
        &format!(
            r#"timbr_stage_latency_seconds_sum{{{labels},stage="text"}} / timbr_stage_latency_seconds_count{{{labels},stage="text"}}"#
        ),
    )
    .unwrap();
    assert!(mean > 1e-8 && mean < 0.1, "mean {mean}");
    let started = query(
        prom_addr,
        &format!(r#"timbr_events_total{{{labels},kind="started"}}"#),
    );
    assert_eq!(started, Some(1.0));
    let _ = std::fs::remove_dir_all(&dir);
}
