//! `timbr-watch`: see into timbr machines running in other processes — the `top` of timbr —
//! and control them.
//!
//! ```text
//! timbr-watch status  STATUS_ENDPOINT [--once] [--timeout SECS] [--json]
//! timbr-watch control CONTROL_ENDPOINT [status | ping | start | stop | stop now] [--timeout SECS]
//! timbr-watch http    ADDR [--allow-remote] STATUS_ENDPOINT...
//! timbr-watch http    ADDR [--allow-remote] --redis URL --stream S [--group G]
//! timbr-watch fleet   --redis URL --stream S [--group G] [--every SECS] [--once] [--json]
//! timbr-watch completions SHELL
//! ```
//!
//! `status` subscribes to the status snapshots a `timbr_core::Remote` publishes and redraws
//! the machine's table for each (on a terminal; elsewhere it prints one table after
//! another). It ends once the machine has stopped, completed or failed (a `Remote`
//! publishes that last snapshot), or after the first snapshot with `--once`. With `--json`
//! it prints each snapshot as one JSON line instead of a table.
//!
//! `control` sends one request to a machine's control endpoint and prints the reply (the
//! status as a table for `status`, the default).
//!
//! `http` serves machines over HTTP until the process is killed: the live dashboard (one
//! page, with totals), Prometheus metrics on `/metrics`, health on `/livez` and `/readyz`,
//! and the page's data on `/api/status` (`timbr-http`). The machines are the STATUS_ENDPOINTs
//! given, or, with `--redis`, those of a fleet: every machine that announces a status
//! endpoint in the fleet's Redis registry (`timbr_redis::Announce::status_endpoint`: a
//! worker serving a `Remote` does), looked up again every 2 s, so that machines started
//! later join. A machine whose registry entry goes (forgotten, or replaced by a new life
//! under its name) leaves; one that ended keeps its last status (stopped, completed or
//! failed) while the registry keeps it. The page also shows the registry's own view, as
//! `fleet` does: every machine it lists, producers (which announce no endpoint) included,
//! the stream as Redis sees it and the balance. The endpoints must be reachable from this
//! host (`ipc://` ones only here).
//! `ADDR` must be a loopback address unless `--allow-remote` is given.
//!
//! `fleet` shows a whole fleet on a Redis Stream in the terminal, refreshed every `--every`
//! seconds (default 1): each machine (worker or producer, on any host) as it announces
//! itself in Redis (`timbr_redis::Announce`) — role, state, processed, failed, errors, put,
//! rate, and how long ago it was heard from — the fleet's totals, the stream and group as
//! Redis sees them (length, lag, pending, consumers, dead letters) and the fleet's balance.
//! A machine shows how it ended (`stopped`, `completed`, `failed`: its last word, kept for a
//! day) or `GONE` (not heard from for 5 s without such a word: killed or cut off); one
//! started again under its name adds to its earlier lives' counts. `--once` prints one
//! view; `--json` prints each as a JSON line. Until Ctrl-C otherwise. It is `timbr-fleet
//! watch` (the same code).
//!
//! Exit status ([`timbr_cli::Exit`]; `--help` lists them): 0 when the machine stopped or
//! completed (or the control reply says `ok`); 3 when it failed; 1 when no snapshot arrived
//! for `--timeout` seconds (default 10), no reply came, the reply says `ok: false`, or Redis
//! or the HTTP address could not be used; 2 for a usage error.

mod http;
mod machine;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use timbr_cli::{seconds, Exit};

