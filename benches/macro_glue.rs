//! Does the stage macros' glue cost anything per datum?
//!
//! The same three stages (`f0 = in + 1`, `f1 = f0 * 3`, `f2 = f1 ^ in`, over `u64`) as
//! `#[stage]` functions in a `from_stages!` machine and as `Stage::new` closures in a
//! builder machine; one iteration is one `Machine::call` (the datum's whole graph, on this
//! thread, Sequential executor). A `stage_fn!` variant covers the closure macro. The three should
//! be equal within noise: the macros generate the same `Stage` the plain API builds.
//!
//! The `chain8_u64` group asks what one stage's glue costs beside a direct call: `Machine::call`
//! on eight `+1` stages over `u64` (as `#[stage]` functions and as `Stage::new` closures),
//! on no stage (the machine's per-datum part), and the eight direct calls by hand, each writing
//! its slot. (The `throughput` example runs the same machines for callgrind.)
//!
//! Run with `cargo bench -p timbr-benches --bench macro_glue`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, Criterion};
use timbr_core::{from_stages, stage, stage_fn, Machine, Stage};

#[stage(0)]
fn bump(input: &u64) -> u64 {
    input.wrapping_add(1)
}

#[stage(1)]
fn triple(f0: &u64) -> u64 {
    f0.wrapping_mul(3)
}

#[stage(2)]
fn mix(f1: &u64, input: &u64) -> u64 {
    f1 ^ input
}

fn macro_machine() -> Machine<u64> {
    from_stages![bump, triple, mix].expect("the bench stages wire")
}

fn plain_machine() -> Machine<u64> {
    let stages = [
        Stage::new(0, "bump", ["input"], |x: &u64| x.wrapping_add(1)),
        Stage::new(1, "triple", ["f0"], |x: &u64| x.wrapping_mul(3)),
        Stage::new(2, "mix", ["f1", "input"], |a: &u64, b: &u64| a ^ b),
    ];
    Machine::from_stages(stages.into_iter().map(|s| s.expect("valid stages")))
        .expect("the bench stages wire")
}

fn closure_machine() -> Machine<u64> {
    from_stages![
        stage_fn!(0, |input: &u64| input.wrapping_add(1)),
        stage_fn!(1, |f0: &u64| f0.wrapping_mul(3)),
        stage_fn!(2, |f1: &u64, input: &u64| f1 ^ input),
    ]
    .expect("the bench stages wire")
}

/// One datum through `machine`, reading back `f2`.
fn once(machine: &Machine<u64>, x: u64) -> u64 {
    *machine
        .call(black_box(x))
        .value::<u64>("f2")
        .expect("the bench stages do not fail")
}

fn call_3_stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_3_stages");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let machines = [
        ("stage_attr_fns", macro_machine()),
        ("plain_stage_new", plain_machine()),
        ("stage_fn_closures", closure_machine()),
    ];
    for (name, machine) in &machines {
        assert_eq!(once(machine, 5), ((5 + 1) * 3) ^ 5, "{name}");
    }
    for (name, machine) in &machines {
        group.bench_function(*name, |b| {
            let mut x = 0_u64;
            b.iter(|| {
                x = x.wrapping_add(1);
                once(machine, x)
            })
        });
    }
    group.finish();
}

fn chain8_u64(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain8_u64");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let machines = [
        (
            "stage_attr_fns",
            timbr_workloads::u64_chain8_macro().expect("the chain wires"),
        ),
        (
            "plain_stage_new",
            timbr_workloads::u64_chain(8).expect("the chain wires"),
        ),
        (
            "no_stage",
            timbr_workloads::u64_chain(0).expect("the identity wires"),
        ),
    ];
    for (name, machine) in &machines {
        let stages = if *name == "no_stage" { 0 } else { 8 };
        assert_eq!(
            machine.call(5).value::<u64>("f7").ok(),
            Some(&(5 + stages)),
            "{name}"
        );
        group.bench_function(*name, |b| {
            let mut x = 0_u64;
            b.iter(|| {
                x = x.wrapping_add(1);
                black_box(machine.call(black_box(x)))
            })
        });
    }
    group.bench_function("by_hand", |b| {
        let mut slots = [0_u64; 9];
        let mut x = 0_u64;
        b.iter(|| {
            x = x.wrapping_add(1);
            timbr_workloads::u64_chain_by_hand(black_box(x), &mut slots);
            black_box(slots[8])
        })
    });
    group.finish();
}

/// Every group of this file, with the settings given on the command line.
pub fn benches() {
    let mut c = Criterion::default().configure_from_args();
    call_3_stages(&mut c);
    chain8_u64(&mut c);
}

criterion_main!(benches);
