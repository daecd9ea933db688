use timbr_core::stage_fn;

fn main() {
    let _ = stage_fn!(2, |f2: &f64, data: &String, f0| f0);
    let _ = stage_fn!(1, move |f0: u8, oid: &u64| f0 as u64 + oid);
    let _ = stage_fn!(64, |input: &u8| *input);
    let _ = stage_fn!(0, async |input: &u8| *input);
    let _ = stage_fn!(0, not_a_closure);
}
