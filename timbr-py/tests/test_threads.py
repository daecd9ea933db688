"""Concurrency, tested for its invariants: nothing lost, counts add up, stop returns."""

import threading

import timbr


def test_concurrent_puts_from_many_threads_lose_nothing():
    for round_ in range(10):
        got = []
        lock = threading.Lock()

        def sink(record):
            with lock:
                got.append(record.values[0])

        m = timbr.Machine(stages=2, bufsize=16, workers=2, sink=sink)
        m[0] = lambda x: x * 2
        m[1] = lambda x: 1 // (x % 5)  # fails on every multiple of 5: still a record
        m.start()

        def producer(base):
            for i in range(base, base + 250):
                while True:
                    try:
                        m.put(i)
                        break
                    except timbr.Full as full:
                        assert full.datum == i
                        threading.Event().wait(0.0005)

        threads = [threading.Thread(target=producer, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        m.stop()
        counts = m.counts
        assert counts["accepted"] == 1000, round_
        assert counts["processed"] + counts["failed"] == 1000
        assert counts["queued"] == 0 and counts["in_flight"] == 0
        assert sorted(got) == sorted(k * 1000 + i for k in range(4) for i in range(250))


def test_stages_that_release_the_gil_run_in_parallel():
    # Two data must be inside the stage at the same moment for the barrier to open: only
    # possible if the workers run Python stages in parallel while one waits.
    barrier = threading.Barrier(2, timeout=30)
    m = timbr.Machine(workers=2)
    m[0] = lambda x: barrier.wait()
    m.put(1)
    m.put(2)
    m.start()
    m.stop()
    assert m.counts["processed"] == 2, m.status["last_error"]


def test_stop_always_returns_while_data_flow():
    for _ in range(30):
        m = timbr.Machine(workers=2, bufsize=64)
        m[0] = lambda x: sum(range(200))
        m.set_source(iter(range(10**9)))
        m.start()
        m.status  # a snapshot while it runs
        m.stop()
        counts = m.counts
        assert not m.running
        assert counts["queued"] == 0
        assert counts["accepted"] == counts["processed"] + counts["failed"]


def test_status_from_another_thread_while_running():
    m = timbr.Machine(workers=2)
    m[0] = lambda x: x
    m.set_source(iter(range(20000)))
    snapshots = []
    m.start()
    t = threading.Thread(target=lambda: snapshots.extend(m.status for _ in range(50)))
    t.start()
    t.join()
    m.stop(drain=False)
    for s in snapshots:
        c = s["counts"]
        assert c["accepted"] == (c["processed"] + c["failed"] + c["queued"] + c["in_flight"]
                                 + c["dropped"] + c["returned"])
