//! Empty: cargo resolves `[build-dependencies]` only for a package with a build script, and
//! this crate's build dependencies are what it is for (see its `Cargo.toml`).

fn main() {}
