"""timbr for Python against its floor and its peers, Python stages everywhere, same run.

    python timbr-py/bench/bench.py [--n N] [--rounds R] [--only NAME] [--json]

Workloads (each prints data/s and µs per datum; the median of R rounds):

identity8 — 8 Python identity stages; each datum's record (oid + JSON array of the 9 values):
  floor          a plain Python loop: the 8 calls, then the record text with the json module,
                 each distinct object serialized once
  timbr_get      timbr, the notebook's way: put(x) then get() on the caller's thread
  timbr_run      timbr, streaming: a source feeding a started machine (one worker thread)
  notebook       the notebook's design rebuilt: a dask graph copied and run per datum with
                 dask's synchronous get (needs dask)
  bytewax        Bytewax 0.21: 8 map steps and the same record (needs bytewax)

tweets — the notebook's use case (text, VADER sentiment, last 50, every 31st raising):
  tweets_loop    a plain loop over the same functions, catching the exception
  tweets_timbr   timbr running them (one worker)

Optional peers are skipped with a note when their package is missing (this is a bench, not
a test: install them with `pip install dask bytewax==0.21.* vaderSentiment`).
"""

import argparse
import collections
import json
import os
import random
import statistics
import sys
import time

import timbr

WORDS = ["good", "bad", "great", "awful", "dogs", "cats", "love", "hate", "meh", "wow", ":)"]


def data(n):
    rng = random.Random(7)
    return [
        {"id": i, "user": f"user{i % 97}", "text": " ".join(rng.choice(WORDS) for _ in range(8))}
        for i in range(n)
    ]


def identity(x):
    return x


STAGES = [identity] * 8


def oid(i, _pid=os.getpid()):
    # An ObjectId's shape: 24 hex digits, time-ordered.
    return "%08x%06x%010x" % (int(time.time()), _pid & 0xFFFFFF, i)


# --- identity8 -------------------------------------------------------------------------------

def floor(items):
    dumps = json.dumps
    out = None
    start = time.perf_counter()
    for i, x in enumerate(items):
        values = [x]
        v = x
        for f in STAGES:
            v = f(v)
            values.append(v)
        texts = {}
        parts = []
        for v in values:
            t = texts.get(id(v))
            if t is None:
                t = texts[id(v)] = dumps(v, separators=(",", ":"))
            parts.append(t)
        out = (oid(i), "[" + ",".join(parts) + "]")
    elapsed = time.perf_counter() - start
    assert out is not None
    return elapsed


def machine8():
    m = timbr.Machine(stages=8, bufsize=1024)
    for k, f in enumerate(STAGES):
        m[k] = f
    return m


def timbr_get(items):
    m = machine8()
    put, get = m.put, m.get
    start = time.perf_counter()
    for x in items:
        put(x)
        record = get()
    elapsed = time.perf_counter() - start
    assert record.ok
    return elapsed


def timbr_run(items):
    m = machine8()
    m = timbr.Machine(stages=8, bufsize=1024, handler=timbr.StopWhenDone())
    for k, f in enumerate(STAGES):
        m[k] = f
    m.set_source(items)
    start = time.perf_counter()
    m.start()
    m.wait()
    elapsed = time.perf_counter() - start
    assert m.counts["processed"] == len(items), m.counts
    return elapsed


def notebook(items):
    try:
        import dask
    except ImportError:
        return None
    get = dask.get  # the synchronous scheduler, as the notebook's get_sync
    dumps = json.dumps

    def json_serialize(obj):
        try:
            return dumps(obj)
        except TypeError as te:
            return dumps({"_exception": str(te)})

    def wrap(fn):
        return lambda *args: fn(*args[:1])

    n = 8
    dsk = {"oid": (oid, 0)}
    for i in range(n):
        cmd = [wrap(STAGES[i])]
        cmd.extend(f"f{j}" for j in reversed(range(i)))
        cmd.append("in")
        cmd.extend(f"f{j}_s" for j in reversed(range(i)))
        cmd.append("in_s")
        dsk[f"f{i}"] = tuple(cmd)
    dsk.update({"oid_s": (str, "oid"), "in_s": (json_serialize, "in")})
    dsk.update({f"f{i}_s": (json_serialize, f"f{i}") for i in range(n)})
    keys = ["oid_s", "in_s"] + [f"f{i}_s" for i in range(n)]
    start = time.perf_counter()
    for x in items:
        d = dict(dsk)  # the notebook copies its graph per datum
        d["in"] = x
        out = get(d, keys)
        record = (out[0], "[" + ",".join(out[1:]) + "]")
    elapsed = time.perf_counter() - start
    assert record
    return elapsed


