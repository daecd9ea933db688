//! `timbr-fleet dead`: the fleet's dead letters, listed, re-queued or purged. Every letter
//! is named by its DEAD_ID, the first column of `dead list` (its id in the dead-letter
//! stream, not the id it had in the queue's stream).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use timbr_redis::{DeadLetter, Requeue};

use crate::{chain, QueueArgs};

/// The longest datum or reason a `dead list` line shows (`--json` shows them whole).
const SHOWN: usize = 120;

#[derive(Args, Debug)]
pub(crate) struct DeadArgs {
    #[command(flatten)]
    queue: QueueArgs,
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// List dead letters, oldest first: DEAD_ID, the entry's id in the queue's stream,
    /// deliveries, whether it can be re-queued, the reason and the datum (the default).
    List {
        /// The most to list.
        #[arg(long, value_name = "N", default_value_t = 100)]
        count: usize,
        /// One JSON object a line, every field whole.
        #[arg(long)]
        json: bool,
    },
    /// Put one dead letter back on the queue's stream.
    Requeue {
        /// The letter, as `dead list` names it.
        dead_id: String,
    },
    /// Put back every dead letter there is now, once each (letters without a datum, or
    /// whose datum could not be decoded, stay: they would die again at once).
    RequeueAll,
    /// Drop dead letters for good, after inspection (the balance counts them as purged).
    Purge {
        /// The letters, as `dead list` names them.
        #[arg(
            value_name = "DEAD_ID",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        dead_ids: Vec<String>,
        /// Every dead letter there is now.
        #[arg(long)]
        all: bool,
    },
}

pub(crate) fn dead(a: &DeadArgs) -> Result<ExitCode, String> {
    let mut fleet = a.queue.fleet()?;
    match a.action.as_ref().unwrap_or(&Action::List {
        count: 100,
        json: false,
    }) {
        Action::List { count, json } => {
            let letters = fleet.dead_letters(*count).map_err(chain)?;
            if !json && !letters.is_empty() {
                println!("DEAD_ID\tENTRY_ID\tDELIVERIES\tREQUEUE\tREASON\tDATUM");
            }
            for d in &letters {
                if *json {
                    println!("{}", serde_json::to_string(d).map_err(|e| e.to_string())?);
                } else {
                    println!("{}", row(d));
                }
            }
            if !json && letters.is_empty() {
                eprintln!("no dead letters on `{}`", a.queue.options().dead_stream());
            }
        }
        Action::Requeue { dead_id } => {
            let id = fleet.requeue(dead_id).map_err(chain)?;
            println!("requeued {dead_id} as entry {id}");
        }
        Action::RequeueAll => {
            let report = fleet
                .requeue_all(|d, done| match done {
                    Requeue::Requeued(id) => println!("requeued {} as entry {id}", d.dead_id),
                    Requeue::Skipped(why) => println!("skipped {}: {why}", d.dead_id),
                    Requeue::Gone => println!("gone {}: re-queued or purged meanwhile", d.dead_id),
                })
                .map_err(chain)?;
            println!(
                "{} requeued, {} skipped (they stay dead: `dead purge` drops them), {} gone meanwhile",
                report.requeued, report.skipped, report.gone
            );
        }
        Action::Purge { dead_ids, all } => {
            let purged = if *all {
                fleet.purge_all().map_err(chain)?
            } else {
                let ids: Vec<&str> = dead_ids.iter().map(String::as_str).collect();
                fleet.purge(&ids).map_err(chain)?
            };
            let asked = if *all {
                String::new()
            } else {
                format!(" of {}", dead_ids.len())
            };
            println!("purged {purged}{asked} dead letters");
            if !*all && purged < dead_ids.len() as u64 {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One dead letter as a line of `dead list`.
fn row(d: &DeadLetter) -> String {
    let requeue = if d.unrequeueable().is_none() {
        "yes"
    } else {
        "no"
    };
    format!(
        "{}\t{}\t{}\t{requeue}\t{}\t{}",
        d.dead_id,
        d.id,
        d.deliveries,
        clip(&d.reason),
        clip(d.datum.as_deref().unwrap_or("-")),
    )
}

/// `s` on one line, at most [`SHOWN`] characters.
fn clip(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= SHOWN {
        one_line
    } else {
        let mut out: String = one_line.chars().take(SHOWN - 1).collect();
        out.push('…');
        out
    }
}
