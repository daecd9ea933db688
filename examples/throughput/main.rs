//! End-to-end throughput of a machine, against a hand-written floor doing the same work.
//!
//! ```text
//! cargo run --release --example throughput -- [--json] [--n N] [--only WORKLOAD]
//! cargo run --release --example throughput -- [--json] [--n N] [--rounds R] --pair FLOOR,WORKLOAD
//! cargo run --release --example throughput -- --help    # every workload, and what it measures
//! ```
//!
//! Prints one line per workload; with `--json`, one JSON object per line with at least
//! `workload`, `datums_per_s` and `us_per_datum`.
//!
//! `--pair` compares two workloads on a noisy machine: `R` rounds (default 21), each running
//! both on `N` data (fewer if either is a heavy workload, which runs on `N / 10` in the table)
//! back to back (in alternating order), and prints the median of the
//! rounds' ratios `WORKLOAD / FLOOR` with its range, and each workload's median time. Two
//! runs a second apart see the same machine, so their ratio holds still where separate runs'
//! times drift by tens of percent.

mod workloads;

use std::time::Duration;

use clap::Parser;
use serde_json::{json, Value};

use workloads::{Runner, Workload};

/// End-to-end throughput of a machine, against hand-written floors doing the same work.
///
/// Runs every workload (or `--only` one) on N data after a warm-up on N / 10, and prints
/// one line each: data per second and µs per datum. `--pair` compares two instead.
#[derive(Parser, Debug)]
#[command(name = "throughput")]
struct Args {
    /// Print one JSON object per line (at least `workload`, `datums_per_s`, `us_per_datum`;
    /// with --pair, `ratio_median` and the medians).
    #[arg(long)]
    json: bool,
    /// Data per workload (the heavy ones run on N / 10).
    #[arg(long, value_name = "N", default_value_t = 200_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    n: usize,
    /// Run only this workload.
    #[arg(long, value_name = "WORKLOAD", conflicts_with = "pair")]
    only: Option<Workload>,
    /// Compare two workloads (names as for --only): R rounds, each running both back to
    /// back in alternating order, and the median of the rounds' ratios WORKLOAD / FLOOR.
    #[arg(long, value_name = "FLOOR,WORKLOAD", value_parser = two_workloads)]
    pair: Option<(Workload, Workload)>,
    /// Rounds of --pair.
    #[arg(long, value_name = "R", default_value_t = 21, requires = "pair",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    rounds: usize,
}

/// `--pair`'s `FLOOR,WORKLOAD`.
fn two_workloads(text: &str) -> Result<(Workload, Workload), String> {
    let (floor, workload) = text
        .split_once(',')
        .ok_or("two workload names are needed: FLOOR,WORKLOAD")?;
    let named = |name: &str| {
        <Workload as clap::ValueEnum>::from_str(name, false)
            .map_err(|_| format!("no workload `{name}` (--help lists them)"))
    };
    Ok((named(floor)?, named(workload)?))
}

fn main() {
    // The figures are those of a program with no subscriber (what a library user gets by
    // default); `RUST_LOG` shows the machines' events all the same.
    if std::env::var_os("RUST_LOG").is_some() {
        timbr_cli::init_logs();
    }
    let args = Args::parse();
    if let Some((floor, workload)) = args.pair {
        let n = floor.size(args.n).min(workload.size(args.n));
        pair(
            &args,
            n,
            (&name(floor), &floor.runner()),
            (&name(workload), &workload.runner()),
        );
        return;
    }
    for &workload in <Workload as clap::ValueEnum>::value_variants() {
        if args.only.is_some_and(|only| only != workload) {
            continue;
        }
        let (run, n) = (workload.runner(), workload.size(args.n));
        // A short warm-up, then the measured run.
        run((n / 10).max(10));
        let elapsed = run(n);
        report(&args, &name(workload), n, elapsed, json!({}));
    }
}

