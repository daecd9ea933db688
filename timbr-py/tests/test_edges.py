"""What a review from the outside found: each a hang, a held-back datum or a miscount once."""

import math
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import timbr


def test_put_on_a_full_queue_while_a_python_handler_runs_never_deadlocks():
    # The worker's handler waits for the GIL; the put's full-queue event waits for the
    # handler: the put must not hold the GIL meanwhile.
    def handler(event):
        sum(range(2000))

    m = timbr.Machine(stages=1, bufsize=2, handler=handler)
    m[0] = lambda x: 1 / 0
    m.start()
    refused = 0
    for i in range(3000):
        try:
            m.put(i)
        except timbr.Full:
            refused += 1
    m.stop()
    c = m.counts
    assert c["failed"] == 3000 - refused and c["queued"] == 0


def test_a_handler_that_puts_on_a_full_queue_does_not_wait_for_itself():
    box = {}

    def requeue(event):
        if event.kind == "stage_failed":
            try:
                box["m"].put(event.failure.datum + 1)
            except timbr.Full:
                pass

    m = box["m"] = timbr.Machine(stages=1, bufsize=1, handler=requeue)
    m[0] = lambda x: 1 / 0 if x < 100 else x
    m.put(0)
    m.start()
    for i in range(200):
        try:
            m.put(1000 + i, block=True, timeout=10)
        except timbr.Full:
            pass
    m.stop()
    assert not m.running and m.counts["queued"] == 0


def test_replacing_a_source_blocked_in_python_returns():
    release = threading.Event()

    def slow():
        while True:
            release.wait(30)
            yield 1

    m = timbr.Machine()
    m[0] = lambda x: x
    m.set_source(slow())
    m.start()
    done = threading.Event()
    t = threading.Thread(target=lambda: (m.set_source([1, 2]), done.set()))
    t.start()
    # set_source waits for the blocked generator, without the GIL: this thread runs, and
    # releasing the generator lets it finish.
    release.set()
    t.join(60)
    assert done.is_set()
    m.stop()


def test_items_from_a_generator_are_not_held_back_by_its_next_slow_item():
    seen_first = threading.Event()

    def source():
        yield 0
        # The next item comes only once the first has been processed: a source that held
        # the first back until the second arrived would wait here for ever (30 s).
        assert seen_first.wait(30), "the first item was held back"
        yield 1

    m = timbr.Machine(handler=[timbr.StopWhenDone(), timbr.LogAndContinue()])
    m[0] = lambda x: seen_first.set() if x == 0 else x
    m.set_source(source())
    m.start()
    assert m.wait(timeout=60) == "completed"
    assert m.counts["processed"] == 2 and m.status["errors"]["source"] == 0


def test_keyboard_interrupt_and_system_exit_in_a_stage_on_the_callers_thread_propagate():
    def interrupt(x):
        raise KeyboardInterrupt

    def leave(x):
        raise SystemExit(3)

    m = timbr.Machine(stages=1)
    m[0] = interrupt
    with pytest.raises(KeyboardInterrupt):
        m(1)
    m.put(1)
    with pytest.raises(KeyboardInterrupt):
        m.get()
    m[0] = leave
    with pytest.raises(SystemExit):
        m(1)
    assert m.counts["failed"] == 1  # the datum `get` took is accounted for
    m[0] = lambda x: x
    assert m(5)["f0"] == 5  # nothing left pending


def test_a_blocking_put_that_times_out_is_one_refusal_and_one_event():
    kinds = []
    m = timbr.Machine(stages=1, bufsize=1, handler=lambda e: kinds.append(e.kind))
    m.put(0)
    with pytest.raises(timbr.Full):
        m.put(1, block=True, timeout=0.3)
    assert m.counts["rejected"] == 1 and kinds.count("queue_full") == 1
    t = threading.Timer(0.2, lambda: m.get())
    t.start()
    m.put(2, block=True, timeout=30)  # room comes: no refusal counted
    t.join()
    assert m.counts["rejected"] == 1 and m.counts["queued"] == 1


def test_ctrl_c_in_a_blocking_put_counts_nothing_twice():
    script = textwrap.dedent("""
        import timbr
        m = timbr.Machine(bufsize=2)
        m.put(1); m.put(2)
        while True:
            try:
                print("waiting", flush=True)
                m.put(3, block=True)
            except KeyboardInterrupt:
                c = m.counts
                print(c["accepted"], c["queued"], c["returned"], c["rejected"], flush=True)
                break
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        for _ in range(100):
            assert line == "waiting\n", (line, proc.stderr.read() if line == "" else "")
            proc.send_signal(signal.SIGINT)
            line = proc.stdout.readline()
            if line != "waiting\n":
                break
        assert line == "2 2 0 0\n", line
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_exit_with_a_source_blocked_in_python_does_not_hang():
    script = textwrap.dedent("""
        import threading, timbr
        never = threading.Event()
        def g():
            yield 1
            never.wait()
            yield 2
        m = timbr.Machine()
        m[0] = lambda x: x
        m.set_source(g())
        m.start()
        print("started", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "started\n"


def test_get_from_a_stage_that_get_runs_is_a_runtime_error():
    m = timbr.Machine(stages=1)

    def nested(x):
        try:
            m.get()
        except RuntimeError as e:
            return str(e)

    m[0] = nested
    m.put(1)
    m.put(2)
    assert m.get().values[1] == "`get` cannot be called from a stage that `get` is running"
    assert m.queued == 1


def test_smaller_edges():
    with pytest.raises(ValueError, match="bufsize must be at least 1"):
        timbr.Machine(bufsize=0)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        timbr.Machine(workers=0)
    m = timbr.Machine(stages=2)
    for bad in (True, 10**30, -1, "0"):
        with pytest.raises((TypeError, IndexError)):
            m[bad]
        with pytest.raises((TypeError, IndexError)):
            m[bad] = len
    m[0] = lambda x: math.nan
    record = m(1).record
    assert record.ok and [u["key"] for u in record.unserializable][0] == "f0_s"
    assert "Out of range float values are not JSON compliant: NaN" in record.values[1]["_exception"]
    with pytest.raises(ValueError, match=r"1e300 is not a duration"):
        m.put(1, block=True, timeout=1e300)

    def sets(status):
        return {1, 2}

    m = timbr.Machine(plugins=[sets])
    m.start()
    m.stop()
    assert "sets" not in m.status["plugins"] and m.status["errors"]["handler"] >= 1


def test_dropping_a_machine_that_just_completed_never_waits_for_its_workers():
    # Its workers end (giving back their thread state, under the GIL) while the last
    # reference goes on the main thread, which holds the GIL: joining them there hung.
    script = textwrap.dedent("""
        import timbr
        for i in range(200):
            m = timbr.Machine(stages=2, handler=timbr.StopWhenDone())
            m[0] = lambda x: x
            m.set_source(list(range(50)))
            m.start()
            assert m.wait(timeout=60) == "completed"
            m = None
        print("done", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"
