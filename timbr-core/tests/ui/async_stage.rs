use timbr_core::stage;

#[stage(0)]
async fn fetch(input: &String) -> usize {
    input.len()
}

fn main() {}
