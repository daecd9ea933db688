//! What a sink costs per record: the null sink, the ZeroMQ sink with nobody listening, and
//! the ZeroMQ sink on `ipc://` with one subscriber draining it in another thread. Each
//! iteration clones the same record (the clone is in every figure; compare differences).
//!
//! Run with `cargo bench -p timbr-benches --bench sink`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_main, Criterion};
use serde_json::{json, Value};
use timbr_core::{io::ZmqSinkOptions, zmq, Machine, NullSink, Record, Sink};

fn record() -> Record {
    let machine = Machine::<Value>::new();
    machine
        .try_put(json!({"text": "some text here", "id": 123, "user": {"name": "x"}}))
        .expect("an empty queue has room");
    machine
        .get(Duration::from_secs(1))
        .expect("the datum just put")
}

/// The criterion entry point.
pub fn benches() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let record = record();
    let mut group = c.benchmark_group("sink_send");
    let mut null = NullSink;
    group.bench_function("null", |b| {
        b.iter(|| null.send(black_box(record.clone())).expect("never fails"))
    });
    let mut lonely = ZmqSinkOptions::new()
        .bind_default()
        .expect("a private ipc endpoint");
    group.bench_function("zmq_ipc_no_subscriber", |b| {
        b.iter(|| lonely.send(black_box(record.clone())).expect("sends"))
    });

    let mut sink = ZmqSinkOptions::new()
        .sndhwm(0)
        .bind_default()
        .expect("a private ipc endpoint");
    let endpoint = sink.last_endpoint().to_owned();
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let subscriber = std::thread::spawn(move || {
        let sub = zmq::Context::new().socket(zmq::SUB).expect("a SUB socket");
        sub.set_rcvhwm(0).expect("no limit");
        sub.set_rcvtimeo(100).expect("a timeout");
        sub.set_subscribe(b"").expect("everything");
        sub.connect(&endpoint).expect("the sink's endpoint");
        let mut received = 0_u64;
        while !stop.load(Ordering::Acquire) {
            if sub.recv_multipart(0).is_ok() {
                received += 1;
            }
        }
        received
    });
    assert!(sink.wait_for_subscribers(1, Duration::from_secs(10)));
    group.bench_function("zmq_ipc_one_subscriber", |b| {
        b.iter(|| sink.send(black_box(record.clone())).expect("sends"))
    });
    group.finish();
    done.store(true, Ordering::Release);
    let _ = subscriber.join();
}

criterion_main!(benches);