/// A workload's name on the command line.
fn name(workload: Workload) -> String {
    clap::ValueEnum::to_possible_value(&workload)
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

fn report(args: &Args, workload: &str, n: usize, elapsed: Duration, extra: Value) {
    let secs = elapsed.as_secs_f64();
    let per_s = n as f64 / secs;
    let us = secs * 1e6 / n as f64;
    if args.json {
        let mut line = json!({"workload": workload, "n": n, "datums_per_s": per_s.round(), "us_per_datum": (us * 1000.0).round() / 1000.0});
        if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), extra) {
            line.extend(extra);
        }
        println!("{line}");
    } else {
        println!("{workload:<28} {per_s:>12.0} datums/s {us:>10.3} µs/datum");
    }
}

/// `--pair`: both workloads back to back, `args.rounds` times, and the median of the rounds'
/// ratios.
///
/// Both run on `n` data: the smaller of the two workloads' own sizes (a heavy workload runs
/// on fewer data than `--n`), so that a round takes no longer than the table's runs.
fn pair(args: &Args, n: usize, floor: (&str, &Runner), workload: (&str, &Runner)) {
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    floor.1((n / 10).max(10));
    workload.1((n / 10).max(10));
    let (mut floors, mut workloads, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let (f, w) = if round % 2 == 0 {
            let f = floor.1(n);
            (f, workload.1(n))
        } else {
            let w = workload.1(n);
            (floor.1(n), w)
        };
        floors.push(us(f));
        workloads.push(us(w));
        ratios.push(w.as_secs_f64() / f.as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let (ratio, f, w) = (
        median(&mut ratios),
        median(&mut floors),
        median(&mut workloads),
    );
    if args.json {
        println!(
            "{}",
            json!({"pair": [floor.0, workload.0], "n": n, "rounds": args.rounds,
                   "ratio_median": round3(ratio), "ratio_min": round3(lo), "ratio_max": round3(hi),
                   "floor_us_median": round3(f), "workload_us_median": round3(w)})
        );
    } else {
        println!(
            "{} / {}: {ratio:.3}x (rounds {lo:.3}-{hi:.3}), {f:.3} / {w:.3} µs/datum (medians of {} rounds of {n})",
            workload.0, floor.0, args.rounds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("throughput").chain(line.split_whitespace()))
    }

    /// Every `throughput` command the README, BENCHMARKS.md and CI show is one it takes.
    #[test]
    fn the_documented_commands_parse() {
        let docs = [
            include_str!("../../README.md"),
            include_str!("../../BENCHMARKS.md"),
            include_str!("../../.ci/test"),
        ];
        let commands: Vec<&str> = docs
            .iter()
            .flat_map(|doc| doc.lines())
            .filter_map(|l| l.split_once("--example throughput -- ").map(|(_, a)| a))
            .map(|args| args.split(['`', '#']).next().unwrap_or_default())
            .collect();
        assert!(commands.len() >= 5, "{commands:?}");
        for args in commands {
            if let Err(e) = parse(args) {
                panic!("`throughput {args}`: {e}");
            }
        }
    }

    #[test]
    fn arguments() {
        let args =
            parse("--n 2000 --rounds 3 --pair queue_identity8,queue_stages8 --json").unwrap();
        assert_eq!((args.n, args.rounds, args.json), (2000, 3, true));
        assert_eq!(
            args.pair,
            Some((Workload::QueueIdentity8, Workload::QueueStages8))
        );
        let args = parse("--only heavy20us_workers2").unwrap();
        assert_eq!(args.only, Some(Workload::Heavy20usWorkers2));
        assert_eq!(args.n, 200_000);
        for bad in [
            "--n 0",
            "--n",
            "--only nosuch",
            "--pair queue_identity8",
            "--pair queue_identity8,nosuch",
            "--rounds 3",
            "--pair queue_identity8,queue_stages8 --rounds 0",
            "--only queue_identity8 --pair queue_identity8,queue_stages8",
            "--bogus",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// `--help` says what each workload measures, one line each.
    #[test]
    fn every_workload_is_explained() {
        use clap::{CommandFactory, ValueEnum};
        let help = Args::command().render_long_help().to_string();
        for workload in Workload::value_variants() {
            let value = workload.to_possible_value().unwrap();
            let line = format!("- {}:", value.get_name());
            assert!(help.contains(&line), "{line} in {help}");
            assert!(value.get_help().is_some_and(|h| h.to_string().len() > 20));
        }
    }
}
