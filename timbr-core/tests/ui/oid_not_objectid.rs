use timbr_core::stage;

#[stage(0)]
fn id(oid: &String) -> String {
    oid.clone()
}

fn main() {}
