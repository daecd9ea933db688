//! Every kind of argument, in any order, with every accepted type for the `_s` forms.

use timbr_core::bson::oid::ObjectId;
use timbr_core::{from_stages, stage, stage_fn, Machine, Serialized};

#[stage(0)]
fn length(input: &String) -> usize {
    input.len()
}

#[stage(1)]
#[allow(clippy::too_many_arguments)]
fn everything(
    oid_s: &str,
    f0: &usize,
    input_s: &String,
    oid: &ObjectId,
    f0_s: &Serialized,
    input: &String,
) -> String {
    assert_eq!(oid_s, oid.to_hex());
    assert!(!f0_s.is_exception());
    format!("{input}|{input_s}|{f0}|{}", f0_s.as_str())
}

/// `&str` reads a `String` (no key holds a `str`).
#[stage(2)]
fn lengths(input: &str, f1: &str) -> (usize, usize) {
    (input.len(), f1.len())
}

fn main() {
    let machine: Machine<String> = from_stages![
        length,
        everything,
        lengths,
        stage_fn!(3, |f1: &str, f2_s: &str| format!("{f1} {f2_s}"))
    ]
    .unwrap();
    let called = machine.call("hey".to_owned());
    assert_eq!(called.value::<String>("f1").unwrap(), r#"hey|"hey"|3|3"#);
    assert_eq!(called.value::<(usize, usize)>("f2").unwrap(), &(3, 13));
    assert_eq!(called.value::<String>("f3").unwrap(), r#"hey|"hey"|3|3 [3,13]"#);
}
