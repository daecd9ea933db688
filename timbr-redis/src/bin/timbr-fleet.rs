//! `timbr-fleet`: run and inspect a fleet of timbr machines on one Redis Stream.
//!
//! ```text
//! timbr-fleet produce --url U --stream S --count N [--start K] [--capacity C] [--pack P]
//! timbr-fleet work    --url U --stream S --results R [--consumer C] [--workers W]
//!                     [--claim-after-ms MS] [--max-deliveries N] [--batch B]
//!                     [--until-done N] [--abort-on ID] [--status-every-ms MS]
//!                     [--stages tweet|identity8|cpu] [--cpu-us US]
//! timbr-fleet balance --url U --stream S         exit 1 if the accounts do not add up
//! timbr-fleet dead    --url U --stream S [list | requeue DEAD_ID | requeue-all]
//! timbr-fleet results --url U --stream S --results R
//! timbr-fleet watch   --url U --stream S [--every-ms MS] [--once 1]
//! ```
//!
//! `watch` shows every machine of the fleet (the group's consumers: pending, idle) with the
//! totals and the fleet's balance, refreshed every second.
//!
//! The data are small tweet-like records (`{"id":…,"user":…,"text":…}`); the worker's
//! stages are cheap (words, a checksum) so that a fleet's costs are Redis's and timbr's.
//! `--abort-on ID` makes the worker abort the whole process on datum ID (a poison datum).

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{Announce, Fleet, RedisEvent, RedisOptions, RedisQueue, RedisStatus};

/// A tweet-like datum.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Tweet {
    id: u64,
    user: String,
    text: String,
}

const WORDS: [&str; 12] = [
    "stream", "redis", "fleet", "machine", "happy", "sad", "great", "worst", "data", "timbr",
    "lost", "found",
];

