use timbr_core::{from_stages, stage, BuildError, Machine};

#[stage(0)]
fn words(input: &String) -> usize {
    input.split_whitespace().count()
}

// Slot 1 is empty, so `f1` holds what `f0` holds: a `usize`.
#[stage(2)]
fn mean(f1: &f64) -> f64 {
    *f1 / 2.0
}

fn main() -> Result<(), BuildError> {
    let _machine: Machine<String> = from_stages![words, mean]?;
    Ok(())
}
