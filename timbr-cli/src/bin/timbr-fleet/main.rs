//! `timbr-fleet`: run and inspect a fleet of timbr machines on one Redis Stream.
//!
//! ```text
//! timbr-fleet produce --redis URL --stream S [--count N] [--start K] [--seed S] [--pack P] [--fresh]
//! timbr-fleet work    --redis URL --stream S --results R [--consumer C] [--workers W] [--until-done N] …
//! timbr-fleet balance --redis URL --stream S            exit 1 if the accounts do not add up
//! timbr-fleet dead    --redis URL --stream S list [--count N] [--json]
//! timbr-fleet dead    --redis URL --stream S requeue DEAD_ID | requeue-all | purge (DEAD_ID… | --all)
//! timbr-fleet failures --redis URL --stream S list [--stage NAME] [--error TEXT] [--json]
//! timbr-fleet failures --redis URL --stream S replay FAILURE_ID… | --all [--stage NAME] [--error TEXT]
//! timbr-fleet failures --redis URL --stream S purge (FAILURE_ID… | --all) [--yes]
//! timbr-fleet results --redis URL --stream S --results R
//! timbr-fleet records --redis URL --stream S --results R [--after ENTRY] [--count N]
//! timbr-fleet watch   --redis URL --stream S [--every SECS] [--once] [--json]
//! timbr-fleet completions SHELL
//! ```
//!
//! `timbr-fleet COMMAND --help` lists every flag (`--url` is another name for `--redis`).
//! While `produce` and `work` run they print a progress line to stderr every second
//! (`--quiet`: none); Ctrl-C, SIGTERM or SIGQUIT stops them (a worker drains what it
//! fetched) with a final line, exit status 128 + the signal; a second signal ends the
//! process at once. A producer continues where its last run under the same `--consumer`
//! name stopped. `watch` is `timbr-watch fleet`: every machine of the fleet as it announces
//! itself, the totals, the queue as Redis sees it and the balance.
//!
//! The data are the `tweets` example's tweets (`timbr_tweets`: Twitter's JSON, about 1 KB
//! each), put with their place in the stream (`seq`, which `--fail-every`, `--flaky` and
//! `--abort-on` name); the worker's stages are cheap by default (words, a checksum) so that
//! a fleet's costs are Redis's and timbr's, or the notebook's pipeline with `--stages
//! sentiment` (`demo.rs`).
//!
//! Exit status ([`timbr_cli::Exit`]; `--help` lists them): 0 when the command did what was
//! asked; 1 when Redis could not be used, the balance does not add up, a named dead letter
//! or failure was not there, or a purge was not confirmed; 2 for a usage error (a `--start`
//! and `--count` whose sum passes the largest tweet number among them); 128 + the signal
//! that stopped `produce`, `work` or `watch`. Logs of the libraries go to stderr as `RUST_LOG` says
//! (`timbr_cli::init_logs`); the Redis queue's events are this program's own `event:` lines.

mod dead;
mod demo;
mod failures;
mod produce;
mod queue;
mod side;
mod work;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use timbr_cli::{seconds, Exit};
use timbr_redis::WatchOptions;

use queue::QueueArgs;

/// Run and inspect a fleet of timbr machines on one Redis Stream.
#[derive(Parser, Debug)]
#[command(
    name = "timbr-fleet",
    version,
    propagate_version = true,
    after_help = "Examples:\n  \
        timbr-fleet produce --redis redis://127.0.0.1:6379 --stream tweets --count 100000\n  \
        timbr-fleet work --redis redis://127.0.0.1:6379 --stream tweets --results tweets:results\n  \
        timbr-fleet balance --redis redis://127.0.0.1:6379 --stream tweets\n\n\
        `timbr-fleet COMMAND --help` lists its flags.\n\n\
        Exit status:\n  \
        0    the command did what was asked\n  \
        1    Redis could not be used, the balance does not add up, a named dead letter or\n       \
        failure was not there, or a purge was not confirmed\n  \
        2    a usage error\n  \
        128+ the signal that stopped produce, work or watch (Ctrl-C: 130)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Put the `tweets` example's tweets on the stream, continuing where the last producer
    /// of the same --consumer name stopped.
    Produce(produce::ProduceArgs),
    /// Run a worker: a machine processing what it takes from the stream.
    Work(work::WorkArgs),
    /// Print the fleet's balance: produced = acked + pending + unread + dead (plus failed
    /// and purged);
    /// exit status 1 if it does not add up.
    Balance(QueueArgs),
    /// List, re-queue or purge dead letters (data that crashed workers).
    Dead(dead::DeadArgs),
    /// List, replay or purge failures (data whose stage said no for good).
    Failures(failures::FailuresArgs),
    /// Count the records of a results stream, and duplicates by origin (as JSON).
    Results(ResultsArgs),
    /// Print the records of a results stream, one JSON object a line, packed result
    /// entries (work --pack-results) unpacked into their records.
    Records(RecordsArgs),
    /// Show every machine of the fleet, the totals, the queue and the balance (what
    /// `timbr-watch fleet` shows).
    Watch(WatchArgs),
    /// Print shell completions for SHELL.
    Completions {
        /// bash, elvish, fish, powershell or zsh.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
struct ResultsArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// The results stream.
    #[arg(long, value_name = "R")]
    results: String,
}

#[derive(Args, Debug)]
struct RecordsArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// The results stream.
    #[arg(long, value_name = "R")]
    results: String,
    /// Start after this entry of the results stream (the last line on stderr names the
    /// entry to continue after).
    #[arg(long, value_name = "ENTRY")]
    after: Option<String>,
    /// The most entries to read (a packed entry gives all its records).
    #[arg(long, value_name = "N", default_value_t = 100)]
    count: usize,
}

