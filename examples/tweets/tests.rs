//! The tweets program's own tests: its flags, its stages, and a whole run in process.

use super::*;
use timbr_core::{MachineState, Status};

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

fn options(line: &str) -> Options {
    match parse(args(line)) {
        Ok(o) => o,
        Err(e) => panic!("{line}: {e}"),
    }
}

/// Runs as the command line would; the JSON line (if any) and the human output.
fn run_line(line: &str) -> (Result<(), String>, String, String) {
    let (mut out, mut human) = (Vec::new(), Vec::new());
    let result = run(&options(line), &mut out, &mut human, &AtomicUsize::new(0))
        .map(|ended| assert_eq!(ended, Ended::Done))
        .map_err(|e| e.to_string());
    (
        result,
        String::from_utf8(out).unwrap(),
        String::from_utf8(human).unwrap(),
    )
}

/// What CI runs: `cargo run --release --example tweets -- --count 5000 --json`.
#[test]
fn the_ci_smoke_run_passes_its_checks_and_prints_one_json_status() {
    let (result, out, human) = run_line("--count 5000 --json");
    assert_eq!(result, Ok(()), "{human}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let status: Status = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(status.state, MachineState::Completed);
    assert_eq!(status.counts.accepted, 5000);
    assert_eq!(status.counts.failed, 5000 / 31);
    assert_eq!(status.errors.stage, 161);
    assert_eq!(status.plugins["progress"]["percent"], 100.0);
    let names: Vec<&str> = status.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["text", "sentiment", "remember", "every_31st"]);
    assert!(human.contains("publishing every record on "), "{human}");
    // The hints reuse this build: its profile, and `-p timbr-cli` shares its features.
    let hint = if cfg!(debug_assertions) {
        "read them with: cargo run -p timbr-cli --bin timbr-sub -- ipc://"
    } else {
        "read them with: cargo run --release -p timbr-cli --bin timbr-sub -- ipc://"
    };
    assert!(human.contains(hint), "{human}");
    assert!(human.contains("last remembered"), "{human}");
}

#[test]
fn an_endless_stream_stops_after_its_seconds_and_still_checks_out() {
    let (result, out, human) =
        run_line("--count 0 --seconds 0.5 --rate 4000 --no-publish --workers 2");
    assert_eq!(result, Ok(()), "{human}");
    assert!(out.is_empty());
    assert!(!human.contains("publishing"));
    assert!(human.contains("completed"), "{human}");
}

#[test]
fn two_workers_on_the_threaded_executor_fail_the_same_tweets() {
    let (result, out, human) = run_line(
        "--count 3100 --workers 2 --executor threaded --endpoint tcp://127.0.0.1:* --json",
    );
    assert_eq!(result, Ok(()), "{human}");
    let status: Status = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(status.errors.stage, 100);
    assert!(status.sink.description.starts_with("tcp://127.0.0.1:"));
}

/// Regression (issue 20, item 22): the refusal advised `allow_remote`, which is the
/// library's option: this program's is `--http-allow-remote`. (Nothing binds beyond
/// loopback here: the address is refused before it is bound.)
#[test]
fn a_remote_http_address_is_refused_naming_the_flag() {
    let (result, _, _) = run_line("--count 10 --no-publish --http 0.0.0.0:0");
    let error = result.unwrap_err();
    assert!(error.contains("--http-allow-remote"), "{error}");
    assert!(!error.contains("(allow_remote)"), "{error}");
}

#[test]
fn flags_parse_and_mistakes_are_usage_errors() {
    assert_eq!(options(""), Options::default());
    let o = options(
        "--count=10 --seconds 2.5 --rate 100 --workers 3 --executor threaded \
         --endpoint tcp://127.0.0.1:5555 --subscribers 2 --seed 9 --json --http 127.0.0.1:9464",
    );
    assert_eq!(
        o,
        Options {
            count: 10,
            seconds: Some(2.5),
            rate: Some(100.0),
            workers: 3,
            threaded: true,
            endpoint: Some("tcp://127.0.0.1:5555".into()),
            publish: true,
            subscribers: 2,
            seed: 9,
            json: true,
            http: Some(([127, 0, 0, 1], 9464).into()),
            http_allow_remote: false,
            fleet: None,
        }
    );
    let f = options("--redis redis://127.0.0.1:6379 --role work --name w1 --count 0")
        .fleet
        .unwrap();
    assert_eq!(
        (f.url.as_str(), f.role, f.stream.as_str(), f.name.as_deref()),
        (
            "redis://127.0.0.1:6379",
            fleet::Role::Work,
            "tweets",
            Some("w1")
        )
    );
    assert_eq!(f.pack, 1, "one tweet to an entry unless asked");
    assert_eq!(
        options("--redis redis://h:1").fleet.unwrap().role,
        fleet::Role::Both
    );
    assert_eq!(
        options("--redis redis://h:1 --pack 64").fleet.unwrap().pack,
        64
    );
    assert_eq!(
        parse(args("--json --help")).unwrap_err().kind(),
        clap::error::ErrorKind::DisplayHelp
    );
    assert_eq!(
        parse(args("--version")).unwrap_err().kind(),
        clap::error::ErrorKind::DisplayVersion
    );
    assert!(
        options("--http 0.0.0.0:9464 --http-allow-remote").http_allow_remote,
        "the flag the refusal names exists"
    );
    for bad in [
        "--seconds 1e19",
        "--rate 1e-300",
        "--workers 20000",
        "--workers 1000000",
        "--count 1e3",
        "--subscribers 100000",
        "--http not-an-address",
        "--frobnicate",
        "extra",
        "--count",
        "--count ten",
        "--count -1",
        "--rate 0",
        "--seconds nan",
        "--workers 0",
        "--executor rayon",
        "--json=yes",
        "--no-publish --endpoint tcp://127.0.0.1:*",
        "--role work",
        "--stream s",
        "--redis redis://h:1 --role dance",
        "--redis redis://h:1 --pack 0",
        "--redis redis://h:1 --pack 1001",
        "--redis redis://h:1 --http 127.0.0.1:9464",
        "--redis redis://h:1 --endpoint tcp://127.0.0.1:*",
        "--http-allow-remote",
    ] {
        assert!(parse(args(bad)).is_err(), "{bad}");
    }
}

#[test]
fn numbers_are_grouped_by_thousands() {
    assert_eq!(human_count(0), "0");
    assert_eq!(human_count(999), "999");
    assert_eq!(human_count(1000), "1,000");
    assert_eq!(human_count(1_234_567), "1,234,567");
}
