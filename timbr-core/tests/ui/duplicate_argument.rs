use timbr_core::stage;

#[stage(1)]
fn twice(f0: &u8, input: &u8, f0: &u8) -> u8 {
    f0 + input
}

fn main() {}
