//! The control protocol: one-frame requests, one-frame JSON replies.
//!
//! A request is a command word (`status`, `ping`, `start`, `stop`, `stop drain`,
//! `stop now`) or the JSON object `{"cmd": "stop", "mode": "now"}`. Every request gets
//! exactly one reply: `{"ok": true, …}`, or `{"ok": false, "error": "…"}` for anything it does
//! not understand.
//!
//! `stop now` finishes the data in flight and stops; what is queued stays queued, for the
//! next `start` (the library's [`StopMode::Return`] underneath, but nobody is handed the
//! data). It used to be spelled `stop return`, which is refused with a message saying so: the
//! library's `Return` hands the data back to its caller, a remote stop cannot.

use serde_json::{json, Value};

use crate::StopMode;

/// What a control request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// The machine's status.
    Status,
    /// A sign of life.
    Ping,
    /// Start the machine.
    Start,
    /// Ask the machine to stop (it does not wait for the threads).
    Stop(StopMode),
}

/// The commands, for error messages.
pub(crate) const COMMANDS: &str = "status, ping, start, stop, stop drain, stop now";

/// Reads a request: exactly one frame of at most `max` bytes of UTF-8 naming a command.
pub(crate) fn parse(frames: &[Vec<u8>], max: usize) -> Result<Command, String> {
    let [frame] = frames else {
        return Err(format!(
            "a request is one frame; this one had {}",
            frames.len()
        ));
    };
    if frame.len() > max {
        return Err(format!(
            "a request is at most {max} bytes; this one had {}",
            frame.len()
        ));
    }
    let text = std::str::from_utf8(frame).map_err(|_| "a request is UTF-8 text".to_owned())?;
    let text = text.trim();
    if text.starts_with('{') {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("a JSON request did not parse: {e}"))?;
        let cmd = v
            .get("cmd")
            .and_then(Value::as_str)
            .ok_or_else(|| "a JSON request needs a string field `cmd`".to_owned())?;
        let mode = match v.get("mode") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) => Some(m.as_str()),
            Some(other) => return Err(format!("`mode` must be a string, not {other}")),
        };
        return command(cmd, mode);
    }
    let mut words = text.split_whitespace();
    let cmd = words.next().unwrap_or_default();
    let mode = words.next();
    if let Some(extra) = words.next() {
        return Err(format!("unexpected `{}`", clip(extra)));
    }
    command(cmd, mode)
}

fn command(cmd: &str, mode: Option<&str>) -> Result<Command, String> {
    let command = match cmd {
        "status" => Command::Status,
        "ping" => Command::Ping,
        "start" => Command::Start,
        "stop" => Command::Stop(match mode {
            None | Some("drain") => StopMode::Drain,
            Some("now") => StopMode::Return,
            Some("return") => {
                return Err(
                    "`stop return` is not a remote command: a remote stop hands \
                     no data back; `stop now` finishes the data in flight and keeps the \
                     queued ones for the next start, `stop` drains the queue first"
                        .to_owned(),
                )
            }
            Some(other) => {
                return Err(format!("unknown stop mode `{}`: drain or now", clip(other)))
            }
        }),
        "" => return Err(format!("an empty request; commands: {COMMANDS}")),
        other => {
            return Err(format!(
                "unknown command `{}`; commands: {COMMANDS}",
                clip(other)
            ))
        }
    };
    match (command, mode) {
        (Command::Stop(_), _) | (_, None) => Ok(command),
        (_, Some(m)) => Err(format!("`{cmd}` takes no argument, not `{}`", clip(m))),
    }
}

/// User text quoted back, cut short: an error reply never grows with the request.
fn clip(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// `{"ok": false, "error": message}`.
pub(crate) fn error(message: &str) -> Value {
    json!({ "ok": false, "error": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Result<Command, String> {
        parse(&[s.as_bytes().to_vec()], 4096)
    }

    #[test]
    fn words_and_json() {
        assert_eq!(one("status"), Ok(Command::Status));
        assert_eq!(one(" ping\n"), Ok(Command::Ping));
        assert_eq!(one("start"), Ok(Command::Start));
        assert_eq!(one("stop"), Ok(Command::Stop(StopMode::Drain)));
        assert_eq!(one("stop now"), Ok(Command::Stop(StopMode::Return)));
        assert_eq!(one(r#"{"cmd":"status"}"#), Ok(Command::Status));
        assert_eq!(
            one(r#"{"cmd":"stop","mode":"now"}"#),
            Ok(Command::Stop(StopMode::Return))
        );
    }

    #[test]
    fn everything_else_is_an_error_that_says_why() {
        for (request, why) in [
            ("", "empty"),
            ("explode", "unknown command `explode`"),
            ("stop later", "unknown stop mode"),
            ("stop return", "`stop now` finishes the data in flight"),
            (r#"{"cmd":"stop","mode":"return"}"#, "hands no data back"),
            ("status please", "takes no argument"),
            ("stop drain now", "unexpected `now`"),
            ("{", "did not parse"),
            (r#"{"command":"stop"}"#, "field `cmd`"),
            (r#"{"cmd":"stop","mode":3}"#, "must be a string"),
        ] {
            let e = one(request).unwrap_err();
            assert!(e.contains(why), "{request:?}: {e}");
        }
        assert!(parse(&[vec![0xff, 0xfe]], 10)
            .unwrap_err()
            .contains("UTF-8"));
        assert!(parse(&[vec![b'a'; 11]], 10)
            .unwrap_err()
            .contains("at most 10"));
        assert!(parse(&[b"status".to_vec(), b"x".to_vec()], 10)
            .unwrap_err()
            .contains("one frame"));
        assert!(parse(&[], 10).unwrap_err().contains("had 0"));
        let long = one(&"x".repeat(1000)).unwrap_err();
        assert!(long.len() < 200, "{long}");
    }
}
