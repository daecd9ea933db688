//! The commands the README tells a user to type are safe to copy as they are.

const README: &str = include_str!("../../README.md");

/// Regression (issue 20, item 15): the fleet section started Redis with `--dir /tmp` and no
/// `--bind`, listening on every interface, with no password, its data in a shared directory.
#[test]
fn redis_is_started_on_loopback_with_a_data_directory_of_its_own() {
    let starts: Vec<&str> = README
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split("&&").chain(l.split('`')))
        .map(str::trim)
        .filter(|c| c.starts_with("redis-server ") && c.contains("--"))
        .collect();
    assert!(!starts.is_empty(), "the README starts Redis somewhere");
    for start in starts {
        assert!(
            start.contains("--bind 127.0.0.1"),
            "listens beyond loopback: {start}"
        );
        assert!(
            !start.contains("--dir /tmp"),
            "data in the shared /tmp: {start}"
        );
    }
}

/// Regression (issue 20, item 12): the main command is a release build, and a watcher run
/// in the other profile compiled every crate again.
#[test]
fn the_cli_programs_run_in_the_main_commands_profile() {
    for line in README.lines().filter(|l| l.contains("-p timbr-cli")) {
        if line.contains("cargo run") {
            assert!(line.contains("cargo run --release"), "{line}");
        }
    }
}
