"""The interpreter around a machine: Ctrl-C in a waiting call, and exiting while it runs."""

import signal
import subprocess
import sys
import textwrap

RUNNING = textwrap.dedent("""
    import sys, timbr
    m = timbr.Machine(workers=2)
    m[0] = lambda x: sum(range(100))
    m[1] = lambda x: [x] * 3
    m.set_source(iter(range(10**12)))
    m.start()
    print("running", flush=True)
""")


def run(script, **kwargs):
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_exiting_with_a_running_machine_neither_hangs_nor_crashes():
    for _ in range(5):
        done = run(RUNNING)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "running\n" and done.stderr == ""


def test_exiting_after_dropping_the_last_reference_while_running():
    done = run(RUNNING + "del m\nprint('dropped', flush=True)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "running\ndropped\n"


def test_sys_exit_from_a_stage_thread_does_not_hang_the_exit():
    script = RUNNING.replace("sum(range(100))", "sys.exit(3)") + "m.wait(timeout=5)\nsys.exit(0)\n"
    done = run(script)
    assert done.returncode == 0, done.stderr


def test_ctrl_c_in_a_waiting_call_stops_the_machine_cleanly():
    # A SIGINT that lands just before `wait` (not inside it) is caught and the child waits
    # again, saying so: the parent sends another, until one lands inside `wait`.
    script = RUNNING + textwrap.dedent("""
        while True:
            try:
                print("waiting", flush=True)
                m.wait()
            except KeyboardInterrupt:
                if m.running:
                    continue
                c = m.counts
                balanced = c["accepted"] == (c["processed"] + c["failed"] + c["queued"]
                                            + c["in_flight"] + c["dropped"] + c["returned"])
                print("interrupted", m.running, m.state, balanced, c["in_flight"], flush=True)
                break
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "running\n"
        line = proc.stdout.readline()
        for _ in range(100):
            assert line == "waiting\n", line
            proc.send_signal(signal.SIGINT)
            line = proc.stdout.readline()
            if line != "waiting\n":
                break
        assert line == "interrupted False stopped True 0\n", line
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
