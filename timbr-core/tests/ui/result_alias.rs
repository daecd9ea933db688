use timbr_core::stage;

type Parsed = Result<f64, String>;

#[stage(0)]
fn parse(input: &String) -> Parsed {
    input.parse::<f64>().map_err(|e| e.to_string())
}

fn main() {}
