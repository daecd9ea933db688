//! `timbr-watch`'s command line (issue 20, item 14): one subcommand per job, `--version`,
//! and the forms that were flags before are refused by clap (exit status 2), never a panic.
//! A fleet dashboard from Redis (`http ADDR --redis …`) says at once when Redis is not there;
//! `examples/tests/fleet.rs` runs it against real workers.

use std::net::TcpListener;
use std::process::{Command, Output};

fn watch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_timbr-watch"))
        .args(args)
        .output()
        .expect("run timbr-watch")
}

#[test]
fn version() {
    let out = watch(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("timbr-watch {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_names_every_subcommand() {
    let out = watch(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["status", "control", "http", "fleet", "completions"] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "{command}: {help}"
        );
    }
    let out = watch(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("timbr-watch"));
}

/// Bad command lines, the old flag forms among them: clap's message, exit status 2.
#[test]
fn wrong_arguments_are_usage_errors() {
    for bad in [
        &[][..],
        &["ipc:///x"],
        &["--control", "ipc:///c", "stop"],
        &["--http", "127.0.0.1:0", "ipc:///x"],
        &["--redis", "redis://127.0.0.1:1", "--stream", "s"],
        &["status"],
        &["status", "ipc:///x", "--timeout", "nan"],
        &["http", "127.0.0.1:0"],
        &["http", "nowhere", "ipc:///x"],
        &[
            "http",
            "127.0.0.1:0",
            "ipc:///x",
            "--redis",
            "redis://127.0.0.1:1",
            "--stream",
            "s",
        ],
        &["http", "127.0.0.1:0", "--redis", "redis://127.0.0.1:1"],
        &["fleet", "--stream", "s"],
        &[
            "fleet",
            "--redis",
            "redis://127.0.0.1:1",
            "--stream",
            "s",
            "--every",
            "-1",
        ],
        &["completions", "cmd.exe"],
    ] {
        let out = watch(bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        // No command at all: the help, on stderr.
        assert!(
            err.starts_with("error: ") || (bad.is_empty() && err.contains("Commands:")),
            "{bad:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{bad:?}: {err}");
    }
}

/// The fleet dashboard needs its registry: a Redis that is not there is said at once
/// (exit status 1), before anything listens. (It was refused as "not built yet".)
#[test]
fn a_fleet_dashboard_without_redis_says_so() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let out = watch(&[
        "http",
        "127.0.0.1:0",
        "--redis",
        &format!("redis://127.0.0.1:{port}"),
        "--stream",
        "s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect to Redis at"), "{err}");
    assert!(!err.contains("not built yet"), "{err}");
}
