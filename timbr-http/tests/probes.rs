//! Probes and scrapes get through whatever else holds connections: as many open dashboards
//! (event streams) as the server has slots, and as many connections that sent half a request
//! head and then nothing (a slowloris), all at once. The streams that were let in keep working.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use timbr_http::{HttpOptions, ServeHttp, DEFAULT_MAX_CONNECTIONS};

use common::{flowing_machine, get};

/// An event stream's connection: the answer's status code, and the socket to read on.
fn open_stream(addr: SocketAddr) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0];
    // The status line, byte by byte (nothing of the stream's data is consumed).
    while !head.ends_with(b"\r\n") && head.len() < 100 {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed: {head:?}");
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head).into_owned();
    let code = line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    (code, s)
}

/// Reads from an event stream until `n` more snapshots arrived.
fn snapshots(s: &mut TcpStream, n: usize) {
    let mut seen = String::new();
    let mut buf = [0; 8192];
    while seen.matches("data: ").count() < n {
        let got = s.read(&mut buf).unwrap();
        assert!(got > 0, "stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..got]));
    }
}

#[test]
fn probes_and_scrapes_get_through_open_streams_and_half_sent_requests() {
    let machine = flowing_machine("probed");
    // The default bound; heads may take long, so that only the slots' policy (not a timeout)
    // can let the probes in.
    let server = machine
        .serve_http(
            HttpOptions::new()
                .read_timeout(Duration::from_secs(120))
                .push_interval(Duration::from_millis(50)),
        )
        .unwrap();
    let addr = server.addr();
    let n = DEFAULT_MAX_CONNECTIONS;
    // As many dashboards as there are slots: half get a stream, the others 503 at once.
    let mut streams = Vec::new();
    let mut refused = 0;
    for _ in 0..n {
        match open_stream(addr) {
            (200, s) => streams.push(s),
            (503, _) => refused += 1,
            (code, _) => panic!("event stream answered {code}"),
        }
    }
    assert_eq!(streams.len(), n / 2);
    assert_eq!(refused, n / 2);
    // As many connections that send half a head and then wait.
    let slow: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost:").unwrap();
            s
        })
        .collect();
    // Every probe and scrape is answered, each at its first attempt.
    for round in 0..10 {
        for path in ["/livez", "/readyz", "/metrics"] {
            let r = get(addr, path, "");
            assert_eq!(r.code, 200, "{path}, round {round}: {}", r.body);
        }
    }
    // Half the slowloris connections did not fit in the request slots: as many were cut off.
    assert!(server.cut_off() >= (n / 2) as u64, "{}", server.cut_off());
    // The streams let in still push.
    for s in &mut streams {
        snapshots(s, 2);
    }
    assert!(server.connections() <= n, "{}", server.connections());
    drop(slow);
}
