use timbr_core::stage;

#[stage(1)]
fn parse(f0_s: &u32, input_s: &Vec<u8>) -> usize {
    *f0_s as usize + input_s.len()
}

fn main() {}
