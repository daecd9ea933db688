//! Empty slots pass on what the slot before holds, and the compile-time check knows it;
//! a stage at slot 7 (the last of the default 8) reads through all of them.

use timbr_core::{from_stages, stage, Machine};

#[stage(1)]
fn doubled(f0: &i64) -> i64 {
    // f0 is empty: it holds the datum
    f0 * 2
}

#[stage(4)]
fn described(f3: &i64, f0: &i64) -> String {
    format!("{f0} -> {f3}")
}

#[stage(7)]
fn last(f6: &String, f2: &i64, input: &i64, f0_s: &str) -> (String, i64, i64, String) {
    (f6.clone(), *f2, *input, f0_s.to_owned())
}

fn main() {
    let machine: Machine<i64> = from_stages![last, doubled, described].unwrap();
    assert_eq!(machine.slots(), 8);
    let called = machine.call(21);
    assert_eq!(
        called.value::<(String, i64, i64, String)>("f7").unwrap(),
        &("21 -> 42".to_owned(), 42, 21, "21".to_owned())
    );
}
