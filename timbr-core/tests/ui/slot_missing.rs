use timbr_core::stage;

#[stage]
fn nowhere(input: &u8) -> u8 {
    *input
}

#[stage(one)]
fn somewhere(input: &u8) -> u8 {
    *input
}

fn main() {}
