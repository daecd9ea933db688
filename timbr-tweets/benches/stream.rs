//! How long the generator takes per tweet, made or skipped: what a fleet producer that
//! continues at tweet K pays before its first put.

use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use timbr_tweets::TweetStream;

/// Tweets made, and tweets skipped to reach a place in the stream (by `skip`, which jumps, and
/// by making them one by one, as `skip` did before the stream could jump).
fn stream(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(1));
    g.bench_function("next", |b| {
        b.iter_batched_ref(|| TweetStream::new(1), |s| s.next(), BatchSize::SmallInput)
    });
    const K: usize = 10_000;
    g.throughput(Throughput::Elements(K as u64));
    // `skip(K)` asks `nth(K - 1)`, which jumps.
    g.bench_function("skip_10k", |b| b.iter(|| TweetStream::new(1).nth(K)));
    g.bench_function("make_10k", |b| {
        b.iter(|| {
            let mut s = TweetStream::new(1);
            (0..K).for_each(|_| drop(s.next()));
            s.next()
        })
    });
    g.finish();
}

/// Every group of this file, with the settings given on the command line (what
/// `criterion_group!` would generate, written out so it can carry a doc comment).
pub fn benches() {
    let mut c = Criterion::default().configure_from_args();
    stream(&mut c);
}

criterion_main!(benches);
