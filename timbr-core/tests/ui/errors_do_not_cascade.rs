// Stages with mistakes still resolve in `from_stages!`, and later stages reading their slots
// are not reported: only the mistakes are.
use timbr_core::{from_stages, stage, BuildError, Machine};

#[stage(0)]
fn words(text: &String) -> usize {
    text.split_whitespace().count()
}

#[stage(1)]
fn shout(f0: &usize) {
    println!("{f0}!");
}

#[stage(2)]
fn twice(f0: &usize, f1: &f64) -> f64 {
    *f0 as f64 * f1
}

fn main() -> Result<(), BuildError> {
    let _machine: Machine<String> = from_stages![words, shout, twice]?;
    let _plain = words::stage();
    Ok(())
}
