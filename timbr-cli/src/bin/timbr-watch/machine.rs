//! One machine in another process: its live status table (`timbr-watch status`) and its
//! control endpoint (`timbr-watch control`).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{anyhow, Context};
use timbr_cli::{connect, is_final, state_name, Exit};
use timbr_core::{machine::STATUS_TOPIC, zmq, Status};

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Shows the snapshots published on `endpoint` until the machine ends (or once); the exit
/// status.
pub(crate) fn watch(
    endpoint: &str,
    once: bool,
    timeout: Duration,
    json: bool,
) -> anyhow::Result<Exit> {
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB)?;
    sub.set_rcvtimeo(millis(timeout))
        .and_then(|()| sub.set_linger(0))
        .and_then(|()| sub.set_subscribe(STATUS_TOPIC.as_bytes()))
        .with_context(|| format!("cannot subscribe to {endpoint}"))?;
    connect(&ctx, &sub, endpoint, timeout)?;
    let terminal = std::io::stdout().is_terminal() && !json;
    let mut stdout = std::io::stdout().lock();
    loop {
        let frames = match sub.recv_multipart(0) {
            Ok(frames) => frames,
            Err(zmq::Error::EAGAIN) => {
                return Err(anyhow!(
                    "no status from {endpoint} for {timeout:.0?}; is the machine serving it?"
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let [topic, body] = &frames[..] else {
            eprintln!("timbr-watch: ignoring a message of {} frames", frames.len());
            continue;
        };
        if topic.as_slice() != STATUS_TOPIC.as_bytes() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("timbr-watch: ignoring a snapshot that does not parse: {e}");
                continue;
            }
        };
        let state = state_name(&value).unwrap_or("unknown").to_owned();
        let shown = if json {
            writeln!(stdout, "{}", String::from_utf8_lossy(body))
        } else {
            match serde_json::from_value::<Status>(value) {
                // Clear the screen and draw the table from the top.
                Ok(status) if terminal => writeln!(stdout, "\x1b[2J\x1b[H{status}"),
                Ok(status) => writeln!(stdout, "{status}"),
                Err(_) => writeln!(stdout, "{}", String::from_utf8_lossy(body)),
            }
        };
        // A closed stdout (a pipe into `head`) ends the watch, quietly.
        if shown.and_then(|()| stdout.flush()).is_err() {
            return Ok(Exit::Success);
        }
        if state == "failed" {
            return Ok(Exit::MachineFailed);
        }
        if once || is_final(&state) {
            return Ok(Exit::Success);
        }
    }
}

/// Sends `request` to the control endpoint and prints the reply; the exit status.
pub(crate) fn control(endpoint: &str, request: &str, timeout: Duration) -> anyhow::Result<Exit> {
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ)?;
    req.set_rcvtimeo(millis(timeout))
        .and_then(|()| req.set_linger(0))
        .with_context(|| format!("cannot connect to {endpoint}"))?;
    connect(&ctx, &req, endpoint, timeout)?;
    req.send(request, 0)?;
    let reply = req
        .recv_bytes(0)
        .with_context(|| format!("no reply from {endpoint} within {timeout:.0?}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&reply).context("the reply is not JSON")?;
    match value
        .get("status")
        .map(|s| serde_json::from_value::<Status>(s.clone()))
    {
        Some(Ok(status)) => println!("{status}"),
        _ => println!("{value}"),
    }
    Ok(if value["ok"] == true {
        Exit::Success
    } else {
        Exit::Failed
    })
}
