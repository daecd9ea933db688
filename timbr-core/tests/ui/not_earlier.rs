use timbr_core::stage;

#[stage(2)]
fn late(f1: &f64, f2: &f64, f3_s: &str) -> f64 {
    f1 + f2 + f3_s.len() as f64
}

#[stage(0)]
fn first(f0: &u8) -> u8 {
    *f0
}

fn main() {}