fn tweet(id: u64) -> Tweet {
    let n = (id as usize).wrapping_mul(2654435761);
    let text = (0..6)
        .map(|i| WORDS[(n >> (i * 4)) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ");
    Tweet {
        id,
        user: format!("user{}", id % 997),
        text,
    }
}

struct Args {
    command: String,
    rest: Vec<String>,
    flags: HashMap<String, String>,
}

/// What `timbr-fleet --help` prints (the header above, for a terminal).
const USAGE: &str = "\
usage:
  timbr-fleet produce --url U --stream S --count N [--start K] [--capacity C] [--pack P]
  timbr-fleet work    --url U --stream S --results R [--consumer C] [--workers W]
                      [--claim-after-ms MS] [--max-deliveries N] [--batch B]
                      [--until-done N] [--abort-on ID] [--status-every-ms MS]
                      [--stages tweet|identity8|cpu] [--cpu-us US]
  timbr-fleet balance --url U --stream S         exit 1 if the accounts do not add up
  timbr-fleet dead    --url U --stream S [list [--count N] | requeue DEAD_ID | requeue-all]
  timbr-fleet results --url U --stream S --results R
  timbr-fleet watch   --url U --stream S [--every-ms MS] [--once 1]
Every command also takes --group G, --consumer C, --batch B, --capacity C,
--claim-after-ms MS and --max-deliveries N (the queue's options), and
--pack P: data per entry a producer puts (default 1; more is faster, see
RedisOptions::pack).";

/// The queue's options, which every command reads.
const QUEUE_FLAGS: [&str; 9] = [
    "url",
    "stream",
    "group",
    "consumer",
    "batch",
    "pack",
    "capacity",
    "claim-after-ms",
    "max-deliveries",
];

/// The flags a command reads besides the queue's: anything else is a mistake to report,
/// not to ignore (a misspelt `--worker 4` would otherwise run one worker in silence).
fn command_flags(command: &str) -> Option<&'static [&'static str]> {
    Some(match command {
        "produce" => &["count", "start"],
        "work" => &[
            "results",
            "workers",
            "until-done",
            "abort-on",
            "status-every-ms",
            "stages",
            "cpu-us",
        ],
        "balance" => &[],
        "dead" => &["count"],
        "results" => &["results"],
        "watch" => &["every-ms", "once"],
        _ => return None,
    })
}

fn parse() -> Result<Option<Args>, String> {
    let mut it = std::env::args().skip(1).peekable();
    match it.peek().map(String::as_str) {
        None => return Err(format!("a command is needed\n{USAGE}")),
        Some("-h" | "--help" | "help") => return Ok(None),
        Some(_) => {}
    }
    let command = it.next().unwrap_or_default();
    let known =
        command_flags(&command).ok_or_else(|| format!("unknown command `{command}`\n{USAGE}"))?;
    let mut flags = HashMap::new();
    let mut rest = Vec::new();
    while let Some(a) = it.next() {
        if matches!(a.as_str(), "-h" | "--help") {
            return Ok(None);
        }
        if let Some(name) = a.strip_prefix("--") {
            if !QUEUE_FLAGS.contains(&name) && !known.contains(&name) {
                return Err(format!("`{command}` takes no --{name}\n{USAGE}"));
            }
            let value = it.next().ok_or(format!("--{name} needs a value"))?;
            flags.insert(name.to_owned(), value);
        } else {
            rest.push(a);
        }
    }
    Ok(Some(Args {
        command,
        rest,
        flags,
    }))
}

impl Args {
    fn text(&self, name: &str) -> Result<String, String> {
        self.flags
            .get(name)
            .cloned()
            .ok_or(format!("--{name} is required"))
    }

    fn num<N: std::str::FromStr>(&self, name: &str, default: N) -> Result<N, String> {
        match self.flags.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: `{v}` is not a number")),
        }
    }

    fn options(&self) -> Result<RedisOptions, String> {
        let mut o = RedisOptions::new(self.text("url")?, self.text("stream")?)
            .batch(self.num("batch", 256)?)
            .pack(self.num("pack", 1)?)
            .capacity(self.num("capacity", 100_000)?)
            .claim_after(Duration::from_millis(self.num("claim-after-ms", 30_000)?))
            .max_deliveries(self.num("max-deliveries", 5)?);
        if let Some(g) = self.flags.get("group") {
            o = o.group(g);
        }
        if let Some(c) = self.flags.get("consumer") {
            o = o.consumer(c);
        }
        Ok(o)
    }
}

fn main() -> ExitCode {
    match parse() {
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Some(args)) => run(args).unwrap_or_else(|e| {
            eprintln!("timbr-fleet: {e}");
            ExitCode::FAILURE
        }),
        Err(e) => {
            eprintln!("timbr-fleet: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    match args.command.as_str() {
        "produce" => produce(&args),
        "work" => work(&args),
        "balance" => {
            let b = fleet(&args)?.balance().map_err(chain)?;
            println!("{b}");
            Ok(if b.is_balanced() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "dead" => dead(&args),
        "watch" => watch(&args),
        "results" => {
            let r = fleet(&args)?
                .results(&args.text("results")?)
                .map_err(chain)?;
            println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        // `parse` knows every command `run` does.
        other => Err(format!("unknown command `{other}`")),
    }
}

fn chain(e: impl std::error::Error + 'static) -> String {
    timbr_core::error_chain(&e)
}

fn fleet(args: &Args) -> Result<Fleet, String> {
    Fleet::connect(args.options()?).map_err(chain)
}

fn produce(args: &Args) -> Result<ExitCode, String> {
    let queue = RedisQueue::<Tweet>::connect(args.options()?).map_err(chain)?;
    let start: u64 = args.num("start", 0)?;
    let count: u64 = args.num("count", 10_000)?;
    let t = Instant::now();
    queue
        .put_all((start..start + count).map(tweet))
        .map_err(chain)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"produced\":{count},\"seconds\":{secs:.3},\"per_second\":{:.0}}}",
        count as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

fn work(args: &Args) -> Result<ExitCode, String> {
    let queue = RedisQueue::<Tweet>::connect(args.options()?).map_err(chain)?;
    queue.on_event(|e| match e {
        RedisEvent::Claimed { .. } => {}
        other => eprintln!("event: {other:?}"),
    });
    let abort_on: Option<u64> = args
        .flags
        .get("abort-on")
        .map(|v| v.parse())
        .transpose()
        .map_err(|_| "--abort-on: not a number")?;
    let words = Stage::new(0, "words", ["input"], |t: &Tweet| {
        t.text.split_whitespace().count()
    })
    .map_err(chain)?;
    let checksum = Stage::new(1, "checksum", ["input"], |t: &Tweet| {
        t.text
            .bytes()
            .fold(0_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
    })
    .map_err(chain)?;
    let poison = Stage::new(2, "poison", ["input"], move |t: &Tweet| {
        if Some(t.id) == abort_on {
            // The datum that kills its worker, every time: what dead letters are for.
            std::process::abort();
        }
        t.id
    })
    .map_err(chain)?;
    // A CPU-bound stage for scaling measurements: about `cpu_us` microseconds of arithmetic.
    let cpu_us: u64 = args.num("cpu-us", 50)?;
    let spin = Stage::new(3, "spin", ["input"], move |t: &Tweet| {
        let end = Instant::now() + Duration::from_micros(cpu_us);
        let mut h = t.id;
        while Instant::now() < end {
            for _ in 0..64 {
                h = h
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
        }
        h
    })
    .map_err(chain)?;
    let stages = match args.flags.get("stages").map_or("tweet", String::as_str) {
        // Eight empty slots: the cost of the queue, the sink and the machine alone.
        "identity8" => vec![],
        "tweet" => vec![words, checksum, poison],
        "cpu" => vec![words, checksum, poison, spin],
        other => {
            return Err(format!(
                "--stages: `{other}` is not identity8, tweet or cpu"
            ))
        }
    };
    let machine = Machine::<Tweet>::builder()
        .name(queue.options().consumer_name())
        .queue(queue.clone())
        .sink(queue.sink(args.text("results")?))
        .plugin(RedisStatus::new(&queue))
        // In the fleet's registry, so `timbr-watch --redis` lists it with the others.
        .plugin(Announce::for_queue(&queue, "worker").map_err(chain)?)
        .workers(args.num("workers", 1)?)
        .stages(stages)
        .build()
        .map_err(chain)?;
    machine.start().map_err(chain)?;
    let until: Option<u64> = args
        .flags
        .get("until-done")
        .map(|v| v.parse())
        .transpose()
        .map_err(|_| "--until-done: not a number")?;
    let every = Duration::from_millis(args.num("status-every-ms", 0)?);
    let mut fleet = fleet(args)?;
    let mut last_status = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if !every.is_zero() && last_status.elapsed() >= every {
            last_status = Instant::now();
            eprintln!("{}", machine.status());
        }
        if let Some(n) = until {
            // Done when the fleet has dealt with every datum: acknowledged or dead (data, not
            // entries: a packed entry holds many).
            if let Ok(b) = fleet.balance() {
                if b.acked_data + b.dead >= n && b.pending == 0 && b.unread == 0 {
                    break;
                }
            }
        }
    }
    machine.stop(StopMode::Drain);
    let status = machine.status();
    println!(
        "{}",
        serde_json::to_string(&status).map_err(|e| e.to_string())?
    );
    Ok(ExitCode::SUCCESS)
}

fn dead(args: &Args) -> Result<ExitCode, String> {
    let mut fleet = fleet(args)?;
    match args.rest.first().map(String::as_str) {
        None | Some("list") => {
            for d in fleet.dead_letters(args.num("count", 100)?).map_err(chain)? {
                println!("{}", serde_json::to_string(&d).map_err(|e| e.to_string())?);
            }
        }
        Some("requeue") => {
            let id = args.rest.get(1).ok_or("requeue DEAD_ID")?;
            println!("{}", fleet.requeue(id).map_err(chain)?);
        }
        Some("requeue-all") => println!("{}", fleet.requeue_all().map_err(chain)?),
        Some(other) => {
            return Err(format!(
                "dead: unknown `{other}` (list, requeue, requeue-all)"
            ))
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn watch(args: &Args) -> Result<ExitCode, String> {
    let mut fleet = fleet(args)?;
    let every = Duration::from_millis(args.num("every-ms", 1000)?.max(50));
    let once = args.flags.contains_key("once");
    loop {
        let members = fleet.members().map_err(chain)?;
        let balance = fleet.balance().map_err(chain)?;
        let mut out = format!(
            "fleet {} / group {}: {} machines\n{:<24} {:>10} {:>12}\n",
            fleet.options().stream(),
            fleet.options().group_name(),
            members.len(),
            "machine",
            "pending",
            "idle"
        );
        for m in &members {
            out.push_str(&format!(
                "{:<24} {:>10} {:>10}ms\n",
                m.name, m.pending, m.idle_ms
            ));
        }
        let pending: u64 = members.iter().map(|m| m.pending).sum();
        out.push_str(&format!("{:<24} {:>10}\n{balance}\n", "total", pending));
        print!("{out}");
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        println!();
        std::thread::sleep(every);
    }
}
