use timbr_core::stage;

#[stage(1)]
fn owned(input: String, f0: &mut usize, oid_s: &'static str) -> usize {
    input.len() + *f0 + oid_s.len()
}

fn main() {}
