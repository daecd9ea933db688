//! Machine throughput per datum, 8 empty slots, the datum of the throughput example:
//! `call` on the caller's thread, and `try_put` + `get` through the queue (oid and record
//! included), against the same work written by hand.
//!
//! The `status` group measures what introspection costs: the queue path of eight real stages
//! with per-stage timing off, sampled (the default) and on every call, and taking a status
//! snapshot.
//!
//! Run with `cargo bench -p timbr-benches --bench machine`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, Criterion};
use serde_json::{json, Value};
use timbr_core::{Machine, Timing};

fn datum() -> Value {
    json!({"text": "some text here", "id": 123, "user": {"name": "x"}})
}

/// The criterion entry point.
pub fn benches() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let template = datum();
    let mut group = c.benchmark_group("identity8");
    let machine = Machine::<Value>::new();
    group.bench_function("call", |b| {
        b.iter(|| black_box(machine.call(template.clone())))
    });
    group.bench_function("queue_put_get", |b| {
        b.iter(|| {
            machine.try_put(template.clone()).expect("one in, one out");
            black_box(machine.get(Duration::from_secs(1)).expect("just put"))
        })
    });
    let (tx, rx) = crossbeam_channel::bounded::<Value>(1024);
    group.bench_function("floor_by_hand", |b| {
        b.iter(|| {
            tx.try_send(template.clone()).expect("one in, one out");
            let d = rx.recv().expect("just sent");
            black_box(timbr_workloads::floor_record(&d))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("status");
    for (name, timing) in [
        ("stages8_timing_off", Timing::Off),
        ("stages8_timing_sampled16", Timing::Sampled(16)),
        ("stages8_timing_adaptive", Timing::Adaptive),
        ("stages8_timing_all", Timing::All),
    ] {
        let machine = timbr_workloads::stages8(timing).expect("valid machine");
        group.bench_function(name, |b| {
            b.iter(|| {
                machine.try_put(template.clone()).expect("one in, one out");
                black_box(machine.get(Duration::from_secs(1)).expect("just put"))
            })
        });
    }
    let machine = timbr_workloads::stages8(Timing::default()).expect("valid machine");
    for _ in 0..1000 {
        machine
            .put(template.clone())
            .expect("the machine outlives its putters");
        let _ = machine.get(Duration::from_secs(1));
    }
    group.bench_function("snapshot_stages8", |b| {
        b.iter(|| black_box(machine.status()))
    });
    group.finish();
}

criterion_main!(benches);
