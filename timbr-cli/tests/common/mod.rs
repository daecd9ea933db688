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

/// The tweet ids in the records of a results stream, with how often each appears (packed
/// result entries unpacked, as `Fleet::result_records` does).
pub fn result_ids(
    con: &mut redis::Connection,
    stream: &str,
) -> std::collections::HashMap<u64, u64> {
    let mut ids = std::collections::HashMap::new();
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
                let id = array[0]["id"]
                    .as_u64()
                    .expect("the record's `in` is a tweet");
                *ids.entry(id).or_default() += 1;
            }
        }
    }
    ids
}