def bytewax_(items):
    try:
        import bytewax.operators as op
        from bytewax.dataflow import Dataflow
        from bytewax.testing import TestingSink, TestingSource, run_main
    except ImportError:
        return None
    dumps = json.dumps
    flow = Dataflow("identity8")
    stream = op.input("in", flow, TestingSource(list(enumerate(items))))
    stream = op.map("start", stream, lambda ix: (ix[0], [ix[1]], ix[1]))
    for k, f in enumerate(STAGES):
        def step(state, f=f):
            i, values, v = state
            v = f(v)
            values.append(v)
            return (i, values, v)
        stream = op.map(f"f{k}", stream, step)

    def record(state):
        i, values, _ = state
        texts = {}
        parts = []
        for v in values:
            t = texts.get(id(v))
            if t is None:
                t = texts[id(v)] = dumps(v, separators=(",", ":"))
            parts.append(t)
        return (oid(i), "[" + ",".join(parts) + "]")

    stream = op.map("record", stream, record)
    out = []
    op.output("out", stream, TestingSink(out))
    start = time.perf_counter()
    run_main(flow)
    elapsed = time.perf_counter() - start
    assert len(out) == len(items)
    return elapsed


# --- tweets ----------------------------------------------------------------------------------

def tweet_functions():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    analyzer = SentimentIntensityAnalyzer()
    recent = collections.deque(maxlen=50)

    def text(x):
        return x.get("text", "")

    def polarity(x):
        return analyzer.polarity_scores(x)["compound"]

    def remember(a, b):
        recent.append((b, a))

    def every_31st(input):
        if input["id"] % 31 == 0:
            raise TypeError(f"tweet {input['id']}")

    return text, polarity, remember, every_31st


def tweets_loop(items):
    fns = tweet_functions()
    if fns is None:
        return None
    text, polarity, remember, every_31st = fns
    dumps = json.dumps
    start = time.perf_counter()
    for i, x in enumerate(items):
        f0 = text(x)
        f1 = polarity(f0)
        f2 = remember(f1, f0)
        try:
            f3 = every_31st(x)
            f3_s = dumps(f3)
        except TypeError as e:
            f3_s = dumps({"_exception": str(e)})
        record = (oid(i), "[" + ",".join([dumps(x), dumps(f0), dumps(f1), dumps(f2), f3_s]) + "]")
    elapsed = time.perf_counter() - start
    assert record
    return elapsed


def tweets_timbr(items):
    fns = tweet_functions()
    if fns is None:
        return None
    text, polarity, remember, every_31st = fns
    m = timbr.Machine(stages=4, handler=timbr.StopWhenDone())
    m[0], m[1], m[2], m[3] = text, polarity, remember, every_31st
    m.set_source(items)
    start = time.perf_counter()
    m.start()
    m.wait()
    elapsed = time.perf_counter() - start
    assert m.counts["processed"] + m.counts["failed"] == len(items)
    return elapsed


WORKLOADS = {
    "floor": floor,
    "timbr_get": timbr_get,
    "timbr_run": timbr_run,
    "notebook": notebook,
    "bytewax": bytewax_,
    "tweets_loop": tweets_loop,
    "tweets_timbr": tweets_timbr,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="data per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (median reported)")
    parser.add_argument("--only", action="append", choices=sorted(WORKLOADS))
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    if args.n <= 0 or args.rounds <= 0:
        parser.error("--n and --rounds take numbers above 0")
    items = data(args.n)
    names = args.only or list(WORKLOADS)
    times = {name: [] for name in names}
    # Alternate the workloads round by round, so a drift of the machine's speed hits all.
    for _ in range(args.rounds):
        for name in names:
            n = len(items) if name != "notebook" else min(len(items), 2000)
            elapsed = WORKLOADS[name](items[:n])
            times[name].append(None if elapsed is None else elapsed / n)
    results = {}
    for name in names:
        if times[name][0] is None:
            print(f"{name:<14} skipped: its package is not installed", file=sys.stderr)
            continue
        per = statistics.median(times[name])
        results[name] = per
        if args.json:
            print(json.dumps({"workload": name, "us_per_datum": round(per * 1e6, 3),
                              "datums_per_s": round(1 / per)}))
        else:
            print(f"{name:<14} {1 / per:>12,.0f} data/s {per * 1e6:>10.2f} µs/datum")
    if not args.json:
        base = results.get("floor")
        for name in ("timbr_get", "timbr_run", "notebook", "bytewax"):
            if base and name in results:
                print(f"{name} / floor = {results[name] / base:.2f}")
        if "notebook" in results and "timbr_run" in results:
            print(f"notebook / timbr_run = {results['notebook'] / results['timbr_run']:.1f}")
        if "bytewax" in results and "timbr_run" in results:
            print(f"bytewax / timbr_run = {results['bytewax'] / results['timbr_run']:.2f}")
        if "tweets_loop" in results and "tweets_timbr" in results:
            print(f"tweets: timbr rate / loop rate = "
                  f"{results['tweets_loop'] / results['tweets_timbr']:.2f}")


if __name__ == "__main__":
    main()
