//! A real headless browser (Debian's `chromium`) driven over the DevTools protocol: the
//! dashboard tests open pages in it, read the DOM, and take screenshots.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::{eventually, scratch, tool, Reaper};

pub(crate) const LIMIT: Duration = Duration::from_secs(90);

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
pub(crate) struct Browser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    pub(crate) errors: Vec<String>,
    _child: Reaper,
    dir: PathBuf,
}

impl Browser {
    pub(crate) fn launch() -> Browser {
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
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
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
    pub(crate) fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    pub(crate) fn screenshot(&mut self, name: &str) -> PathBuf {
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

impl Browser {
    /// Takes a screenshot named `name` and checks that the page is not blank: a PNG of a
    /// page with text and charts is far larger than one of an empty page (a few KiB).
    pub(crate) fn screenshot_checked(&mut self, name: &str, least: u64) -> PathBuf {
        let path = self.screenshot(name);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size > least,
            "{} is {size} bytes: a blank page?",
            path.display()
        );
        path
    }

    /// Waits until `expr` (a JSON string expression) evaluates to something `check` accepts;
    /// while the page is not there yet (`expr` throws), it waits too.
    pub(crate) fn wait_for<R>(
        &mut self,
        limit: Duration,
        what: &str,
        expr: &str,
        mut check: impl FnMut(&Value) -> Option<R>,
    ) -> R {
        let guarded =
            format!("(() => {{ try {{ return ({expr}); }} catch (e) {{ return null; }} }})()");
        eventually(limit, what, || {
            let v: Value = serde_json::from_str(self.eval(&guarded).as_str()?).ok()?;
            check(&v)
        })
    }

    /// Lets the console report anything pending, then checks it reported no error.
    pub(crate) fn assert_no_console_errors(&mut self) {
        self.eval("1");
        assert!(self.errors.is_empty(), "console errors: {:#?}", self.errors);
    }
}
