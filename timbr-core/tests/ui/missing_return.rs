use timbr_core::stage;

#[stage(0)]
fn log(input: &String) {
    println!("{input}");
}

#[stage(1)]
fn unit(f0: &String) -> () {
    println!("{f0}");
}

fn main() {}
