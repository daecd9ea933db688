use timbr_core::stage;

#[stage(11)]
#[allow(clippy::too_many_arguments)]
fn wide(
    f0: &u8, f1: &u8, f2: &u8, f3: &u8, f4: &u8, f5: &u8, f6: &u8,
    f7: &u8, f8: &u8, f9: &u8, f10: &u8, input: &u8, oid_s: &str,
) -> u8 {
    f0 + f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8 + f9 + f10 + input + oid_s.len() as u8
}

fn main() {}
