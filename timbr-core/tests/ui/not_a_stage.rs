use timbr_core::{from_stages, stage_fn, BuildError, Machine};

fn words(input: &String) -> usize {
    input.split_whitespace().count()
}

struct Settings;

fn main() -> Result<(), BuildError> {
    let _machine: Machine<String> = from_stages![words, Settings]?;
    // A bare variable reads as the path of a `#[stage]` function (rustc's message is about
    // capturing it); a `Stage` value is written `{ chars }` (see from_stages! docs).
    let chars = stage_fn!(0, |input: &String| input.chars().count());
    let _machine: Machine<String> = from_stages![chars]?;
    Ok(())
}
