use timbr_core::{from_stages, stage, BuildError, Machine};

#[stage(0)]
fn words(input: &String) -> usize {
    input.split_whitespace().count()
}

fn main() -> Result<(), BuildError> {
    let _machine: Machine<Vec<u8>> = from_stages![words]?;
    Ok(())
}
