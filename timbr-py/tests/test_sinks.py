"""Records out: ZeroMQ as the notebook published (read with pyzmq), JSON lines, a callback,
Redis; and the HTTP side, against the real things."""

import json
import time
import urllib.request

import zmq

import timbr
from conftest import redis_cli


def test_zmq_records_are_the_notebooks_two_frames_read_by_pyzmq():
    sink = timbr.ZmqSink()
    m = timbr.Machine(stages=2, sink=sink)
    m[0] = lambda x: x["text"].upper()
    assert sink.endpoint.startswith("ipc://")
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, 10_000)
    sub.connect(sink.endpoint)
    m.start()
    # A slow joiner misses what was sent before it joined: put until one arrives.
    got = None
    deadline = time.monotonic() + 30
    while got is None and time.monotonic() < deadline:
        m.put({"text": "hi"}, block=True)
        try:
            got = sub.recv_multipart(flags=0 if m.counts["processed"] > 50 else zmq.NOBLOCK)
        except zmq.Again:
            time.sleep(0.01)
    m.stop()
    sub.close()
    ctx.term()
    assert got is not None
    oid, record = got
    assert len(oid) == 24
    assert json.loads(record) == [{"text": "hi"}, "HI", "HI"]


def test_json_lines_sink(tmpfile):
    m = timbr.Machine(stages=1, sink=timbr.JsonLines(tmpfile))
    m[0] = lambda x: x * 2
    for i in range(10):
        m.put(i)
    m.start()
    m.stop()
    lines = [json.loads(line) for line in open(tmpfile)]
    assert [line["record"] for line in lines] == [[i, i * 2] for i in range(10)]
    assert m.sink.endswith(tmpfile)


def test_a_callback_sink_and_its_errors():
    got = []

    def sink(record):
        if record.values[0] == 3:
            raise RuntimeError("sink says no")
        got.append(record)

    m = timbr.Machine(stages=1, sink=sink)
    m[0] = lambda x: -x
    for i in range(5):
        m.put(i)
    m.start()
    m.stop()
    assert [r.values for r in got] == [[0, 0], [1, -1], [2, -2], [4, -4]]
    status = m.status
    assert status["counts"]["processed"] == 5  # the datum counts; its delivery failed
    assert status["errors"]["sink"] == 1 and status["sink"]["errors"] == 1
    assert "sink says no" in json.dumps(m.errors)


def test_a_redis_fleet_from_python(redis_url):
    producer = timbr.RedisQueue(redis_url, "tweets")
    producer.put_all({"n": i, "text": f"tweet {i}"} for i in range(200))
    producer.put({"n": 200, "text": "the last"})
    producer.flush()
    queue = timbr.RedisQueue(redis_url, "tweets", group="workers", consumer="w1")
    m = timbr.Machine(
        stages=2, queue=queue, sink=timbr.RedisSink(redis_url, "results"),
        handler=[timbr.StopWhenIdle(0.5), timbr.LogAndContinue()],
    )
    m[0] = lambda x: len(x["text"])
    m[1] = lambda f0, input: 1 / (input["n"] % 50)  # every 50th fails: still a record
    m.start()
    assert m.wait(timeout=60) == "completed"
    counts = m.counts
    assert counts["processed"] + counts["failed"] == 201 and counts["failed"] == 5
    deadline = time.monotonic() + 30
    while int(redis_cli(redis_url, "XLEN", "results")) < 201:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert int(redis_cli(redis_url, "XLEN", "results")) == 201
    report = queue.report()
    assert isinstance(report, dict)
    fleet = timbr.Fleet(redis_url, "tweets", group="workers")
    balance = fleet.balance()
    assert balance["produced"] == 201 and balance["acked"] == 201 and balance["balanced"]
    view = fleet.view()
    assert "w1" in json.dumps(view)  # the machine announced itself in the registry


def test_serve_http_metrics_health_and_dashboard():
    m = timbr.Machine(stages=1, name="notebook")
    m[0] = lambda x: x
    m.put(1)
    m.start()
    with timbr.serve_http(m) as server:
        assert server.url.startswith("http://127.0.0.1:")
        metrics = urllib.request.urlopen(server.url + "metrics", timeout=10).read().decode()
        assert "timbr_data_processed_total" in metrics
        live = urllib.request.urlopen(server.url + "livez", timeout=10)
        assert live.status == 200
        page = urllib.request.urlopen(server.url, timeout=10).read().decode()
        assert "<html" in page.lower()
    m.stop()
