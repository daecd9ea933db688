//! `timbr-fleet failures` from a shell: worker processes refusing some tweets fill the
//! failure stream; `failures list` shows them; `purge` asks first (no → nothing, yes → gone;
//! `--yes` does not ask); workers restarted with the fixed stage take what `replay --all`
//! puts back, every failure replaced by a success record, the balance exact.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use timbr_redis::{Fleet, RedisOptions};

const N: u64 = 600;

fn run(url: &str, args: &[&str], stdin: &str) -> Output {
    // The queue's options come between the command and its action.
    let mut child = Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .arg(args[0])
        .args(["--redis", url, "--stream", "tweets"])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn failures_are_listed_purged_on_confirmation_and_replayed_to_fixed_workers() {
    let server = Server::start();
    let url = server.url();
    let dir = &server.dir;
    let until = N.to_string();
    let mut producer = fleet(dir, "producer", &produce_args(&url, N, &["--quiet"]));
    let broken = [
        "--until-done",
        &until,
        "--fail-every",
        "10",
        "--status-every-ms",
        "0",
    ];
    let mut workers: Vec<_> = ["w1", "w2"]
        .iter()
        .map(|w| fleet(dir, w, &work_args(&url, w, &broken)))
        .collect();
    assert!(wait(&mut producer));
    for w in &mut workers {
        assert!(wait(w), "a worker failed");
    }
    let mut fleet_view = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let b = fleet_view.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    assert_eq!(b.failed, N / 10, "{b}");

    let out = run(&url, &["failures", "list", "--count", "1000"], "");
    assert!(out.status.success(), "{out:?}");
    let list = text(&out.stdout);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, N / 10, "{list}");
    assert!(list.starts_with("FAILURE_ID\tORIGIN\tSTAGE\tATTEMPTS\tERROR\tDATUM"));
    assert!(
        rows.iter().all(|r| r.contains("\tpoison\t1\ttweet ")),
        "{list}"
    );
    let out = run(
        &url,
        &["failures", "list", "--error", "tweet 30 refused", "--json"],
        "",
    );
    let picked: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(picked.len(), 1, "{out:?}");
    // The datum kept is the tweet as the producer put it, its place included: a replay
    // gives the workers tweet 30 again, not a tweet without its place.
    let datum: serde_json::Value = serde_json::from_str(picked[0]["datum"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {picked:?}"));
    assert_eq!(datum["seq"], 30, "{picked:?}");
    let first = picked[0]["failure_id"].as_str().unwrap().to_owned();

    // Asked, answered no (or nothing): nothing purged, exit 1.
    for answer in ["n\n", ""] {
        let out = run(&url, &["failures", "purge", &first], answer);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            text(&out.stderr).contains("drop 1 failures for good? [y/N]"),
            "{out:?}"
        );
        assert!(text(&out.stderr).contains("nothing purged"), "{out:?}");
    }
    assert_eq!(fleet_view.failure_count().unwrap(), N / 10);
    let out = run(&url, &["failures", "purge", &first], "y\n");
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("purged 1 failures"), "{out:?}");
    let out = run(
        &url,
        &[
            "failures",
            "purge",
            "--all",
            "--error",
            "tweet 40 ",
            "--yes",
        ],
        "",
    );
    assert!(
        out.status.success() && text(&out.stdout).contains("purged 1 failures"),
        "{out:?}"
    );
    let b = fleet_view.balance().unwrap();
    assert!(
        b.is_balanced() && b.purged == 2 && b.failed == N / 10 - 2,
        "{b}"
    );

    // Fixed workers, then the replay: every failure left comes back as a success.
    let fixed = ["--until-done", &until, "--status-every-ms", "0"];
    let mut workers: Vec<_> = ["w1", "w2"]
        .iter()
        .map(|w| fleet(dir, w, &work_args(&url, w, &fixed)))
        .collect();
    let out = run(&url, &["failures", "replay", "--all"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stdout).contains(&format!("{} replayed, 0 left", N / 10 - 2)),
        "{out:?}"
    );
    for w in &mut workers {
        assert!(wait(w), "a fixed worker failed");
    }
    let b = fleet_view.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    assert_eq!((b.failed, b.pending, b.unread), (0, 0, 0), "{b}");
    let results = fleet_view.results("results").unwrap();
    assert_eq!(results.replaced, N / 10 - 2, "{results:?}");
    assert_eq!(
        (results.distinct, results.duplicates),
        (N, 0),
        "{results:?}"
    );
    let out = run(&url, &["balance"], "");
    assert!(out.status.success(), "{out:?}");
}
