//! The timbr examples are programs (`examples/*`, run with `cargo run --release --example
//! NAME`); this library is empty. Their tweets, the `tweets` example's source and stages, are
//! the `timbr-tweets` crate's, which the examples use directly (shared with `timbr-fleet`).
//! The machines the `throughput` example and the benches measure are in the
//! `timbr-workloads` package, beside the benches.
