use timbr_core::{from_stages, stage, BuildError, Machine};

#[stage(1)]
fn words(input: &String) -> usize {
    input.split_whitespace().count()
}

#[stage(1)]
fn chars(input: &String) -> usize {
    input.chars().count()
}

fn main() -> Result<(), BuildError> {
    let _machine: Machine<String> = from_stages![words, chars]?;
    Ok(())
}