#[derive(Args, Debug)]
struct WatchArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// Seconds between two views (0.05 to 3600).
    #[arg(long, value_name = "SECS", default_value = timbr_cli::DEFAULT_FLEET_EVERY, value_parser = seconds(0.05, 3600.0))]
    every: Duration,
    /// Print one view and exit.
    #[arg(long)]
    once: bool,
    /// Print each view as one JSON line.
    #[arg(long)]
    json: bool,
}

/// The signal that asked this process to stop (0: none yet), from
/// [`timbr_cli::stop_signals`].
pub(crate) struct Signals(Arc<AtomicUsize>);

impl Signals {
    /// The signal's number, 0 until one arrived.
    pub(crate) fn received(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// How a run ends that only a signal stops early: [`Exit::Signal`], or success.
    pub(crate) fn exit(&self) -> Exit {
        match self.received() {
            0 => Exit::Success,
            sig => Exit::Signal(i32::try_from(sig).unwrap_or(0)),
        }
    }
}

fn main() -> ExitCode {
    // The Redis queue's events are said by `produce` and `work` themselves (`event: …`).
    timbr_cli::init_logs_or(&format!("{},timbr_redis=off", timbr_cli::DEFAULT_LOGS));
    let cli = match timbr_cli::parse::<Cli>() {
        Ok(cli) => cli,
        Err(exit) => return exit.into(),
    };
    let outcome = timbr_cli::stop_signals()
        .context("cannot handle signals")
        .and_then(|signal| run(cli.command, &Signals(signal)));
    timbr_cli::finish("timbr-fleet", outcome)
}

/// Does what `command` asks; how it ended.
fn run(command: Command, signals: &Signals) -> anyhow::Result<Exit> {
    match command {
        Command::Produce(a) => produce::produce(&a, signals),
        Command::Work(a) => work::work(&a, signals),
        Command::Balance(q) => balance(&q),
        Command::Dead(a) => dead::dead(&a),
        Command::Failures(a) => failures::failures(&a),
        Command::Results(a) => results(&a),
        Command::Records(a) => records(&a),
        Command::Watch(a) => watch(&a, signals),
        Command::Completions { shell } => {
            timbr_cli::print_completions::<Cli>(shell);
            Ok(Exit::Success)
        }
    }
}

fn balance(q: &QueueArgs) -> anyhow::Result<Exit> {
    let b = q.fleet()?.balance()?;
    println!("{b}");
    Ok(if b.is_balanced() {
        Exit::Success
    } else {
        Exit::Failed
    })
}

fn results(a: &ResultsArgs) -> anyhow::Result<Exit> {
    let r = a.queue.fleet()?.results(&a.results)?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(Exit::Success)
}

/// Prints the records of up to `--count` entries, one JSON line each; malformed entries and
/// where to continue go to stderr.
fn records(a: &RecordsArgs) -> anyhow::Result<Exit> {
    let page = a
        .queue
        .fleet()?
        .result_records(&a.results, a.after.as_deref(), a.count)?;
    for r in &page.records {
        println!("{}", serde_json::to_string(r)?);
    }
    for m in &page.malformed {
        eprintln!("entry {} is no record: {}", m.entry, m.reason);
    }
    match &page.last {
        Some(last) => eprintln!(
            "{} records; continue with --after {last}",
            page.records.len()
        ),
        None => eprintln!(
            "no entries after {}",
            a.after.as_deref().unwrap_or("the start")
        ),
    }
    Ok(Exit::Success)
}

fn watch(a: &WatchArgs, signals: &Signals) -> anyhow::Result<Exit> {
    let options = WatchOptions {
        every: a.every,
        once: a.once,
        json: a.json,
        clear: std::io::stdout().is_terminal() && !a.json,
    };
    let mut stdout = std::io::stdout().lock();
    a.queue
        .fleet()?
        .watch(&options, &mut stdout, &|| signals.received() != 0)?;
    Ok(signals.exit())
}

#[cfg(test)]
#[path = "../../readme_commands.rs"]
mod readme_commands;

#[cfg(test)]
mod tests {
    use super::readme_commands::readme_commands;
    use super::*;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("timbr-fleet").chain(line.split_whitespace()))
            .map(|c| c.command)
    }

    #[test]
    fn redis_is_the_flag_and_url_its_old_name() {
        for flag in ["--redis", "--url"] {
            match parse(&format!("balance {flag} redis://127.0.0.1:1 --stream s")).unwrap() {
                Command::Balance(q) => assert_eq!(q.redis, "redis://127.0.0.1:1"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn watch_every_is_bounded() {
        match parse("watch --redis r --stream s --every 0.5").unwrap() {
            Command::Watch(w) => assert_eq!(w.every, Duration::from_millis(500)),
            other => panic!("{other:?}"),
        }
        for bad in ["0", "0.049", "3601", "NaN", "soon"] {
            assert!(
                parse(&format!("watch --redis r --stream s --every {bad}")).is_err(),
                "{bad}"
            );
        }
    }

    /// Every `timbr-fleet` command the README shows is one this program takes.
    #[test]
    fn the_readmes_commands_parse() {
        let lines = readme_commands(&["--bin timbr-fleet -- ", "$F "]);
        assert!(lines.len() >= 10, "{lines:?}");
        for (shown, line) in lines {
            if let Err(e) = parse(&line) {
                panic!("the README's `timbr-fleet {shown}`: {e}");
            }
        }
    }
}
