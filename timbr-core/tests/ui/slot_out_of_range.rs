use timbr_core::stage;

#[stage(64)]
fn too_far(input: &u8) -> u8 {
    *input
}

fn main() {}
