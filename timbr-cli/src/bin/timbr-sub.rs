//! `timbr-sub`: subscribes to the ZeroMQ endpoint of a machine's `ZmqSink` and prints what
//! arrives, checking every message's shape.
//!
//! ```text
//! timbr-sub ENDPOINT [--count N] [--idle-timeout-ms MS] [--summary]
//! ```
//!
//! Each message must be two frames, the oid as 24 hex characters and a JSON array; each is
//! printed as the JSON line `{"oid":"…","record":[…]}` (malformed ones are described on
//! stderr). It stops after `--count` messages, or when none arrived for `--idle-timeout-ms`.
//! With `--summary` it prints only, at the end, one JSON object: `received`, `well_formed`,
//! `distinct_oids`, `first_oid`, `last_oid`, `problems` (the first ten) and `complete`.
//!
//! The exit status is 0 when every message was well formed and, with `--count`, that many
//! arrived; 1 otherwise; 2 for a usage error.

use std::process::ExitCode;

#[cfg(feature = "zmq")]
fn main() -> ExitCode {
    sub::main()
}

#[cfg(not(feature = "zmq"))]
fn main() -> ExitCode {
    eprintln!("timbr-sub: built without the `zmq` feature of timbr-core");
    ExitCode::from(2)
}

#[cfg(feature = "zmq")]
mod sub {
    use std::collections::HashSet;
    use std::io::{self, Write};
    use std::process::ExitCode;

    const USAGE: &str = "usage: timbr-sub ENDPOINT [--count N] [--idle-timeout-ms MS] [--summary]";
    const KEPT_PROBLEMS: usize = 10;

    struct Args {
        endpoint: String,
        count: Option<u64>,
        idle_timeout_ms: i64,
        summary: bool,
    }

    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut endpoint = None;
        let mut count = None;
        let mut idle_timeout_ms = -1; // ZeroMQ's "wait forever"
        let mut summary = false;
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| format!("{name} needs a whole number"))
            };
            match arg.as_str() {
                "--count" => count = Some(value("--count")?),
                "--idle-timeout-ms" => {
                    idle_timeout_ms = i64::try_from(value("--idle-timeout-ms")?).unwrap_or(i64::MAX)
                }
                "--summary" => summary = true,
                "-h" | "--help" => return Err(String::new()),
                _ if arg.starts_with('-') => return Err(format!("unknown option `{arg}`")),
                _ if endpoint.is_none() => endpoint = Some(arg),
                _ => return Err(format!("unexpected argument `{arg}`")),
            }
        }
        let endpoint = endpoint.ok_or("an ENDPOINT is needed")?;
        Ok(Args {
            endpoint,
            count,
            idle_timeout_ms,
            summary,
        })
    }

    /// What one message should be: `[oid hex, JSON array]`; the oid, or why not.
    fn check(frames: &[Vec<u8>]) -> Result<&str, String> {
        let [oid, record] = frames else {
            return Err(format!("{} frames instead of 2", frames.len()));
        };
        let oid = std::str::from_utf8(oid)
            .ok()
            .filter(|o| o.len() == 24 && o.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("frame 1 is not 24 hex characters: {oid:?}"))?;
        match serde_json::from_slice::<serde_json::Value>(record) {
            Ok(serde_json::Value::Array(_)) => Ok(oid),
            Ok(other) => Err(format!("frame 2 is JSON but not an array: {other}")),
            Err(e) => Err(format!("frame 2 is not JSON: {e}")),
        }
    }

    pub(super) fn main() -> ExitCode {
        let args = match parse(std::env::args().skip(1)) {
            Ok(args) => args,
            Err(message) => {
                if !message.is_empty() {
                    eprintln!("timbr-sub: {message}");
                }
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        };
        match run(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("timbr-sub: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::SUB)?;
        socket.set_rcvhwm(0)?; // never the reason a message is lost
        socket.set_linger(0)?;
        socket.connect(&args.endpoint)?;
        socket.set_subscribe(b"")?;

        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let (mut received, mut well_formed) = (0_u64, 0_u64);
        let mut oids = HashSet::new();
        let (mut first_oid, mut last_oid) = (None, None);
        let mut problems = Vec::new();
        while args.count.is_none_or(|n| received < n) {
            if socket.poll(zmq::POLLIN, args.idle_timeout_ms)? == 0 {
                break; // idle for too long
            }
            let frames = socket.recv_multipart(0)?;
            received += 1;
            match check(&frames) {
                Ok(oid) => {
                    well_formed += 1;
                    if first_oid.is_none() {
                        first_oid = Some(oid.to_owned());
                    }
                    last_oid = Some(oid.to_owned());
                    oids.insert(oid.to_owned());
                    if !args.summary {
                        out.write_all(b"{\"oid\":\"")?;
                        out.write_all(oid.as_bytes())?;
                        out.write_all(b"\",\"record\":")?;
                        out.write_all(&frames[1])?;
                        out.write_all(b"}\n")?;
                        out.flush()?;
                    }
                }
                Err(problem) => {
                    let problem = format!("message {received}: {problem}");
                    eprintln!("timbr-sub: {problem}");
                    if problems.len() < KEPT_PROBLEMS {
                        problems.push(problem);
                    }
                }
            }
        }
        let complete = args.count.is_none_or(|n| received == n);
        let ok = complete && well_formed == received;
        if args.summary {
            let summary = serde_json::json!({
                "endpoint": args.endpoint,
                "received": received,
                "well_formed": well_formed,
                "distinct_oids": oids.len(),
                "first_oid": first_oid,
                "last_oid": last_oid,
                "problems": problems,
                "complete": complete,
            });
            writeln!(out, "{summary}")?;
        }
        out.flush()?;
        Ok(ok)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn messages_are_checked() {
            let oid = b"0123456789abcdef01234567".to_vec();
            assert!(check(&[oid.clone(), b"[1,2]".to_vec()]).is_ok());
            assert!(check(std::slice::from_ref(&oid)).is_err());
            assert!(check(&[oid.clone(), b"{}".to_vec()]).is_err());
            assert!(check(&[oid.clone(), b"[1,".to_vec()]).is_err());
            assert!(check(&[b"xyz".to_vec(), b"[]".to_vec()]).is_err());
            assert!(check(&[oid.clone(), b"[]".to_vec(), b"[]".to_vec()]).is_err());
        }

        #[test]
        fn arguments() {
            let args = |s: &str| parse(s.split_whitespace().map(str::to_owned));
            let a = args("tcp://127.0.0.1:1 --count 5 --summary").unwrap();
            assert_eq!((a.count, a.summary, a.idle_timeout_ms), (Some(5), true, -1));
            assert!(args("--count 5").is_err());
            assert!(args("ipc:///x --count").is_err());
            assert!(args("ipc:///x --bogus").is_err());
        }
    }
}
