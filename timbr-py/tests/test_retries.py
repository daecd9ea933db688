"""Failures as work from Python: retries of transient exceptions, the failure store, and
the notebook's loop — see the failures, swap the fixed stage live, replay them."""

import threading
import time

import pytest

import timbr


def collecting():
    """A sink callable and the records it got (appended from the machine's threads)."""
    records = []
    lock = threading.Lock()

    def sink(record):
        with lock:
            records.append(record)

    return sink, records


def stage_status(machine, slot):
    """The status of the stage at `slot` (the status lists the slots that hold one)."""
    (found,) = [s for s in machine.status["stages"] if s["slot"] == slot]
    return found


def flaky(fails, exception=timbr.TransientError):
    """A stage that raises `exception` the first `fails` times it sees each datum."""
    seen = {}
    lock = threading.Lock()

    def stage(x):
        with lock:
            seen[x] = seen.get(x, 0) + 1
            n = seen[x]
        if n <= fails:
            raise exception(f"down for {x} (call {n})")
        return x * 10

    return stage


def test_a_transient_failure_succeeds_on_the_third_attempt_counted():
    sink, records = collecting()
    m = timbr.Machine(stages=2, workers=2, sink=sink)
    m[1] = flaky(2)
    m.retry(1, timbr.Retry(attempts=3, wait=0.005))
    m.start()
    for x in range(20):
        m.put(x, block=True)
    m.stop()  # a drain waits for the data waiting for their retry
    assert len(records) == 20
    assert all(r.ok and r.attempts == 3 for r in records)
    assert sorted(r.values[2] for r in records) == [x * 10 for x in range(20)]
    stage = stage_status(m, 1)
    assert stage["retries"] == {"retried": 40, "recovered": 20, "exhausted": 0}
    assert m.failures() == []
    counts = m.counts
    assert counts["processed"] == 20 and counts["failed"] == 0 and counts["retrying"] == 0


def test_exhausted_retries_end_in_the_failure_store_with_their_input():
    sink, records = collecting()
    m = timbr.Machine(stages=2, sink=sink, retry=timbr.Retry(attempts=2, wait=0.001))
    m[1] = flaky(5)  # the machine's default policy applies to it
    m.start()
    for x in range(3):
        m.put(x, block=True)
    m.stop()
    assert [r.ok for r in records] == [False] * 3
    assert all(r.attempts == 2 for r in records)
    failures = m.failures()
    assert sorted(f["input"] for f in failures) == [0, 1, 2]
    assert {f["stage"] for f in failures} == {"stage"}
    assert all(f["attempts"] == 2 and "TransientError" in f["error"] for f in failures)
    assert {f["oid"] for f in failures} == {r.oid for r in records}
    summary = m.status["failures"]
    assert summary["stored"] == 3 and summary["dropped"] == 0
    assert stage_status(m, 1)["retries"]["exhausted"] == 3


def test_only_the_exceptions_on_names_are_retried():
    sink, records = collecting()
    m = timbr.Machine(stages=3, sink=sink)
    m[1] = flaky(1, ConnectionError)  # retried: `on` names it
    m[2] = flaky(1, ValueError)  # not transient: fails for good at once
    m.retry(1, timbr.Retry(attempts=2, wait=0.001, on=(ConnectionError, TimeoutError)))
    m.retry(2, timbr.Retry(attempts=5, wait=0.001, on=lambda e: "never" in str(e)))
    m.start()
    m.put(1, block=True)
    m.stop()
    (record,) = records
    assert not record.ok
    assert stage_status(m, 1)["retries"]["recovered"] == 1
    assert stage_status(m, 2)["retries"]["retried"] == 0
    (failure,) = m.failures()
    assert failure["stage"] == "stage" and failure["slot"] == 2
    assert failure["attempts"] == 1 and "ValueError" in failure["error"]


def test_the_notebooks_loop_see_the_failures_swap_the_stage_replay_them():
    """Every 31st tweet fails at f3, as in the notebook; after the live fix each failure is
    replaced by exactly one success record naming it, and the counts still add up."""
    sink, records = collecting()
    m = timbr.Machine(stages=4, workers=2, sink=sink)
    m[0] = lambda x: x
    m[3] = lambda f0: 1 / 0 if f0 % 31 == 0 else f0 + 1
    m.start()
    for x in range(200):
        m.put(x, block=True)
    deadline = time.monotonic() + 30
    while len(records) < 200:
        assert time.monotonic() < deadline, "the records never came"
        time.sleep(0.01)
    failed = {r.oid: r for r in records if not r.ok}
    assert len(failed) == 7  # 0, 31, …, 186
    seen = m.failures(stage="f3", error="ZeroDivisionError")
    assert sorted(f["input"] for f in seen) == [x for x in range(200) if x % 31 == 0]
    assert m.failures(stage="f0") == []
    assert m.failures(until=0) == [] and len(m.failures(since=0)) == 7

    m[3] = lambda f0: f0 + 1  # the fix, swapped between two data
    assert m.replay_failures(stage="f3") == 7
    while len(records) < 207:
        assert time.monotonic() < deadline, "the replays never came"
        time.sleep(0.01)
    m.stop()
    replays = records[200:]
    assert all(r.ok for r in replays)
    assert sorted(r.replaces for r in replays) == sorted(failed)
    assert m.failures() == []
    counts = m.counts
    assert counts["replayed"] == 7
    assert counts["processed"] == 200 - 7 + 7 and counts["failed"] == 7
    assert m.status["failures"]["replayed"] == 7


def test_a_retry_policy_refuses_what_it_cannot_mean():
    with pytest.raises(ValueError, match="attempts"):
        timbr.Retry(attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        timbr.Retry(jitter=2)
    with pytest.raises(ValueError, match="max_wait"):
        timbr.Retry(wait=2, max_wait=1)
    with pytest.raises(TypeError, match="on is"):
        timbr.Retry(on=5)
    with pytest.raises(ValueError, match="seconds"):
        timbr.Machine(stages=1).failures(since=-1)
    assert "attempts=4" in repr(timbr.Retry(4, wait=0.5, max_wait=3, jitter=0.5))


def test_a_predicate_that_raises_says_no_and_its_exception_is_reported(monkeypatch):
    reported = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)

    def broken(exception):
        raise RuntimeError("the predicate itself is broken")

    sink, records = collecting()
    m = timbr.Machine(stages=2, sink=sink)
    m[1] = flaky(1)
    m.retry(1, timbr.Retry(attempts=3, wait=0.001, on=broken))
    m.start()
    m.put(1, block=True)
    m.stop()
    (record,) = records
    assert not record.ok and record.attempts == 1
    assert [type(r.exc_value) for r in reported] == [RuntimeError]
    assert "broken" in str(reported[0].exc_value)
