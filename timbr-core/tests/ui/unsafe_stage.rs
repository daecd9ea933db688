use timbr_core::stage;

#[stage(0)]
unsafe fn raw(input: &u8) -> u8 {
    *input
}

fn main() {}
