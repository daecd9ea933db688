use timbr_core::stage;

struct Counter;

impl Counter {
    #[stage(0)]
    fn count(&self, input: &String) -> usize {
        input.len()
    }
}

fn main() {}
