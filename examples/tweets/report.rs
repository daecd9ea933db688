//! The end of a single machine's run: what it did (its final status, the last tweets it
//! remembered, the moods, what it published), and whether that is what it should have done.

use std::error::Error;
use std::io::Write;
use std::sync::atomic::Ordering;

use timbr_core::io::ZmqStats;
use timbr_core::observe::human_count;
use timbr_core::{MachineState, Status};

use crate::stages::Memory;
use crate::{Ended, Options, REMEMBERED};

/// Says what the run did on `human` (and its final status as JSON on `out` with `--json`),
/// then whether it went as it should: a run stopped on purpose (signal `interrupted`, or a
/// `stop` from outside) must only have drained what it took; a completed one passes every
/// check.
///
/// # Errors
///
/// A check failed, or writing did.
pub(crate) fn finish(
    o: &Options,
    status: &Status,
    memory: &Memory,
    zmq: Option<&ZmqStats>,
    interrupted: usize,
    out: &mut dyn Write,
    human: &mut dyn Write,
) -> Result<Ended, Box<dyn Error>> {
    let remembered = describe(o, status, memory, zmq, out, human)?;
    verdict(o, status, remembered, interrupted, human)
}

/// What the run did; how many tweets the memory holds.
fn describe(
    o: &Options,
    status: &Status,
    memory: &Memory,
    zmq: Option<&ZmqStats>,
    out: &mut dyn Write,
    human: &mut dyn Write,
) -> Result<usize, Box<dyn Error>> {
    writeln!(human, "\n{status}")?;
    let recent = memory.recent.lock().map_err(|_| "the memory is poisoned")?;
    let remembered = recent.len();
    writeln!(human, "\nlast remembered (VADER compound, text):")?;
    for (score, text) in recent.iter().rev().take(5) {
        writeln!(human, "  {score:+.3}  {text}")?;
    }
    let moods: Vec<u64> = memory
        .moods
        .iter()
        .map(|m| m.load(Ordering::Relaxed))
        .collect();
    let scored: u64 = moods.iter().sum();
    let share = |n: u64| 100.0 * n as f64 / scored.max(1) as f64;
    writeln!(
        human,
        "\nsentiment of {} tweets: {:.1}% positive, {:.1}% neutral, {:.1}% negative",
        human_count(scored),
        share(moods[0]),
        share(moods[1]),
        share(moods[2]),
    )?;
    if let Some(zmq) = zmq {
        // What a slow subscriber lost at its high-water mark is not known here: ZeroMQ drops
        // per subscriber, silently. `timbr-sub --status` tells a subscriber its own loss.
        writeln!(
            human,
            "published on {}: {} sent ({} to no subscriber); a slow subscriber's loss is \
             counted by the subscriber (timbr-sub --status)",
            zmq.endpoint(),
            human_count(zmq.sent()),
            human_count(zmq.unrouted()),
        )?;
    }
    // Every 31st tweet taken fails: what this run took, also when a signal cut it short.
    writeln!(
        human,
        "{} tweets in {:.2?} ({}/s); {} failed (every 31st: {})",
        human_count(status.counts.accepted),
        status.uptime,
        human_count(status.rate.overall as u64),
        human_count(status.errors.stage),
        human_count(status.counts.accepted / 31),
    )?;
    if o.json {
        writeln!(out, "{}", serde_json::to_string(&status)?)?;
    }
    out.flush()?;
    human.flush()?;

    Ok(remembered)
}

/// Whether the run went as it should (see [`finish`]).
fn verdict(
    o: &Options,
    status: &Status,
    remembered: usize,
    interrupted: usize,
    human: &mut dyn Write,
) -> Result<Ended, Box<dyn Error>> {
    // Stopped on purpose (a signal, or a `stop` from the control endpoint: no handler of
    // this machine stops it otherwise): the run's checks do not apply, but what was taken
    // must have been drained.
    if interrupted != 0 || status.state == MachineState::Stopped {
        let ended = if interrupted != 0 {
            writeln!(
                human,
                "interrupted by signal {interrupted}: stopped, checks skipped"
            )?;
            Ended::Interrupted(interrupted)
        } else {
            writeln!(human, "stopped from outside: checks skipped")?;
            Ended::StoppedFromOutside
        };
        let c = &status.counts;
        if !c.is_balanced() || c.processed + c.failed != c.accepted {
            return Err(format!("the stop did not drain the queue: {c:?}").into());
        }
        return Ok(ended);
    }
    let problems = check(o, status, remembered);
    if problems.is_empty() {
        Ok(Ended::Done)
    } else {
        Err(format!("checks failed:\n  {}", problems.join("\n  ")).into())
    }
}

/// How many tweets the run should have taken: `--count`, unless the stream was endless or
/// cut short by `--seconds`, when it is what the source produced.
pub(crate) fn expected_count(o: &Options, status: &Status) -> u64 {
    if o.count == 0 || o.seconds.is_some() {
        status.counts.accepted
    } else {
        o.count
    }
}

/// What is wrong with the end of a run (nothing, if it went as it should).
pub(crate) fn check(o: &Options, status: &Status, remembered: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let expected = expected_count(o, status);
    let c = &status.counts;
    if status.state != MachineState::Completed {
        problems.push(format!("the machine did not complete: {}", status.state));
    }
    if !c.is_balanced() {
        problems.push(format!("the counts do not balance: {c:?}"));
    }
    if c.accepted != expected || (o.count > 0 && c.accepted > o.count) {
        problems.push(format!("{} tweets accepted, not {expected}", c.accepted));
    }
    if c.processed + c.failed != c.accepted {
        problems.push(format!("not every tweet went through: {c:?}"));
    }
    let every_31st = expected / 31;
    if status.errors.stage != every_31st || c.failed != every_31st {
        problems.push(format!(
            "{} stage errors and {} failed tweets, not one in 31 ({every_31st})",
            status.errors.stage, c.failed
        ));
    }
    for stage in &status.stages {
        let want = if stage.name == "every_31st" {
            every_31st
        } else {
            0
        };
        if stage.errors != want || stage.calls != expected {
            problems.push(format!(
                "stage `{}`: {} calls and {} errors, not {expected} and {want}",
                stage.name, stage.calls, stage.errors
            ));
        }
    }
    let e = &status.errors;
    if e.serialization + e.sink + e.source + e.handler > 0 {
        problems.push(format!("unexpected errors: {e:?}"));
    }
    if remembered != REMEMBERED.min(expected as usize) {
        problems.push(format!("{remembered} tweets remembered"));
    }
    problems
}
