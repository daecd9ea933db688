use timbr_core::stage;

struct Opaque;

#[derive(Debug)]
struct NotAnError;

#[stage(0)]
fn opaque(input: &u8) -> Opaque {
    let _ = input;
    Opaque
}

#[stage(1)]
fn failing(f0_s: &str) -> Result<u8, NotAnError> {
    f0_s.parse().map_err(|_| NotAnError)
}

fn main() {}