/// Watch, control and serve over HTTP timbr machines running in other processes, one at a
/// time or a whole fleet on Redis.
#[derive(Parser, Debug)]
#[command(
    name = "timbr-watch",
    version,
    propagate_version = true,
    after_help = "Examples:\n  \
        timbr-watch status ipc:///run/user/1000/timbr/1234-1.status\n  \
        timbr-watch control ipc:///run/user/1000/timbr/1234-2.control stop\n  \
        timbr-watch http 127.0.0.1:9464 ipc://…/1234-1.status ipc://…/5678-1.status\n  \
        timbr-watch http 127.0.0.1:9464 --redis redis://127.0.0.1:6379 --stream tweets\n  \
        timbr-watch fleet --redis redis://127.0.0.1:6379 --stream tweets\n\n\
        `timbr-watch COMMAND --help` lists its flags.\n\n\
        Exit status:\n  \
        0  the machine stopped or completed (status); the reply says `ok` (control)\n  \
        1  no snapshot for --timeout seconds, no reply, the reply says `ok: false`, or Redis\n     \
        or the HTTP address could not be used\n  \
        2  a usage error\n  \
        3  the watched machine failed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show a machine's live status table, from the snapshots its status endpoint publishes,
    /// until it stops, completes or fails.
    Status {
        /// The machine's status endpoint (`ipc://…` or `tcp://…`, as it prints it).
        #[arg(value_name = "STATUS_ENDPOINT")]
        endpoint: String,
        /// Exit after the first snapshot.
        #[arg(long)]
        once: bool,
        /// Print each snapshot as one JSON line.
        #[arg(long)]
        json: bool,
        /// Give up when no snapshot arrived for this many seconds (0.001 to 86400).
        #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds(0.001, 86_400.0))]
        timeout: Duration,
    },
    /// Send one request to a machine's control endpoint and print the reply.
    Control {
        /// The machine's control endpoint.
        #[arg(value_name = "CONTROL_ENDPOINT")]
        endpoint: String,
        /// The request: status (the default), ping, start, stop, stop now.
        #[arg(value_name = "REQUEST")]
        request: Vec<String>,
        /// Give up when no reply arrived for this many seconds (0.001 to 86400).
        #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds(0.001, 86_400.0))]
        timeout: Duration,
    },
    /// Serve machines' dashboard, Prometheus metrics and health over HTTP until killed: the
    /// STATUS_ENDPOINTs given, or every machine of a Redis fleet that announces one.
    Http {
        /// Where to listen (e.g. 127.0.0.1:9464).
        #[arg(value_name = "ADDR")]
        addr: SocketAddr,
        /// The status endpoints of the machines to serve.
        #[arg(
            value_name = "STATUS_ENDPOINT",
            required_unless_present = "redis",
            conflicts_with = "redis"
        )]
        endpoints: Vec<String>,
        /// Allow an ADDR other hosts can reach (what is served is read-only).
        #[arg(long)]
        allow_remote: bool,
        /// Serve the fleet on this Redis server (`redis://[:password@]host:port[/db]`): the
        /// machines its registry lists with a status endpoint, looked up every 2 s, and the
        /// registry's view of every machine (producers included), the stream and the balance.
        #[arg(long, alias = "url", value_name = "URL", requires = "stream")]
        redis: Option<String>,
        /// With --redis: the fleet's stream.
        #[arg(
            long,
            value_name = "S",
            requires = "redis",
            conflicts_with = "endpoints"
        )]
        stream: Option<String>,
        /// With --redis: the fleet's consumer group.
        #[arg(long, value_name = "G", requires = "redis", default_value = timbr_redis::DEFAULT_GROUP)]
        group: String,
    },
    /// Show a whole fleet on a Redis Stream: every machine as it announces itself, the
    /// totals, the stream and group as Redis sees them, and the balance (`timbr-fleet watch`).
    Fleet {
        /// The Redis server: `redis://[:password@]host:port[/db]`.
        #[arg(long, alias = "url", value_name = "URL")]
        redis: String,
        /// The fleet's stream.
        #[arg(long, value_name = "S")]
        stream: String,
        /// The fleet's consumer group.
        #[arg(long, value_name = "G", default_value = timbr_redis::DEFAULT_GROUP)]
        group: String,
        /// Seconds between two views (0.05 to 3600).
        #[arg(long, value_name = "SECS", default_value = timbr_cli::DEFAULT_FLEET_EVERY, value_parser = seconds(0.05, 3600.0))]
        every: Duration,
        /// Print one view and exit.
        #[arg(long)]
        once: bool,
        /// Print each view as one JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions for SHELL.
    Completions {
        /// bash, elvish, fish, powershell or zsh.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    timbr_cli::init_logs();
    match timbr_cli::parse::<Cli>() {
        Ok(cli) => timbr_cli::finish("timbr-watch", run(cli.command)),
        Err(exit) => exit.into(),
    }
}

/// Does what `command` asks; how it ended.
fn run(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Status {
            endpoint,
            once,
            json,
            timeout,
        } => machine::watch(&endpoint, once, timeout, json),
        Command::Control {
            endpoint,
            request,
            timeout,
        } => {
            let request = match request.join(" ") {
                r if r.is_empty() => "status".to_owned(),
                r => r,
            };
            machine::control(&endpoint, &request, timeout)
        }
        Command::Http {
            addr,
            endpoints,
            allow_remote,
            redis,
            stream,
            group,
        } => {
            let options = timbr_http::HttpOptions::new()
                .addr(addr)
                .allow_remote(allow_remote);
            let served = match (redis, stream) {
                (Some(url), Some(stream)) => http::serve_fleet(options, &url, &stream, &group),
                _ => http::serve(options, &endpoints),
            };
            served.map(|never| match never {})
        }
        Command::Fleet {
            redis,
            stream,
            group,
            every,
            once,
            json,
        } => {
            let options = timbr_redis::WatchOptions {
                every,
                once,
                json,
                clear: std::io::stdout().is_terminal() && !json,
            };
            watch_fleet(&redis, &stream, &group, &options).map(|()| Exit::Success)
        }
        Command::Completions { shell } => {
            timbr_cli::print_completions::<Cli>(shell);
            Ok(Exit::Success)
        }
    }
}

