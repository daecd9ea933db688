"""Bad input gets a clear Python exception, and a failing datum never stops the machine."""

import json

import pytest

import timbr


def test_wiring_mistakes_are_clear_exceptions():
    m = timbr.Machine(stages=4)
    with pytest.raises(TypeError, match="must be callable, not int"):
        m[0] = 42
    with pytest.raises(IndexError, match="slot 4 is out of range: the machine has 4 slots"):
        m[4] = lambda x: x
    with pytest.raises(IndexError):
        m[-1] = lambda x: x
    with pytest.raises(TypeError, match="parameter `foo` is no key, but `input` is"):
        m[1] = lambda input, foo: input
    with pytest.raises(TypeError, match="keyword-only parameter `bar` is no key"):
        def kw(*, bar):
            return bar
        m[1] = kw
    with pytest.raises(TypeError, match="asks for `f2`, but a stage may only ask for earlier"):
        m[1] = lambda f2: f2
    with pytest.raises(TypeError, match="takes 5 positional arguments, but only 4 keys"):
        m[1] = lambda a, b, c, d, e: a
    with pytest.raises(TypeError, match="has no slot"):
        m.add(lambda x: x)
    with pytest.raises(timbr.WiringError, match="more than the most"):
        timbr.Machine(stages=10_000)
    assert m.status["stages"] == []  # nothing half-placed


def test_a_stage_exception_is_data_with_type_message_and_traceback():
    m = timbr.Machine(stages=3)

    def every_3rd(input):
        if input % 3 == 0:
            raise TypeError(f"{input} is a multiple of 3")
        return input

    m[0] = every_3rd
    m[1] = lambda x: x + 1
    for i in range(1, 10):
        m.put(i)
    m.start()
    m.stop()
    status = m.status
    assert status["counts"]["processed"] == 6 and status["counts"]["failed"] == 3
    assert status["stages"][0]["errors"] == 3
    last = status["last_error"]
    assert last["message"].startswith("TypeError: 9 is a multiple of 3\nTraceback")
    assert "in every_3rd" in last["message"]
    called = m(3)
    entry = json.loads(called.json("f0"))["_exception"]
    assert entry.startswith("stage `every_3rd` (f0) failed: TypeError: 3 is a multiple of 3")
    assert 'line 40, in every_3rd' in entry
    with pytest.raises(TypeError, match="3 is a multiple of 3"):
        called["f0"]
    with pytest.raises(timbr.StageError, match="skipped"):
        called["f1"]
    assert [e["kind"] for e in m.errors] == ["stage_failed"] * 3


def test_values_json_cannot_encode_become_exception_entries():
    m = timbr.Machine(stages=2)
    m[0] = lambda x: object()
    m[1] = lambda x: {"set": {1, 2}}
    record = m(1).record
    entries = record.values
    assert entries[0] == 1
    assert entries[1] == {"_exception": "cannot serialize: Object of type object is not JSON serializable"}
    assert "Object of type set is not JSON serializable" in entries[2]["_exception"]
    loop = []
    loop.append(loop)
    m[1] = lambda x: loop
    assert "circular" in m(1).record.values[2]["_exception"]
    m[1] = lambda x: {1: 2.5, None: True, "big": 2**100, "tuple": (1, "a")}
    assert m(1).record.values[2] == {"1": 2.5, "null": True, "big": 2**100, "tuple": [1, "a"]}


def test_a_generator_that_raises_fails_the_source_and_the_machine_goes_on():
    def source():
        yield 1
        yield 2
        raise ValueError("the feed broke")

    m = timbr.Machine(handler=[timbr.StopWhenDone(), timbr.LogAndContinue()])
    m[0] = lambda x: x * 2
    m.set_source(source())
    m.start()
    state = m.wait(timeout=30)
    assert state.startswith("failed") and "the feed broke" in state
    status = m.status
    assert status["counts"]["processed"] == 2
    assert status["errors"]["source"] == 1
    assert "ValueError: the feed broke" in json.dumps(status["source"])


def test_a_handler_that_raises_is_counted_and_the_machine_goes_on():
    seen = []

    def handler(event):
        seen.append(event.kind)
        if event.kind == "stage_failed":
            raise RuntimeError("a buggy handler")
        return None

    m = timbr.Machine(handler=handler)
    m[0] = lambda x: 1 / x
    for x in [1, 0, 2, 0, 4]:
        m.put(x)
    m.start()
    m.stop()
    status = m.status
    assert status["counts"]["processed"] == 3 and status["counts"]["failed"] == 2
    assert status["errors"]["handler"] == 2
    assert seen.count("stage_failed") == 2 and "started" in seen


def test_a_handler_that_returns_nonsense_is_counted_too():
    m = timbr.Machine(handler=lambda e: "explode")
    m[0] = lambda x: x
    m.put(1)
    m.start()
    m.stop()
    assert m.status["errors"]["handler"] >= 1 and m.counts["processed"] == 1


def test_bad_handler_sink_and_queue_arguments_are_type_errors():
    with pytest.raises(TypeError, match="a handler is"):
        timbr.Machine(handler=3)
    with pytest.raises(TypeError, match="a sink is"):
        timbr.Machine(sink=3)
    with pytest.raises(TypeError, match="a queue is a timbr.RedisQueue"):
        timbr.Machine(queue=3)
    with pytest.raises(ValueError, match="not a duration"):
        timbr.StopWhenIdle(-1)


def test_the_debugger_keeps_the_datum_and_replays_the_real_exception():
    def every_31st(input):
        if input % 31 == 0:
            raise TypeError(f"tweet {input}")
        return input

    m = timbr.Machine(handler=timbr.Debugger())
    m[0] = lambda x: x
    m[1] = every_31st
    for i in range(1, 40):
        m.put(i)
    m.start()
    state = m.wait(timeout=30)
    assert state.startswith("failed")
    kept = m.kept
    assert kept.failure.datum == 31 and kept.failure.stage == "every_31st"
    assert kept.failure.value("f0") == 31
    with pytest.raises(TypeError, match="tweet 31") as caught:
        kept.replay()
    frames = [f.name for f in caught.traceback]
    assert "every_31st" in frames
    assert isinstance(kept.failure.exception, TypeError)
    left = m.stop(drain=False)
    assert m.counts["processed"] + m.counts["failed"] + len(left) == 39
