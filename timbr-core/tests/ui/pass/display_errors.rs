//! A stage's error type need only be `Display`: `#[stage]` functions and `stage_fn!`
//! closures returning `Result<R, E>` with such an `E` are fallible stages recording its text.

use std::fmt;
use timbr_core::{from_stages, stage, stage_fn, Machine};

struct Refusal(u32);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} refused", self.0)
    }
}

#[stage(0)]
fn refuse_odd(input: &u32) -> Result<u32, Refusal> {
    if input % 2 == 1 {
        Err(Refusal(*input))
    } else {
        Ok(*input)
    }
}

fn main() {
    let machine: Machine<u32> = from_stages![
        refuse_odd,
        stage_fn!(1, |f0: &u32| if *f0 > 10 { Err(Refusal(*f0)) } else { Ok(*f0) })
    ]
    .unwrap();
    assert!(machine.call(3).record().json().contains("3 refused"));
    assert!(machine.call(12).record().json().contains("12 refused"));
    assert!(machine.call(4).is_ok());
}
