//! `timbr-watch http` serving the workers the fleet registry lists.

use super::*;

/// `GET path` over plain TCP (HTTP/1.0: the server closes after answering): the status code
/// and the body, or `None` while nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// Issue 20, item 14: `timbr-watch http ADDR --redis URL --stream S` (refused before) serves
/// every worker that announces a status endpoint in the registry: one running when it
/// started and one started after, in `/metrics` and `/livez`; a worker that stopped keeps
/// its last status (live, not ready).
#[test]
fn the_http_dashboard_serves_the_workers_the_registry_lists() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let worker = |name: &str| worker(&dir, &url, name);
    let endpoint = |name: &str| -> Option<String> {
        view(&url)
            .machines
            .into_iter()
            .find(|m| m.machine.name == name && m.machine.state == "running")?
            .machine
            .status_endpoint
    };
    let mut w1 = worker("w1");
    let mut e1 = None;
    until("w1 to announce its status endpoint", || {
        e1 = endpoint("w1");
        e1.is_some()
    });
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = std::fs::File::create(dir.join("watch.err")).unwrap();
    let mut watcher = Command::new(timbr_watch())
        .args([
            "http",
            &addr.to_string(),
            "--redis",
            &url,
            "--stream",
            "tweets",
        ])
        .stderr(log)
        .spawn()
        .expect("timbr-watch http --redis");
    // Killed whatever happens below (it serves until killed).
    struct Reap<'a>(&'a mut Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let watcher = Reap(&mut watcher);
    let mut w2 = worker("w2");
    let mut e2 = None;
    until("w2 to announce its status endpoint", || {
        e2 = endpoint("w2");
        e2.is_some()
    });
    let (e1, e2) = (e1.unwrap(), e2.unwrap());
    // Labelled by name: the endpoints are paths named after the workers' process ids, which
    // would make new series at every restart.
    let serves = |name: &str, body: &str| {
        body.contains(&format!("machine=\"{name}\"")) && !body.contains(&e1) && !body.contains(&e2)
    };
    until("both workers in /metrics, and /livez 200", || {
        let metrics = get(addr, "/metrics");
        let livez = get(addr, "/livez");
        matches!((&metrics, &livez), (Some((200, m)), Some((200, _))) if serves("w1", m) && serves("w2", m))
    });
    let (_, livez) = get(addr, "/livez").unwrap();
    let health: serde_json::Value = serde_json::from_str(&livez).unwrap();
    assert_eq!(
        health["machines"].as_array().map(Vec::len),
        Some(2),
        "{health}"
    );

    // w1 stops (SIGTERM): it says so in its last status, which the page keeps.
    kill_process(Pid::from_raw(w1.id() as i32).unwrap(), Signal::TERM).unwrap();
    assert_eq!(wait(&mut w1, "w1").code(), Some(128 + 15));
    until(
        "/readyz 503 for the stopped worker, /livez still 200",
        || {
            let ready = get(addr, "/readyz");
            let live = get(addr, "/livez");
            matches!((&ready, &live), (Some((503, r)), Some((200, _))) if r.contains("stopped"))
        },
    );
    let (code, metrics) = get(addr, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        serves("w1", &metrics) && serves("w2", &metrics),
        "{metrics}"
    );
    let err = read(&dir, "watch.err");
    assert!(err.contains("following `w1` (worker)"), "{err}");
    assert!(err.contains("following `w2` (worker)"), "{err}");
    assert!(!err.contains(&url), "no Redis URL in its banner: {err}");

    kill_process(Pid::from_raw(w2.id() as i32).unwrap(), Signal::TERM).unwrap();
    assert_eq!(wait(&mut w2, "w2").code(), Some(128 + 15));
    drop(watcher);
}
