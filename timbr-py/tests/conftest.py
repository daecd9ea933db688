"""Fixtures that start real services (redis-server) for the tests, on free loopback ports."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url():
    """A redis-server of the test's own, on a free loopback port in a temp dir. Fails (never
    skips) when redis-server is missing: the test command installs it."""
    server = shutil.which("redis-server")
    assert server, "redis-server is missing: the README's test command installs it"
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}"
        finally:
            proc.kill()
            proc.wait()


def redis_cli(url, *args):
    port = url.rsplit(":", 1)[1]
    out = subprocess.run(
        ["redis-cli", "-p", port, *map(str, args)], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture
def tmpfile():
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    yield path
    os.unlink(path)
