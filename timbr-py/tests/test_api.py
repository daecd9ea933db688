"""The notebook's API, as written, from the user's side."""

import json
import queue

import pytest

import timbr


def test_the_notebooks_cells_run_as_written():
    m = timbr.Machine(stages=8, bufsize=1024)
    recent = []
    m[0] = lambda x: x.get("text", "")
    m[1] = lambda x: len(x)
    m[2] = lambda a, b: recent.append((b, a))
    assert len(m) == 8
    called = m({"text": "hello"})
    assert called["f0"] == "hello" and called["f1"] == 5 and called["f2"] is None
    assert recent == [("hello", 5)]
    assert called["in"] == {"text": "hello"} and len(called["oid"]) == 24
    assert called["f7"] is None  # empty slots pass f2 through
    assert json.loads(called["f1_s"]) == 5 and called.json("in") == '{"text":"hello"}'


def test_positional_arguments_are_the_notebooks():
    m = timbr.Machine(stages=4)
    m[0] = lambda x: x + 1
    m[1] = lambda x: x * 10
    m[2] = lambda a, b, c, d, e, f: [a, b, c, d, e, f]
    assert m(1)["f2"] == [20, 2, 1, "20", "2", "1"]
    assert timbr.positional_keys(2) == ["f1", "f0", "input", "f1_s", "f0_s", "input_s"]
    m[3] = lambda *args: len(args)
    assert m(1)["f3"] == 8


def test_arguments_by_name_like_the_stage_attribute():
    m = timbr.Machine(stages=3)
    m[0] = lambda input: input * 2

    def describe(f0, input_s, oid):
        return f"{f0} from {input_s} ({len(oid)})"

    m[2] = describe
    assert m(21)["f2"] == "42 from 21 (24)"


def test_stage_decorator_and_from_stages():
    @timbr.stage(0)
    def words(input):
        return input.split()

    @timbr.stage(2, name="count")
    def count(f1):
        return len(f1)

    assert words("a b") == ["a", "b"]  # still a plain function
    m = timbr.Machine.from_stages(words, count, stages=4)
    assert m("a b c")["f2"] == 3
    assert m[2] is count
    assert [s["name"] for s in m.status["stages"]] == ["words", "count"]


def test_getitem_delitem_and_live_swap():
    m = timbr.Machine(stages=2)
    f = lambda x: x + 1  # noqa: E731
    m[0] = f
    assert m[0] is f
    assert m(1)["f1"] == 2
    m[0] = lambda x: x - 1
    assert m(1)["f1"] == 0
    del m[0]
    assert m(1)["f1"] == 1
    with pytest.raises(KeyError):
        m[0]
    with pytest.raises(KeyError):
        del m[0]


def test_a_full_queue_raises_queue_full_carrying_the_datum():
    m = timbr.Machine(bufsize=2)
    m.put(1)
    m.put(2)
    datum = {"the": "third"}
    with pytest.raises(queue.Full) as caught:
        m.put(datum)
    assert isinstance(caught.value, timbr.Full)
    assert caught.value.datum is datum
    with pytest.raises(timbr.Full):
        m.put(3, block=True, timeout=0.05)
    assert m.counts["queued"] == 2 and m.counts["accepted"] == 2


def test_get_runs_one_datum_and_returns_its_record():
    m = timbr.Machine(stages=2)
    m[0] = lambda x: x * 2
    with pytest.raises(queue.Empty):
        m.get()
    with pytest.raises(timbr.Empty):
        m.get(block=True, timeout=0.01)
    m.put(4)
    record = m.get(block=True, timeout=1)
    assert record.values == [4, 8, 8]
    oid, *entries = tuple(record)  # the notebook's tuple: oid_s, in_s, f0_s, ...
    assert oid == record.oid and entries == ["4", "8", "8"]
    assert record.ok and record.failures == []


def test_start_stop_running_and_restart():
    m = timbr.Machine()
    seen = []
    m[0] = seen.append
    assert not m.running and m.state == "idle"
    m.start()
    assert m.running
    with pytest.raises(RuntimeError):
        m.start()
    for i in range(100):
        m.put(i, block=True)
    m.stop()
    assert not m.running and m.state == "stopped"
    assert sorted(seen) == list(range(100))
    m.stop()  # idempotent
    m.start()
    m.put(100, block=True)
    m.stop()
    assert len(seen) == 101


def test_stop_without_draining_hands_the_queue_back():
    m = timbr.Machine(bufsize=10)
    for i in range(5):
        m.put(i)
    m.start()
    back = m.stop(drain=False)
    counts = m.counts
    assert counts["processed"] + len(back) == 5
    assert counts["returned"] == len(back)


def test_a_generator_source_and_completion():
    m = timbr.Machine(handler=[timbr.StopWhenDone(), timbr.LogAndContinue()], total=500)
    m[0] = lambda x: x % 7
    m.set_source(i for i in range(500))
    m.start()
    assert m.wait(timeout=60) == "completed"
    assert not m.running
    counts = m.counts
    assert counts["processed"] == 500 and counts["queued"] == 0
    assert m.progress["percent"] == 100.0
    assert m.status["source"]["produced"] == 500


def test_context_manager_starts_and_stops():
    out = []
    with timbr.Machine() as m:
        m[0] = out.append
        assert m.running
        m.put(1, block=True)
    assert not m.running and out == [1]


def test_status_plugins_callables_objects_and_ones_that_raise():
    ticks = []

    class Seen:
        name = "seen"

        def fields(self, status):
            return {"processed_twice": 2 * status["counts"]["processed"]}

        def stopped(self, status):
            ticks.append(status["state"])

    def doubled(status):
        return {"queued": status["queue"]["len"] if "len" in status["queue"] else None}

    def broken(status):
        raise RuntimeError("plugin bug")

    m = timbr.Machine(plugins=[Seen(), doubled, broken])
    m[0] = lambda x: x
    for i in range(3):
        m.put(i)
    m.start()
    m.stop()
    plugins = m.status["plugins"]
    assert plugins["seen"] == {"processed_twice": 6}
    assert "doubled" in plugins and "broken" not in plugins
    assert ticks == ["stopped"]
    with pytest.raises(TypeError, match="neither `fields"):
        timbr.Machine(plugins=[object()])


def test_the_stage_debugger_stops_on_stage_failures_only():
    m = timbr.Machine(handler=timbr.StageDebugger())
    m[0] = lambda x: object() if x == 1 else 1 // x  # 1: unserializable (goes on); 0: fails
    for x in [2, 1, 3, 0, 5]:
        m.put(x)
    m.start()
    assert m.wait(timeout=30).startswith("failed")
    assert m.kept.failure.datum == 0
    assert m.counts["processed"] == 3
    assert m.stop(drain=False) == [5]
