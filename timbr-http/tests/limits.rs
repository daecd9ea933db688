//! Bad requests get a clear HTTP error and never hurt the machine: unknown paths, other
//! methods, huge heads, slow clients, idle connections, too many event streams, a
//! non-loopback address.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use timbr_http::{HttpOptions, ServeError, ServeHttp};

use common::{eventually, flowing_machine, get, parse, request};

#[test]
fn bad_requests_get_clear_errors_while_data_flow() {
    let machine = flowing_machine("limits");
    let server = machine
        .serve_http(
            HttpOptions::new()
                .max_connections(3)
                .read_timeout(Duration::from_millis(300)),
        )
        .unwrap();
    let addr = server.addr();
    let before = machine.counts().processed;

    let r = get(addr, "/nope", "");
    assert_eq!(r.code, 404);
    assert!(r.body.contains("/metrics"), "{}", r.body);

    let r = request(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.code, 405);
    assert!(r.head.contains("Allow: GET, HEAD"), "{}", r.head);

    let r = request(addr, "BREW /\r\n\r\n");
    assert_eq!(r.code, 400, "{}", r.body);

    let huge = format!("X-Big: {}\r\n", "a".repeat(20_000));
    let r = get(addr, "/metrics", &huge);
    assert_eq!(r.code, 431, "{}", r.body);

    let long = format!("/{}", "p".repeat(3000));
    assert_eq!(get(addr, &long, "").code, 414);

    // HEAD: the head alone.
    let r = request(addr, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(r.code, 200);
    assert!(r.body.is_empty());

    // A slow client: half a head, then nothing. It gets 408 once its time is up.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost:").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = Vec::new();
    slow.read_to_end(&mut out).unwrap();
    assert_eq!(parse(&out).code, 408);

    // Connections that send nothing hold no slot against a real request: with every request
    // slot taken by them, a newcomer cuts off the oldest, and is answered at once.
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    assert_eq!(get(addr, "/metrics", "").code, 200);
    assert!(server.cut_off() >= 1);
    drop(held);
    // Event streams have a budget of their own (half of the three slots: one); past it a
    // stream gets 503 at once.
    let mut first = TcpStream::connect(addr).unwrap();
    first
        .write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0; 64];
    assert!(first.read(&mut buf).unwrap() > 0);
    assert!(buf.starts_with(b"HTTP/1.1 200"));
    let refused = get(addr, "/api/events", "");
    assert_eq!(refused.code, 503, "{}", refused.body);
    assert!(refused.head.contains("Retry-After"), "{}", refused.head);
    assert!(refused.body.contains("event streams"), "{}", refused.body);
    assert!(server.refused() >= 1);
    drop(first);
    assert_eq!(get(addr, "/metrics", "").code, 200);

    // The machine went on all along.
    eventually(Duration::from_secs(30), "data to keep flowing", || {
        (machine.counts().processed > before + 100).then_some(())
    });
    assert!(machine.counts().is_balanced());
}

#[test]
fn only_loopback_unless_asked() {
    let machine = flowing_machine("remote");
    let any = "0.0.0.0:0".parse().unwrap();
    match machine.serve_http(HttpOptions::new().addr(any)) {
        Err(ServeError::NotLoopback(a)) => assert_eq!(a, any),
        other => panic!("expected NotLoopback, got {:?}", other.map(|s| s.addr())),
    }
    // Asked for explicitly, it listens (the test talks to it over loopback only).
    let server = machine
        .serve_http(HttpOptions::new().addr(any).allow_remote(true))
        .unwrap();
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], server.addr().port()));
    assert_eq!(get(local, "/readyz", "").code, 200);
}

#[test]
fn every_page_is_served() {
    let machine = flowing_machine("pages");
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let addr = server.addr();
    let page = get(addr, "/", "");
    assert_eq!(page.code, 200);
    assert!(page.head.contains("text/html"));
    assert!(page.body.contains("dashboard.js"));
    assert!(get(addr, "/dashboard.js", "").body.contains("EventSource"));
    assert!(get(addr, "/dashboard.css", "").head.contains("text/css"));
    let status: serde_json::Value =
        serde_json::from_str(&get(addr, "/api/status", "").body).unwrap();
    assert_eq!(status["machines"][0]["source"], "in-process");
    assert_eq!(status["machines"][0]["state"], "running");
    assert_eq!(status["totals"]["machines"], 1);
    // The event stream: a head, then one snapshot after another.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut seen = String::new();
    let mut buf = [0; 4096];
    while seen.matches("\ndata: ").count() < 2 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"));
    // Open metrics when asked for.
    let om = get(
        addr,
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0\r\n",
    );
    assert!(om.head.contains("application/openmetrics-text"));
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
}
