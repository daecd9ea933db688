//! `timbr-fleet records` and `results` unpack packed result entries (`work --pack-results`):
//! one JSON line per record, each with its origin, and where to go on.

mod common;

use std::process::Command;

use common::*;

#[test]
fn the_records_of_a_packed_entry_are_printed_one_a_line() {
    let server = Server::start();
    let mut con = server.con();
    // Two entries as a packed sink writes them: the records of one input pack each.
    for (oids, origins, records) in [
        ("a\nb", "1-0#0\n1-0#1", "[{\"n\":0},0]\n[{\"n\":1},10]"),
        ("c\nd\ne", "2-0#0\n2-0#1\n2-0#2", "[2]\n[3]\n[4]"),
    ] {
        redis::cmd("XADD")
            .arg("results")
            .arg("*")
            .arg("oids")
            .arg(oids)
            .arg("origins")
            .arg(origins)
            .arg("records")
            .arg(records)
            .query::<String>(&mut con)
            .unwrap();
    }

    // The program prints them one a line, and says where to go on.
    let out = Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .args(["records", "--redis", &server.url(), "--stream", "items"])
        .args(["--results", "results", "--count", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "two entries, their records: {lines:?}");
    let origins: Vec<&str> = lines
        .iter()
        .map(|l| l["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["1-0#0", "1-0#1", "2-0#0", "2-0#1", "2-0#2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("5 records; continue with --after"));

    // `results` counts them.
    let out = Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .args(["results", "--redis", &server.url(), "--stream", "items"])
        .args(["--results", "results"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let counts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&counts["records"], &counts["distinct"]),
        (&5.into(), &5.into()),
        "{counts}"
    );
}
