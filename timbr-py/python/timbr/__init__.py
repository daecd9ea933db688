"""timbr: long-running streaming pipelines you can see into.

The engine is Rust (the bounded queue, the threads, each datum's graph, the accounting, the
status, ZeroMQ/JSON-lines/Redis sinks, HTTP); the stages, sources, handlers and plugins are
yours, in Python. The notebook's API works as written::

    import timbr
    m = timbr.Machine(stages=8, bufsize=1024)
    m[0] = lambda x: x.get("text", "")        # arguments chosen as the notebook did
    m[1] = lambda text: len(text)
    m.set_source(tweets())                    # any iterable, on its own thread
    m.start()
    m.running, m.status["counts"]            # live, from the threads themselves
    m.display()                              # in Jupyter: an HTML status updated in place
    m.stop()

A stage that raises is recorded (type, message, traceback), counted and skipped for that
datum; the machine goes on. A ``timbr.Retry`` policy retries what was transient; what failed
for good is kept (``m.failures()``) and runs again after a fix::

    m.retry(3, timbr.Retry(attempts=3, wait=0.5, on=ConnectionError))
    m.failures(stage="f3")                    # input, stage, error, attempts, time
    m[3] = fixed_f3                           # swapped live, between two data
    m.replay_failures(stage="f3")             # each replay's record says what it replaces

See ``help(timbr.Machine)``.
"""

import atexit
import threading
import weakref

from . import _timbr
from ._args import choose_args, positional_keys
from ._errors import Empty, Full, TransientError
from ._timbr import (
    MAX_SLOTS,
    Called,
    Debugger,
    Event,
    Failure,
    Fleet,
    HttpServer,
    JsonLines,
    Kept,
    LogAndContinue,
    Record,
    RedisQueue,
    RedisSink,
    Retry,
    StageDebugger,
    StageError,
    StopWhenDone,
    StopWhenIdle,
    WiringError,
    ZmqSink,
    serve_http,
)

__all__ = [
    "Machine", "stage", "Full", "Empty", "StageError", "WiringError", "Record", "Called",
    "Event", "Failure", "Kept", "LogAndContinue", "Debugger", "StageDebugger", "StopWhenDone",
    "StopWhenIdle", "ZmqSink", "JsonLines", "RedisSink", "RedisQueue", "Fleet", "HttpServer",
    "serve_http", "MAX_SLOTS", "positional_keys", "Retry", "TransientError",
]

# Machines alive in this interpreter, stopped at exit before the interpreter goes away (their
# threads may be waiting to run Python code then).
_LIVE = weakref.WeakSet()


@atexit.register
def _stop_all():
    for machine in list(_LIVE):
        try:
            machine._shutdown()
        except Exception:  # noqa: BLE001 - exiting: stop what can be stopped
            pass


def stage(slot, name=None):
    """Marks a function as the stage for ``slot``: ``@timbr.stage(3)``.

    The function stays callable as it is. Its arguments are checked now (a misspelt key or a
    later slot raises TypeError at the decorator), and ``Machine.add(fn)`` or
    ``Machine.from_stages(fn, …)`` puts it at its slot.
    """
    if not isinstance(slot, int) or isinstance(slot, bool) or slot < 0:
        raise TypeError(f"a stage's slot is a non-negative int, not {slot!r}")

    def mark(func):
        choose_args(func, slot)
        func.__timbr_slot__ = slot
        func.__timbr_name__ = name or getattr(func, "__name__", "stage")
        return func

    return mark


class Machine(_timbr.Machine):
    __doc__ = _timbr.Machine.__doc__

    def __init__(self, *args, **kwargs):
        # The native constructor did the work; this registers the machine for exit.
        super().__init__()
        _LIVE.add(self)

    @classmethod
    def from_stages(cls, *funcs, **kwargs):
        """A machine with each ``@timbr.stage(n)`` function at its slot; keyword arguments
        as for ``Machine``."""
        machine = cls(**kwargs)
        machine.add(*funcs)
        return machine

    def add(self, *funcs):
        """Puts each ``@timbr.stage(n)`` function at its slot."""
        for func in funcs:
            slot = getattr(func, "__timbr_slot__", None)
            if slot is None:
                raise TypeError(
                    f"{getattr(func, '__name__', func)!r} has no slot: decorate it with "
                    "@timbr.stage(n), or assign it with machine[n] = fn"
                )
            self._put_stage(slot, func, func.__timbr_name__)

    def __setitem__(self, slot, func):
        """``machine[slot] = fn``: puts ``fn`` at ``slot`` (replacing what was there, between
        two data: a swap never tears a datum in half)."""
        self._put_stage(slot, func, None)

    def __getitem__(self, slot):
        """``machine[slot]``: the callable at ``slot`` (KeyError if it is empty)."""
        return super().__getitem__(self._slot(slot))

    def __delitem__(self, slot):
        """``del machine[slot]``: empties ``slot`` (it passes its input through again)."""
        super().__delitem__(self._slot(slot))

    def _slot(self, slot):
        if not isinstance(slot, int) or isinstance(slot, bool):
            raise TypeError(f"a slot is an int, not {type(slot).__name__}")
        if not 0 <= slot < len(self):
            raise IndexError(
                f"slot {slot} is out of range: the machine has {len(self)} slots (0..{len(self)})"
            )
        return slot

    def _put_stage(self, slot, func, name):
        slot = self._slot(slot)
        keys = choose_args(func, slot)
        if name is None:
            name = getattr(func, "__name__", None) or type(func).__name__
            if name == "<lambda>":
                name = f"f{slot}"
        self._set_stage(slot, func, name, keys)

    def __enter__(self):
        if not self.running:
            self.start()
        return self

    def __exit__(self, kind, value, traceback):
        # An exception (Ctrl-C among them) stops at once, leaving the queue as it is.
        self.stop(drain=kind is None)
        return False

    def display(self, interval=1.0):
        """Shows the status as HTML in a notebook and updates it in place every ``interval``
        seconds while the machine runs (and once more when it stops).

        Returns the IPython ``DisplayHandle``. Outside IPython, prints the text status once.
        """
        try:
            from IPython.display import HTML, display
        except ImportError:
            print(repr(self))
            return None
        handle = display(HTML(self._repr_html_()), display_id=True)
        if handle is None:
            return None
        _Updater(self, handle, interval).start()
        return handle


class _Updater(threading.Thread):
    """Updates one display handle from a daemon thread while its machine runs: the machine's
    threads and this one never hold the GIL while they wait."""

    def __init__(self, machine, handle, interval):
        super().__init__(name="timbr-display", daemon=True)
        self._machine = weakref.ref(machine)
        self._handle = handle
        self._interval = max(float(interval), 0.05)

    def run(self):
        from IPython.display import HTML

        seen_running = False
        while True:
            machine = self._machine()
            if machine is None:
                return
            running = machine.running
            seen_running = seen_running or running
            self._handle.update(HTML(machine._repr_html_()))
            # Until it has run and stopped: a display shown before start() waits for it.
            if seen_running and not running:
                return
            del machine
            try:
                self._wait(self._interval)
            except Exception:  # noqa: BLE001 - the kernel is going away
                return

    @staticmethod
    def _wait(seconds):
        threading.Event().wait(seconds)
