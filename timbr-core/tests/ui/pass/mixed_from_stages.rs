//! `from_stages!` mixing `#[stage]` functions with `stage_fn!` closures and other `Stage`
//! expressions, with or without a builder; `name::stage()` for the plain API.

use timbr_core::{from_stages, stage, stage_fn, Machine, Stage};

mod stages {
    use timbr_core::stage;

    /// Counts the words (docs and visibility are kept).
    #[stage(0)]
    #[must_use]
    pub fn words(input: &String) -> usize {
        input.split_whitespace().count()
    }
}

#[stage(2)]
fn scaled(f1: &f64) -> f64 {
    f1 * 10.0
}

fn main() {
    let half = stage_fn!(1, |f0: &usize| *f0 as f64 / 2.0);
    let machine: Machine<String> =
        from_stages![stages::words, { half }, scaled, stage_fn!(5, |f2: &f64| *f2 > 10.0)].unwrap();
    let called = machine.call("a b c".to_owned());
    assert_eq!(called.value::<f64>("f2").unwrap(), &15.0);
    assert_eq!(called.value::<bool>("f5").unwrap(), &true);
    assert_eq!(stages::words(&"x y".to_owned()), 2);

    let built: Machine<String> = from_stages![
        Machine::builder().capacity(2).slots(3) => stages::words, scaled,
        stage_fn!(1, |f0: &usize| *f0 as f64)
    ]
    .unwrap();
    assert_eq!((built.capacity(), built.slots()), (Some(2), 3));

    let plain: Vec<Stage> = vec![stages::words::stage(), scaled::stage()];
    assert_eq!(plain[1].name(), "scaled");
    let inside = {
        #[stage(0)]
        fn local(input: &u8) -> u16 {
            u16::from(*input) * 2
        }
        from_stages![local].map(|m: Machine<u8>| m.call(4).value::<u16>("f0").copied())
    };
    assert_eq!(inside.unwrap().unwrap(), 8);
}
