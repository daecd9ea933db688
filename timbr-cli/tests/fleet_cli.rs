//! `timbr-fleet` with wrong arguments, as a newcomer types them: each is refused with the
//! usage and exit status 2 before anything connects, and `--help` and `--version` answer.

use std::process::{Command, Output};

fn fleet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .args(args)
        .output()
        .expect("run timbr-fleet")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_prints_the_usage_of_every_command() {
    for help in [["--help"], ["-h"], ["help"]] {
        let out = fleet(&help);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let usage = String::from_utf8_lossy(&out.stdout);
        for command in [
            "produce", "work", "balance", "dead", "results", "records", "watch",
        ] {
            assert!(usage.contains(&format!("\n  {command} ")), "{usage}");
        }
    }
    let out = fleet(&["dead", "--help"]);
    let usage = String::from_utf8_lossy(&out.stdout);
    for action in ["list", "requeue", "requeue-all", "purge"] {
        assert!(usage.contains(&format!("\n  {action} ")), "{usage}");
    }
}

#[test]
fn version() {
    let out = fleet(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("timbr-fleet {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_missing_or_unknown_command_is_a_usage_error() {
    let out = fleet(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("Usage: timbr-fleet <COMMAND>"),
        "{out:?}"
    );
    let out = fleet(&["prodce", "--redis", "redis://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("unrecognized subcommand 'prodce'"),
        "{out:?}"
    );
    assert!(stderr(&out).contains("produce"), "a suggestion: {out:?}");
}

#[test]
fn a_misspelt_flag_is_refused_not_ignored() {
    // Port 1 refuses connections: had the flag been ignored, the error would be the
    // connection's (exit 1), not the flag's.
    let out = fleet(&[
        "work",
        "--redis",
        "redis://127.0.0.1:1",
        "--stream",
        "s",
        "--results",
        "r",
        "--worker",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("unexpected argument '--worker'"),
        "{out:?}"
    );
    assert!(stderr(&out).contains("--workers"), "a suggestion: {out:?}");
    let out = fleet(&["balance", "--redis", "redis://127.0.0.1:1", "--stream"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("a value is required for '--stream <S>'"),
        "{out:?}"
    );
    // `--once` is a switch, not a flag that takes a value.
    let out = fleet(&[
        "watch",
        "--redis",
        "redis://127.0.0.1:1",
        "--stream",
        "s",
        "--once",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn an_unreachable_redis_is_a_clear_error_said_once() {
    // `--url`, the flag's old name, still works.
    let out = fleet(&["balance", "--url", "redis://127.0.0.1:1", "--stream", "s"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect to Redis at `redis://127.0.0.1:1`"),
        "{err}"
    );
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
}

#[test]
fn the_queue_flags_default_to_the_library_defaults() {
    use timbr_redis::{
        DEFAULT_BATCH, DEFAULT_CAPACITY, DEFAULT_CLAIM_AFTER, DEFAULT_GROUP,
        DEFAULT_MAX_DELIVERIES, DEFAULT_PACK,
    };
    let out = fleet(&["balance", "--help"]);
    let usage = String::from_utf8_lossy(&out.stdout);
    let default_of = |flag: &str| {
        let line = usage
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("no {flag} in {usage}"));
        let (_, value) = line.split_once("[default: ").expect("a default");
        value.trim_end_matches(']').to_owned()
    };
    assert_eq!(default_of("--group"), DEFAULT_GROUP);
    assert_eq!(default_of("--batch"), DEFAULT_BATCH.to_string());
    assert_eq!(default_of("--pack"), DEFAULT_PACK.to_string());
    assert_eq!(default_of("--capacity"), DEFAULT_CAPACITY.to_string());
    assert_eq!(
        default_of("--claim-after-ms"),
        DEFAULT_CLAIM_AFTER.as_millis().to_string()
    );
    assert_eq!(
        default_of("--max-deliveries"),
        DEFAULT_MAX_DELIVERIES.to_string()
    );
}
