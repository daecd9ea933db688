use timbr_core::{stage, RetryPolicy};

#[stage(0, retries = 3)]
fn unknown_setting(input: &u8) -> u8 {
    *input
}

#[stage(1, retry = RetryPolicy::new(2), retry = RetryPolicy::new(3))]
fn twice(input: &u8) -> u8 {
    *input
}

#[stage(2, retry = 3)]
fn not_a_policy(input: &u8) -> u8 {
    *input
}

fn main() {
    let _ = RetryPolicy::new(1);
}
