use timbr_core::stage;

#[stage(2)]
fn mean(f_0: &f64, r#in: &String, weather: &u8) -> f64 {
    *f_0 + r#in.len() as f64 + *weather as f64
}

fn main() {}
