//! The programs these tests run as real processes (the `tweets` example, `timbr-watch`),
//! built by the test itself so that a plain `cargo test` passes from a clean checkout.
//!
//! Cargo hands an integration test the path of its own package's binaries only
//! (`CARGO_BIN_EXE_*`), and builds examples with `test = true` (as `tweets` is) only as
//! test harnesses. So the first test of a test binary that needs a program runs
//! `cargo build` for it, in the profile and target directory this test was built in, and
//! takes the program's path from Cargo's own report of what it built. A build that is up
//! to date (`.ci/test` builds every program first) costs a second of Cargo's checks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The `tweets` example's program.
pub(crate) fn tweets() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build("timbr-examples", "--example", "tweets"))
        .clone()
}

/// timbr-cli's `timbr-watch` program.
#[allow(dead_code)] // not every test binary runs it
pub(crate) fn timbr_watch() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build("timbr-cli", "--bin", "timbr-watch"))
        .clone()
}

/// Where this test binary was built: Cargo's target directory, profile and target triple.
struct Layout {
    target_dir: PathBuf,
    profile: String,
    triple: Option<String>,
}

/// Reads the layout from this test's own path,
/// `TARGET_DIR/[TRIPLE/]PROFILE_DIR/deps/NAME-HASH`.
fn layout() -> Layout {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in TARGET/PROFILE/deps");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(name) => name.to_string(),
        None => panic!("{}: no profile directory", exe.display()),
    };
    let above = profile_dir.parent().expect("a target directory");
    // Cargo marks the root of every target directory with CACHEDIR.TAG; a directory
    // between the root and the profile is a `--target` triple.
    if above.join("CACHEDIR.TAG").exists() {
        return Layout {
            target_dir: above.to_path_buf(),
            profile,
            triple: None,
        };
    }
    Layout {
        target_dir: above.parent().expect("a target directory").to_path_buf(),
        profile,
        triple: above.file_name().and_then(|n| n.to_str()).map(String::from),
    }
}

/// Builds `package`'s `kind` (`--bin` or `--example`) target `name` and returns the path
/// of the program Cargo reports it built.
fn build(package: &str, kind: &str, name: &str) -> PathBuf {
    let layout = layout();
    // The cargo that runs this test (it sets CARGO), else the one that built it.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--message-format=json-render-diagnostics",
        ])
        .args(["-p", package, kind, name, "--profile", &layout.profile])
        .arg("--target-dir")
        .arg(&layout.target_dir)
        .stderr(Stdio::inherit());
    if let Some(triple) = &layout.triple {
        command.args(["--target", triple]);
    }
    let out = command.output().expect("cargo, to build the program");
    assert!(
        out.status.success(),
        "`cargo build -p {package} {kind} {name}` failed (its errors are above)"
    );
    let reports = String::from_utf8_lossy(&out.stdout);
    reports
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|r| r["reason"] == "compiler-artifact" && r["target"]["name"] == name)
        .find_map(|r| r["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no program named {name}"))
}
