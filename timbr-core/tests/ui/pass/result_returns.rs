//! Stages returning `Result`s are fallible: any error type that converts into
//! `Box<dyn Error + Send + Sync>` (error types, `String`, `&str`), through `Result` spelled in
//! full or through a module's `Result` alias.

use std::fmt;
use timbr_core::{from_stages, stage, Machine};

#[derive(Debug)]
struct TooLong(usize);

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} characters is too long", self.0)
    }
}

impl std::error::Error for TooLong {}

#[stage(0)]
fn short(input: &String) -> Result<String, TooLong> {
    if input.len() > 5 {
        Err(TooLong(input.len()))
    } else {
        Ok(input.to_uppercase())
    }
}

#[stage(1)]
fn number(f0: &String) -> std::result::Result<u32, std::num::ParseIntError> {
    f0.parse()
}

#[stage(2)]
fn io_checked(f1: &u32) -> std::io::Result<u32> {
    Ok(f1 + 1)
}

fn main() {
    let machine: Machine<String> = from_stages![short, number, io_checked].unwrap();
    assert_eq!(machine.call("41".to_owned()).value::<u32>("f2").unwrap(), &42);
    let record = machine.call("too long".to_owned()).record();
    assert!(record.json().contains("8 characters is too long"), "{}", record.json());
    assert_eq!(record.failures().len(), 3, "short failed, the others were skipped");
    let record = machine.call("x".to_owned()).record();
    assert!(record.json().contains("invalid digit"), "{}", record.json());
}
