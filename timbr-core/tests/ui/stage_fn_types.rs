use timbr_core::stage_fn;

fn main() {
    let _ = stage_fn!(1, |f0_s: &u32, oid: &String| *f0_s as usize + oid.len());
}
