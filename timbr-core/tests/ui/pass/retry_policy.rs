use std::time::Duration;

use timbr_core::{from_stages, stage, Backoff, Machine, RetryPolicy, Transient};

fn policy() -> RetryPolicy {
    RetryPolicy::new(4).backoff(Backoff::fixed(Duration::from_millis(1)))
}

#[stage(0, retry = policy())]
fn fetch(input: &u32) -> Result<u32, Transient> {
    Ok(*input + 1)
}

#[stage(1, retry = RetryPolicy::new(2).any_error(),)]
fn check(f0: &u32) -> Result<u32, String> {
    Ok(*f0)
}

fn main() {
    assert_eq!(fetch::stage().retry_policy().map(|p| p.attempts()), Some(4));
    assert_eq!(check::stage().retry_policy().map(|p| p.attempts()), Some(2));
    let machine: Machine<u32> = from_stages![fetch, check].unwrap();
    assert_eq!(machine.call(1).value::<u32>("f1").unwrap(), &2);
}
