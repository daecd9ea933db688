use std::fmt::Display;
use timbr_core::stage;

#[stage(0)]
fn show<T: Display>(input: &T) -> String {
    input.to_string()
}

#[stage(1)]
fn shown(f0: &impl Display) -> String {
    f0.to_string()
}

fn main() {}
