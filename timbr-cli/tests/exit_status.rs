//! Each program's `--help` lists the exit statuses it uses (issue 22: exit codes typed and
//! documented), the same numbers `timbr_cli::Exit` gives.

use std::process::Command;

use timbr_cli::Exit;

fn help(program: &str) -> String {
    let out = Command::new(program).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(Exit::Success.code().into()));
    String::from_utf8(out.stdout).unwrap()
}

fn lists(help: &str, exits: &[Exit]) {
    let (_, statuses) = help
        .split_once("Exit status:")
        .unwrap_or_else(|| panic!("no exit statuses: {help}"));
    for exit in exits {
        let code = match exit {
            Exit::Signal(_) => "128+".to_owned(),
            other => other.code().to_string(),
        };
        assert!(
            statuses.contains(&format!("\n  {code} ")),
            "{exit:?}: {statuses}"
        );
    }
}

#[test]
fn timbr_watch_lists_its_exit_statuses() {
    lists(
        &help(env!("CARGO_BIN_EXE_timbr-watch")),
        &[
            Exit::Success,
            Exit::Failed,
            Exit::Usage,
            Exit::MachineFailed,
        ],
    );
}

#[test]
fn timbr_sub_lists_its_exit_statuses() {
    lists(
        &help(env!("CARGO_BIN_EXE_timbr-sub")),
        &[Exit::Success, Exit::Failed, Exit::Usage, Exit::Signal(2)],
    );
}

#[test]
fn timbr_fleet_lists_its_exit_statuses() {
    lists(
        &help(env!("CARGO_BIN_EXE_timbr-fleet")),
        &[Exit::Success, Exit::Failed, Exit::Usage, Exit::Signal(2)],
    );
}
