//! `timbr-fleet failures`: the fleet's failure stream (data whose stage said no for good),
//! listed, replayed onto the queue for the (fixed) workers to take, or purged. Every failure
//! is named by its FAILURE_ID, the first column of `failures list`.

use clap::{Args, Subcommand};
use timbr_cli::Exit;
use timbr_redis::Failure;

use crate::side::{self, clip, confirm, Purge, Side};
use crate::QueueArgs;

/// The longest datum or error a `failures list` line shows (`--json` shows them whole).
const SHOWN: usize = 100;

#[derive(Args, Debug)]
pub(crate) struct FailuresArgs {
    #[command(flatten)]
    queue: QueueArgs,
    #[command(subcommand)]
    action: Option<Action>,
}

/// Which failures: every condition given must hold.
#[derive(Args, Debug, Clone, Default)]
struct Pick {
    /// Only failures of the stage with this name.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
    /// Only failures whose error contains this text.
    #[arg(long, value_name = "TEXT")]
    error: Option<String>,
}

impl Pick {
    fn matches(&self, f: &Failure) -> bool {
        self.stage.as_ref().is_none_or(|s| *s == f.stage)
            && self
                .error
                .as_ref()
                .is_none_or(|t| f.error.contains(t.as_str()))
    }
}

/// Which failures `replay` and `purge` take: those named, or every one there is now (that
/// --stage and --error pick).
#[derive(Args, Debug)]
struct Which {
    /// The failures, as `failures list` names them.
    #[arg(
        value_name = "FAILURE_ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    failure_ids: Vec<String>,
    /// Every failure there is now (that --stage and --error pick).
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    pick: Pick,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// List failures, oldest first: FAILURE_ID, origin, stage, attempts, error, datum (the
    /// default).
    List {
        #[command(flatten)]
        pick: Pick,
        /// The most to list.
        #[arg(long, value_name = "N", default_value_t = 100)]
        count: usize,
        /// One JSON object a line, every field whole.
        #[arg(long)]
        json: bool,
    },
    /// Put failures back on the queue's stream, keeping their origin: the workers take them
    /// (after a fix: restart the workers with the fixed stage first). Each is replayed once;
    /// one that fails again comes back to the failure stream.
    Replay {
        #[command(flatten)]
        which: Which,
    },
    /// Drop failures for good, after inspection (the balance counts them as purged). Asks
    /// for confirmation unless --yes.
    Purge {
        #[command(flatten)]
        which: Which,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// The failure stream, as `failures list` shows it.
struct Failures;

impl Side for Failures {
    type Entry = Failure;
    const NOUN: &'static str = "failures";
    const HEADER: &'static str = "FAILURE_ID\tORIGIN\tSTAGE\tATTEMPTS\tERROR\tDATUM";

    fn row(f: &Failure) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            f.failure_id,
            f.origin,
            f.stage,
            f.attempts,
            clip(&f.error, SHOWN),
            clip(&f.datum, SHOWN)
        )
    }
}

pub(crate) fn failures(a: &FailuresArgs) -> anyhow::Result<Exit> {
    let mut fleet = a.queue.fleet()?;
    let default = Action::List {
        pick: Pick::default(),
        count: 100,
        json: false,
    };
    match a.action.as_ref().unwrap_or(&default) {
        Action::List { pick, count, json } => {
            let all = fleet.failures(usize::MAX >> 1)?;
            let shown: Vec<&Failure> = all
                .iter()
                .filter(|f| pick.matches(f))
                .take(*count)
                .collect();
            let stream = a.queue.options().failure_stream();
            side::list::<Failures>(&shown, *json, &stream)?;
        }
        Action::Replay { which } => {
            let Which {
                failure_ids,
                all,
                pick,
            } = which;
            if *all {
                let report = fleet.replay_all(
                    |f| pick.matches(f),
                    |f, id| println!("replayed {} as entry {id}", f.failure_id),
                )?;
                println!(
                    "{} replayed, {} left (not picked), {} gone meanwhile",
                    report.replayed, report.left, report.gone
                );
            } else {
                let mut missing = 0;
                for failure_id in failure_ids {
                    match fleet.replay(failure_id)? {
                        Some(id) => println!("replayed {failure_id} as entry {id}"),
                        None => {
                            missing += 1;
                            eprintln!("no failure {failure_id} (replayed or purged meanwhile?)");
                        }
                    }
                }
                if missing > 0 {
                    return Ok(Exit::Failed);
                }
            }
        }
        Action::Purge { which, yes } => {
            let Which {
                failure_ids,
                all,
                pick,
            } = which;
            let what = if *all {
                let n = fleet
                    .failures(usize::MAX >> 1)?
                    .iter()
                    .filter(|f| pick.matches(f))
                    .count();
                format!("{n} failures (every one there is now that matches)")
            } else {
                format!("{} failures", failure_ids.len())
            };
            if !yes && !confirm(&format!("drop {what} for good? [y/N] "))? {
                eprintln!("nothing purged");
                return Ok(Exit::Failed);
            }
            let (purged, exit) = Purge::new(failure_ids, *all).run(
                &mut fleet,
                |fleet, ids| Ok(fleet.purge_failures(ids)?),
                |fleet| Ok(fleet.purge_failures_all(|f| pick.matches(f))?),
            )?;
            println!("purged {purged} failures");
            return Ok(exit);
        }
    }
    Ok(Exit::Success)
}