/// Shows the fleet on `stream` until killed (or once): the same view and loop as
/// `timbr-fleet watch` (`timbr_redis::Fleet::watch`).
fn watch_fleet(
    url: &str,
    stream: &str,
    group: &str,
    options: &timbr_redis::WatchOptions,
) -> anyhow::Result<()> {
    let redis = timbr_redis::RedisOptions::new(url, stream).group(group);
    let mut fleet = timbr_redis::Fleet::connect(redis)?;
    let mut stdout = std::io::stdout().lock();
    fleet.watch(options, &mut stdout, &|| false)?;
    Ok(())
}

#[cfg(test)]
#[path = "../../readme_commands.rs"]
mod readme_commands;

#[cfg(test)]
mod tests {
    use super::readme_commands::readme_commands;
    use super::*;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("timbr-watch").chain(line.split_whitespace()))
            .map(|c| c.command)
    }

    #[test]
    fn arguments() {
        match parse("status ipc:///x --once --timeout 2.5").unwrap() {
            Command::Status { once, timeout, .. } => {
                assert_eq!((once, timeout), (true, Duration::from_millis(2500)))
            }
            other => panic!("{other:?}"),
        }
        match parse("fleet --redis redis://127.0.0.1:6379 --stream tweets --once --json").unwrap() {
            Command::Fleet {
                redis,
                stream,
                group,
                ..
            } => assert_eq!(
                (redis.as_str(), stream.as_str(), group.as_str()),
                ("redis://127.0.0.1:6379", "tweets", "timbr")
            ),
            other => panic!("{other:?}"),
        }
        match parse("control ipc:///c stop now").unwrap() {
            Command::Control { request, .. } => assert_eq!(request, ["stop", "now"]),
            other => panic!("{other:?}"),
        }
        match parse("http 127.0.0.1:0 --redis redis://127.0.0.1:1 --stream s --group g").unwrap() {
            Command::Http {
                endpoints, stream, ..
            } => assert_eq!((endpoints.len(), stream.as_deref()), (0, Some("s"))),
            other => panic!("{other:?}"),
        }
        assert!(parse("http 127.0.0.1:0 ipc:///a ipc:///b --allow-remote").is_ok());
        for bad in [
            "",
            "ipc:///x",
            "--control ipc:///c stop",
            "--redis redis://127.0.0.1:6379 --stream s",
            "--http 127.0.0.1:0 ipc:///x",
            "status",
            "status ipc:///x --timeout 0",
            "status ipc:///x --timeout 1e19",
            "status ipc:///x --bogus",
            "status ipc:///x ipc:///y",
            "control",
            "control ipc:///c --once",
            "http",
            "http 127.0.0.1:0",
            "http not-an-address ipc:///x",
            "http 127.0.0.1:0 ipc:///x --redis redis://127.0.0.1:1 --stream s",
            "http 127.0.0.1:0 --redis redis://127.0.0.1:1",
            "http 127.0.0.1:0 ipc:///x --stream s",
            "fleet --redis redis://127.0.0.1:6379",
            "fleet --stream tweets",
            "fleet --redis redis://127.0.0.1:6379 --stream s ipc:///x",
            "fleet --redis redis://127.0.0.1:6379 --stream s --every 0",
            "completions nosuchshell",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// Every `timbr-watch` command the README shows is one this program takes.
    #[test]
    fn the_readmes_commands_parse() {
        let lines = readme_commands(&["--bin timbr-watch -- "]);
        assert!(lines.len() >= 4, "{lines:?}");
        for (shown, line) in lines {
            if let Err(e) = parse(&line) {
                panic!("the README's `timbr-watch {shown}`: {e}");
            }
        }
    }
}
