//! The `timbr-fleet` program as worker and producer processes, on a real `redis-server`
//! per test (`timbr_testkit::Server`: a free loopback port, a temp dir, AOF on, that the
//! test can kill and restart), and what the tests read back from Redis.

#![allow(dead_code, unused_imports, unreachable_pub)] // each test binary uses a different part

use std::process::{Child, Command};

pub use timbr_testkit::{pending_of, redis, until, xlen, Server, PATIENCE};

/// The `timbr-fleet` program with `args`, its output to files in `dir`.
pub fn fleet(dir: &std::path::Path, name: &str, args: &[String]) -> Child {
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.err")))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .args(args)
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("timbr-fleet")
}

/// The arguments of a worker `name` on the `tweets` stream writing to `results`, then `extra`.
pub fn work_args(url: &str, name: &str, extra: &[&str]) -> Vec<String> {
    let common = [
        "work",
        "--redis",
        url,
        "--stream",
        "tweets",
        "--results",
        "results",
        "--consumer",
        name,
    ];
    args(&common).into_iter().chain(args(extra)).collect()
}

/// The arguments of the producer of `n` tweets on the `tweets` stream, then `extra`.
pub fn produce_args(url: &str, n: u64, extra: &[&str]) -> Vec<String> {
    let n = n.to_string();
    let common = [
        "produce", "--redis", url, "--stream", "tweets", "--count", &n,
    ];
    args(&common).into_iter().chain(args(extra)).collect()
}

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Waits for `child` to exit (failing the test past [`PATIENCE`]); returns whether it
/// succeeded.
pub fn wait(child: &mut Child) -> bool {
    timbr_testkit::wait(child, "a fleet process").success()
}

/// The place in the stream (`seq`) of each of the first `n` tweets `produce` puts (seed 1),
/// by tweet id: records and failures carry a tweet as its JSON, Twitter's fields (its `id`),
/// not its place.
pub fn seqs_by_id(n: u64) -> std::collections::HashMap<u64, u64> {
    timbr_tweets::TweetStream::new(1)
        .take(n as usize)
        .map(|t| (t.id, t.seq))
        .collect()
}

/// The place of the tweet `json` (a record's `in`, a failure's datum) among the first
/// tweets, `seqs` (from [`seqs_by_id`]).
pub fn seq_of(json: &serde_json::Value, seqs: &std::collections::HashMap<u64, u64>) -> u64 {
    let id = json["id"].as_u64().expect("a tweet");
    *seqs
        .get(&id)
        .unwrap_or_else(|| panic!("tweet id {id} is none of the first {} tweets", seqs.len()))
}

/// The places (`seq`) of the tweets in the records of a results stream, with how often each
/// appears (packed result entries unpacked, as `Fleet::result_records` does), for a
/// producer of `n` tweets.
pub fn result_seqs(
    con: &mut redis::Connection,
    stream: &str,
    n: u64,
) -> std::collections::HashMap<u64, u64> {
    let seqs = seqs_by_id(n);
    let mut found = std::collections::HashMap::new();
    let mut from = "-".to_owned();
    loop {
        let page: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(5000)
            .query(con)
            .unwrap();
        let Some(last) = page.ids.last() else { break };
        from = format!("({}", last.id);
        for e in &page.ids {
            let records: Vec<String> = match e.map.get("record") {
                Some(v) => vec![redis::from_redis_value(v).unwrap()],
                None => {
                    let lines: String = redis::from_redis_value(&e.map["records"]).unwrap();
                    lines.split('\n').map(str::to_owned).collect()
                }
            };
            for record in records {
                let array: Vec<serde_json::Value> = serde_json::from_str(&record).unwrap();
                *found.entry(seq_of(&array[0], &seqs)).or_default() += 1;
            }
        }
    }
    found
}
