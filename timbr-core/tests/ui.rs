//! Compile-time diagnostics of the stage macros (trybuild): each `tests/ui/<mistake>.rs` must
//! fail with the message in its `.stderr`; each `tests/ui/pass/*.rs` must compile and run.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p timbr-core --test ui`, then
//! read every `.stderr`: each message must be clear and point at the mistake.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
