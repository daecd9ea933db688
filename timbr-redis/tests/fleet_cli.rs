//! `timbr-fleet` with wrong arguments, as a newcomer types them: each is refused with the
//! usage and exit status 2 before anything connects, and `--help` answers.

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
        for command in ["produce", "work", "balance", "dead", "results", "watch"] {
            assert!(usage.contains(&format!("timbr-fleet {command}")), "{usage}");
        }
    }
}

#[test]
fn a_missing_or_unknown_command_is_a_usage_error() {
    let out = fleet(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("a command is needed"), "{out:?}");
    let out = fleet(&["prodce", "--url", "redis://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("unknown command `prodce`"), "{out:?}");
    assert!(stderr(&out).contains("usage:"), "{out:?}");
}

#[test]
fn a_misspelt_flag_is_refused_not_ignored() {
    // Port 1 refuses connections: had the flag been ignored, the error would be the
    // connection's (exit 1), not the flag's.
    let out = fleet(&[
        "work",
        "--url",
        "redis://127.0.0.1:1",
        "--stream",
        "s",
        "--worker",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("`work` takes no --worker"), "{out:?}");
    let out = fleet(&["balance", "--url", "redis://127.0.0.1:1", "--stream"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("--stream needs a value"), "{out:?}");
}

#[test]
fn an_unreachable_redis_is_a_clear_error_said_once() {
    let out = fleet(&["balance", "--url", "redis://127.0.0.1:1", "--stream", "s"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect to Redis at `redis://127.0.0.1:1`"),
        "{err}"
    );
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
}
