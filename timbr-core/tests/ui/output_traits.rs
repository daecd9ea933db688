use timbr_core::stage;

struct Opaque;

#[derive(Debug)]
struct NotDisplay;

#[stage(0)]
fn opaque(input: &u8) -> Opaque {
    let _ = input;
    Opaque
}

#[stage(1)]
fn failing(f0_s: &str) -> Result<u8, NotDisplay> {
    f0_s.parse().map_err(|_| NotDisplay)
}

fn main() {}
