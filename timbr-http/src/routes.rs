//! What each path serves. Everything is read-only: control stays on the machine's control
//! endpoint.

use std::io::Write;
use std::net::TcpStream;

use serde::Serialize;

use crate::dashboard;
use crate::history::Window;
use crate::metrics::{self, Format};
use crate::request::Request;
use crate::response::Response;
use crate::server::{stream_slot, App};
use crate::slots::Slot;

/// The paths served, for the 404 page.
const PATHS: &str = "/ (dashboard), /metrics, /livez, /readyz, /healthz, /api/status, /api/events, /api/history/5m (or 1h, all)";

#[derive(Serialize)]
struct Health<'a> {
    ok: bool,
    machines: &'a [crate::Verdict],
}

/// Answers `req` on `stream`, whose connection holds `slot`.
pub(crate) fn answer(
    app: &App,
    req: &Request,
    slot: &mut Slot<'_>,
    stream: &mut TcpStream,
) -> std::io::Result<()> {
    let head = req.method == "HEAD";
    if req.method != "GET" && !head {
        return Response::error(405, "this server is read-only")
            .header("Allow", "GET, HEAD")
            .write_to(stream, true);
    }
    if let Some((kind, text)) = dashboard::file(&req.path) {
        return Response::new(kind, text).write_to(stream, !head);
    }
    let response = match req.path.as_str() {
        "/metrics" => match app.observe() {
            Ok(observed) => {
                app.health.note(&observed);
                let format = Format::from_accept(req.accept.as_deref());
                match metrics::encode(observed, format) {
                    Ok(text) => Response::new(format.content_type(), text),
                    Err(e) => Response::error(500, &e.to_string()),
                }
            }
            Err(e) => Response::error(500, &e.to_string()),
        },
        "/livez" | "/healthz" => match app.observe() {
            Ok(observed) => health(&app.health.liveness(&observed)),
            Err(e) => Response::error(500, &e.to_string()),
        },
        "/readyz" => match app.observe() {
            Ok(observed) => health(&app.health.readiness(&observed)),
            Err(e) => Response::error(500, &e.to_string()),
        },
        "/api/status" => match app.observe() {
            Ok(observed) => Response::json(200, &app.board(observed)),
            Err(e) => Response::error(500, &e.to_string()),
        },
        "/api/events" => match stream_slot(app, slot) {
            Ok(()) if !head => return events(app, stream),
            Ok(()) => Response::new("text/event-stream", Vec::new()),
            Err(refused) => refused,
        },
        path => match path.strip_prefix("/api/history/").and_then(Window::parse) {
            Some(window) => Response::json(200, &app.history.lock().series(window)),
            None => Response::error(404, &format!("try {PATHS}")),
        },
    };
    response.write_to(stream, !head)
}

/// `200` when every machine passes, `503` otherwise (and when there is none).
fn health(verdicts: &[crate::Verdict]) -> Response {
    let ok = !verdicts.is_empty() && verdicts.iter().all(|v| v.ok);
    Response::json(
        if ok { 200 } else { 503 },
        &Health {
            ok,
            machines: verdicts,
        },
    )
}

/// Server-sent events: the board every push interval, until the client leaves (a write
/// fails or times out) or the server stops: then one last board marked `ended`.
fn events(app: &App, stream: &mut TcpStream) -> std::io::Result<()> {
    // A head without a length: the body is written as the board changes.
    let head = format!(
        "HTTP/1.1 200 {}\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n",
        crate::response::reason(200)
    );
    stream.write_all(head.as_bytes())?;
    // Reconnect after a second if the stream breaks.
    stream.write_all(b"retry: 1000\n\n")?;
    let mut ended = false;
    loop {
        // A feed that panicked (counted and kept by the server) ends the stream.
        let Ok(observed) = app.observe() else {
            return Ok(());
        };
        let mut board = app.board(observed);
        // The server stops (its process ends, most often): one last board, marked so, lets
        // the page show the final states at once rather than "reconnecting…".
        board.ended = ended;
        let json = serde_json::to_string(&board).map_err(std::io::Error::other)?;
        stream.write_all(b"data: ")?;
        stream.write_all(json.as_bytes())?;
        stream.write_all(b"\n\n")?;
        stream.flush()?;
        if ended {
            return Ok(());
        }
        ended = app.wait_stop(app.options.push_interval);
    }
}
