//! `timbr-watch`'s fleet form from the command line (issue 20, item 14): `--version`
//! answers, and `--http` with `--redis` (a fleet dashboard, not built yet) is refused with a
//! message that says so and what to use instead, before anything connects.

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
fn a_fleet_dashboard_is_refused_with_the_reason() {
    let out = watch(&[
        "--http",
        "127.0.0.1:0",
        "--redis",
        "redis://127.0.0.1:1",
        "--stream",
        "s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not built yet"), "{err}");
    assert!(err.contains("issue 24"), "{err}");
    assert!(err.contains("timbr-watch --redis URL --stream S"), "{err}");
}
