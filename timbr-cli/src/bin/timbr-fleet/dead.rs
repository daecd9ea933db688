//! `timbr-fleet dead`: the fleet's dead letters, listed, re-queued or purged. Every letter
//! is named by its DEAD_ID, the first column of `dead list` (its id in the dead-letter
//! stream, not the id it had in the queue's stream).

use clap::{Args, Subcommand};
use timbr_cli::Exit;
use timbr_redis::{DeadLetter, Requeue};

use crate::side::{self, clip, Purge, Side};
use crate::QueueArgs;

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

/// The dead-letter stream, as `dead list` shows it.
struct Dead;

impl Side for Dead {
    type Entry = DeadLetter;
    const NOUN: &'static str = "dead letters";
    const HEADER: &'static str = "DEAD_ID\tENTRY_ID\tDELIVERIES\tREQUEUE\tREASON\tDATUM";

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
            clip(&d.reason, SHOWN),
            clip(d.datum.as_deref().unwrap_or("-"), SHOWN),
        )
    }
}

pub(crate) fn dead(a: &DeadArgs) -> anyhow::Result<Exit> {
    let mut fleet = a.queue.fleet()?;
    match a.action.as_ref().unwrap_or(&Action::List {
        count: 100,
        json: false,
    }) {
        Action::List { count, json } => {
            let letters = fleet.dead_letters(*count)?;
            let stream = a.queue.options().dead_stream();
            side::list::<Dead>(&letters.iter().collect::<Vec<_>>(), *json, &stream)?;
        }
        Action::Requeue { dead_id } => {
            let id = fleet.requeue(dead_id)?;
            println!("requeued {dead_id} as entry {id}");
        }
        Action::RequeueAll => {
            let report = fleet.requeue_all(|d, done| match done {
                Requeue::Requeued(id) => println!("requeued {} as entry {id}", d.dead_id),
                Requeue::Skipped(why) => println!("skipped {}: {why}", d.dead_id),
                Requeue::Gone => println!("gone {}: re-queued or purged meanwhile", d.dead_id),
            })?;
            println!(
                "{} requeued, {} skipped (they stay dead: `dead purge` drops them), {} gone meanwhile",
                report.requeued, report.skipped, report.gone
            );
        }
        Action::Purge { dead_ids, all } => {
            let (purged, exit) = Purge::new(dead_ids, *all).run(
                &mut fleet,
                |fleet, ids| Ok(fleet.purge(ids)?),
                |fleet| Ok(fleet.purge_all()?),
            )?;
            let asked = if *all {
                String::new()
            } else {
                format!(" of {}", dead_ids.len())
            };
            println!("purged {purged}{asked} dead letters");
            return Ok(exit);
        }
    }
    Ok(Exit::Success)
}
