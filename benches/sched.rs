//! Sequential vs Threaded on the graph shapes the scheduler's targets are about.
//!
//! One iteration is one whole run, as a machine does it per datum: a fresh [`Plan::run`], the
//! input set (by a [`NodeId`] resolved once, the documented hot path), the plan executed, the
//! result read back by id. Groups:
//!
//! - `chain8_trivial`: `x -> f0 -> … -> f7`, each node `+ 1` (plus the same chain written by
//!   hand, with plain variables (the limit) and with one `Arc` per value (what a run cost
//!   when every value was boxed), and the by-name API for comparison);
//! - `wide8_trivial`: `x -> w0 … w7`, all eight read back;
//! - `wide8_heavy`: the same shape, each node ~50 µs of arithmetic (plus one node alone);
//! - `diamond`: `x -> (l, r) -> join`.
//!
//! Run with `cargo bench -p timbr-benches --bench sched`.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_main, BenchmarkGroup, Criterion};
use timbr_sched::{Executor, GraphBuilder, NodeId, Plan, Sequential, TaskError, Threaded, Value};

/// Iterations of [`heavy`] taking about 50 µs on the reference machine (a 2-core Xeon).
const HEAVY_ITERS: u32 = 20_000;

/// A serial xorshift chain: the optimizer cannot shorten it, `black_box` keeps it from being
/// hoisted or folded.
fn heavy(seed: u64) -> u64 {
    let mut x = black_box(seed) | 1;
    for _ in 0..black_box(HEAVY_ITERS) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// A graph ready to run: its plan, the input's id and the ids of the nodes read back.
struct Bench {
    plan: Plan,
    input: NodeId,
    outputs: Vec<NodeId>,
}

impl Bench {
    fn new(g: GraphBuilder, outputs: &[&str]) -> Bench {
        let graph = g.build().expect("bench graphs are well formed");
        let plan = graph.plan(outputs).expect("outputs are keys");
        Bench {
            input: graph.node("x").expect("every bench graph has `x`"),
            outputs: outputs
                .iter()
                .map(|k| graph.node(k).expect("a key"))
                .collect(),
            plan,
        }
    }

    /// One whole run: fresh run, input set, executed, every output read and summed (wrapping).
    fn once(&self, executor: &dyn Executor, x: u64) -> u64 {
        let mut run = self.plan.run();
        run.set_value(self.input, Value::new(x))
            .expect("`x` is a u64 input");
        let out = executor.execute(run, None);
        self.outputs
            .iter()
            .map(|&id| {
                *out.outcome(id)
                    .and_then(|o| o.value())
                    .and_then(Value::downcast_ref::<u64>)
                    .expect("bench tasks do not fail")
            })
            .fold(0, u64::wrapping_add)
    }
}

fn add1(a: &timbr_sched::Args<'_>) -> Result<u64, TaskError> {
    Ok(a.get::<u64>(0)?.wrapping_add(1))
}

fn chain8() -> Bench {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("f0", ["x"], add1);
    for k in 1..8 {
        g.task(format!("f{k}"), [format!("f{}", k - 1)], add1);
    }
    Bench::new(g, &["f7"])
}

fn wide8(node: fn(&timbr_sched::Args<'_>) -> Result<u64, TaskError>) -> Bench {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    let keys: Vec<String> = (0..8).map(|k| format!("w{k}")).collect();
    for key in &keys {
        g.task(key.as_str(), ["x"], node);
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    Bench::new(g, &keys)
}

fn diamond() -> Bench {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("l", ["x"], add1);
    g.task("r", ["x"], |a| Ok(a.get::<u64>(0)?.wrapping_mul(3)));
    g.task("join", ["l", "r"], |a| {
        Ok(a.get::<u64>(0)?.wrapping_add(*a.get::<u64>(1)?))
    });
    Bench::new(g, &["join"])
}

fn executors(group: &mut BenchmarkGroup<'_, WallTime>, bench: &Bench) {
    let threaded = Threaded::new();
    group.bench_function("Sequential", |b| {
        let mut x = 0_u64;
        b.iter(|| {
            x += 1;
            bench.once(&Sequential, black_box(x))
        })
    });
    group.bench_function("Threaded", |b| {
        let mut x = 0_u64;
        b.iter(|| {
            x += 1;
            bench.once(&threaded, black_box(x))
        })
    });
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn chain8_trivial(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain8_trivial");
    configure(&mut group);
    let bench = chain8();
    executors(&mut group, &bench);

    // The same run through the by-name API: `Run::set` and `Outcomes::value` hash the key.
    let plan = &bench.plan;
    group.bench_function("Sequential_by_name", |b| {
        let mut x = 0_u64;
        b.iter(|| {
            x += 1;
            let mut run = plan.run();
            run.set("x", black_box(x)).expect("`x` is a u64 input");
            *Sequential
                .execute(run, None)
                .value::<u64>("f7")
                .expect("no failures")
        })
    });

    // The limit: the same eight calls chained by hand in plain variables.
    group.bench_function("hand_written_plain", |b| {
        let mut x = 0_u64;
        b.iter(|| {
            x += 1;
            let mut v = black_box(x);
            for _ in 0..8 {
                v = black_box(v).wrapping_add(1);
            }
            v
        })
    });

    // The same, each result boxed the way every `Value` used to be.
    group.bench_function("hand_written", |b| {
        let mut x = 0_u64;
        b.iter(|| {
            x += 1;
            let mut v = std::sync::Arc::new(black_box(x));
            for _ in 0..8 {
                v = std::sync::Arc::new(black_box(*v).wrapping_add(1));
            }
            *v
        })
    });
    group.finish();
}

fn wide8_trivial(c: &mut Criterion) {
    let mut group = c.benchmark_group("wide8_trivial");
    configure(&mut group);
    executors(&mut group, &wide8(add1));
    group.finish();
}

fn wide8_heavy(c: &mut Criterion) {
    let mut group = c.benchmark_group("wide8_heavy");
    configure(&mut group);
    executors(&mut group, &wide8(|a| Ok(heavy(*a.get::<u64>(0)?))));
    // One node's work alone, for scale: Sequential should cost about eight of these.
    group.bench_function("one_node_alone", |b| {
        let mut x = 0_u64;
        b.iter(|| {
            x += 1;
            heavy(x)
        })
    });
    group.finish();
}

fn diamond_trivial(c: &mut Criterion) {
    let mut group = c.benchmark_group("diamond");
    configure(&mut group);
    executors(&mut group, &diamond());
    group.finish();
}

/// Every group of this file, with the settings given on the command line (what
/// `criterion_group!` would generate, written out so it can carry a doc comment).
pub fn benches() {
    let mut c = Criterion::default().configure_from_args();
    chain8_trivial(&mut c);
    wide8_trivial(&mut c);
    wide8_heavy(&mut c);
    diamond_trivial(&mut c);
}

criterion_main!(benches);
