use timbr_core::stage;

#[stage(0)]
fn sum((a, b): &(u8, u8), _: &u8) -> u8 {
    a + b
}

fn main() {}
