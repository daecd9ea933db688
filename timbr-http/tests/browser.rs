//! A real headless browser (Debian's `chromium`, driven over the DevTools protocol) opens
//! the dashboard of a running machine and of a fleet of two: the rendered page shows the
//! live numbers, they change as data flow, the console has no errors, and a screenshot is
//! saved under `target/test-artifacts/`.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use timbr_core::{Remote, RemoteOptions};
use timbr_http::{FleetWatch, HttpOptions, HttpServer, ServeHttp};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use common::{eventually, flowing_machine, scratch, tool, Reaper};

const LIMIT: Duration = Duration::from_secs(90);

/// `GET path` from Chromium's DevTools HTTP server, which answers HTTP/1.1 only and keeps
/// the connection open: the body is read up to its `Content-Length`.
fn devtools_get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = Vec::new();
    let mut buf = [0; 8192];
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })?
            .parse()
            .ok()?;
        if body.len() >= length {
            return Some(body.to_owned());
        }
    }
}

/// One page of a headless Chromium, and what its console said.
struct Browser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    errors: Vec<String>,
    _child: Reaper,
    dir: PathBuf,
}

impl Browser {
    fn launch() -> Browser {
        let dir = scratch("chromium");
        let child = Reaper(
            Command::new(tool("chromium", "chromium"))
                .args([
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--window-size=1280,1600",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                ])
                .arg(format!("--user-data-dir={}", dir.join("profile").display()))
                .arg("about:blank")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Chromium writes the port it chose into the profile directory.
        let port: u16 = eventually(LIMIT, "chromium's DevTools port", || {
            let text = std::fs::read_to_string(dir.join("profile/DevToolsActivePort")).ok()?;
            text.lines().next()?.trim().parse().ok()
        });
        let devtools = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let url = eventually(LIMIT, "a page target", || {
            let list: Value = serde_json::from_str(&devtools_get(devtools, "/json/list")?).ok()?;
            list.as_array()?.iter().find(|t| t["type"] == "page")?["webSocketDebuggerUrl"]
                .as_str()
                .map(str::to_owned)
        });
        let (mut ws, _) = tungstenite::connect(url.as_str()).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        let mut b = Browser {
            ws,
            next: 0,
            errors: Vec::new(),
            _child: child,
            dir,
        };
        b.call("Runtime.enable", json!({}));
        b.call("Log.enable", json!({}));
        b.call("Page.enable", json!({}));
        b
    }

    /// Sends a command and waits for its answer, noting console errors seen meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let Message::Text(text) = self.ws.read().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.note(&v);
        }
    }

    fn note(&mut self, v: &Value) {
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => self.errors.push(p["exceptionDetails"].to_string()),
            Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                self.errors.push(p["args"].to_string())
            }
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                self.errors.push(p["entry"].to_string())
            }
            _ => {}
        }
    }

    /// Evaluates `expr` in the page and returns its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    fn screenshot(&mut self, name: &str) -> PathBuf {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
    let path = b.screenshot(shot);
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    // Let the console report anything pending, then look.
    b.eval("1");
    assert!(b.errors.is_empty(), "console errors: {:#?}", b.errors);
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
