use timbr_core::stage_fn;

fn main() {
    let _ = stage_fn!(0, |input: &String| {
        println!("{input}");
    });
}
