"""Type stubs for timbr's native module (the Rust engine). Import ``timbr``, not this."""

from typing import Any, Callable, Iterable, Iterator, Literal, Optional, Sequence, Union

MAX_SLOTS: int

class StageError(Exception):
    """A stage failed with an error that is not a Python exception (a Rust stage, a panic)."""

class WiringError(ValueError):
    """A stage or setting does not fit the machine (a setting out of bounds, a slot taken)."""

HandlerSpec = Union[
    "LogAndContinue", "Debugger", "StageDebugger", "StopWhenDone", "StopWhenIdle",
    Callable[["Event"], Optional[str]], Sequence[Any],
]
SinkSpec = Union["ZmqSink", "JsonLines", "RedisSink", Callable[["Record"], Any], None]

class Machine:
    """A streaming machine: a bounded queue, ``stages`` slots of Python callables run on the
    Rust engine's threads, a record per datum to the sink, and a status at every moment."""

    def __new__(
        cls,
        stages: int = 8,
        bufsize: int = 1024,
        *,
        workers: int = 1,
        ordered: bool = False,
        name: Optional[str] = None,
        handler: Optional[HandlerSpec] = None,
        sink: SinkSpec = None,
        queue: Optional["RedisQueue"] = None,
        total: Optional[int] = None,
        plugins: Optional[list] = None,
        drop_when_full: bool = False,
        idle_after: Optional[float] = None,
        retry: Optional["Retry"] = None,
    ) -> "Machine": ...
    def _set_stage(self, slot: int, func: Callable[..., Any], name: str, names: list[str]) -> None: ...
    def __getitem__(self, slot: int) -> Callable[..., Any]:
        """The callable at ``slot``; KeyError if the slot is empty."""
    def __delitem__(self, slot: int) -> None:
        """Empties ``slot`` (it passes its input through again)."""
    def __len__(self) -> int:
        """The number of slots."""
    def retry(self, slot: int, policy: Optional["Retry"]) -> None:
        """Sets the retry policy of the stage at ``slot`` (None: the machine's default)."""
    def failures(
        self,
        *,
        stage: Optional[str] = None,
        error: Optional[str] = None,
        since: Any = None,
        until: Any = None,
    ) -> list[dict[str, Any]]:
        """The data that failed for good, oldest first (``oid``, ``slot``, ``stage``,
        ``error``, ``attempts``, ``at``, ``origin``, ``input``)."""
    def replay_failures(
        self,
        *,
        stage: Optional[str] = None,
        error: Optional[str] = None,
        since: Any = None,
        until: Any = None,
    ) -> int:
        """Runs the failures the filter picks again, through the stages as they are now."""
    def put(self, datum: Any, block: bool = False, timeout: Optional[float] = None) -> None:
        """Puts ``datum`` on the queue; a full queue raises ``timbr.Full`` (a ``queue.Full``)
        carrying it. Non-blocking unless ``block``."""
    def get(self, block: bool = False, timeout: Optional[float] = 0.5) -> "Record":
        """Takes one datum, runs it on this thread, returns its record; ``timbr.Empty`` (a
        ``queue.Empty``) when nothing arrives."""
    def __call__(self, datum: Any) -> "Called":
        """Runs ``datum`` now on this thread; every key, as a mapping."""
    def start(self) -> None:
        """Starts the machine's threads (and its source)."""
    def stop(self, drain: bool = True) -> list[Any]:
        """Stops and joins the threads; ``drain=False`` returns what was still queued."""
    def wait(self, timeout: Optional[float] = None) -> str:
        """Waits until the machine no longer runs; returns its state. Ctrl-C stops it."""
    def set_source(self, source: Iterable[Any]) -> None:
        """Feeds the queue from ``source`` on its own thread (backpressure when full)."""
    @property
    def running(self) -> bool:
        """Whether the machine's threads run (from the threads themselves)."""
    @property
    def state(self) -> str:
        """``idle``, ``running``, ``stopping``, ``stopped``, ``completed`` or ``failed: …``."""
    @property
    def status(self) -> dict[str, Any]:
        """A consistent snapshot: state, counts, queue, rates, stages, source, sink, errors."""
    @property
    def counts(self) -> dict[str, int]:
        """accepted = processed + failed + queued + in_flight + dropped + returned."""
    @property
    def progress(self) -> Optional[dict[str, Any]]:
        """Percent done and ETA when ``total`` was given."""
    @property
    def kept(self) -> Optional["Kept"]:
        """What a stopping handler kept (Debugger), with ``replay()``."""
    @property
    def errors(self) -> list[dict[str, Any]]:
        """The recent errors the default handler (or a LogAndContinue given) kept."""
    @property
    def queued(self) -> int:
        """The data waiting in the queue."""
    @property
    def sink(self) -> str:
        """Where records go."""
    def _repr_html_(self) -> str: ...

class Record:
    """One datum's record: ``oid`` and the JSON array ``[in_s, f0_s, …]``; iterating gives the
    notebook's tuple ``(oid_s, in_s, f0_s, …)``."""
    oid: str
    json: str
    values: list[Any]
    ok: bool
    failures: list[dict[str, Any]]
    unserializable: list[dict[str, str]]
    origin: Optional[str]
    attempts: int
    replaces: Optional[str]
    def __iter__(self) -> Iterator[str]: ...

class Called:
    """Every key of one datum run by ``machine(datum)``; a failed key raises its exception."""
    ok: bool
    record: Record
    def __getitem__(self, key: str) -> Any: ...
    def __contains__(self, key: str) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def keys(self) -> list[str]: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def json(self, key: str) -> str: ...

class Event:
    """Something that happened to a machine."""
    kind: str
    message: str
    is_error: bool
    failure: Optional["Failure"]

class Failure:
    """A stage that failed on a datum, with its arguments and ``replay()``."""
    stage: str
    slot: int
    oid: str
    message: str
    datum: Any
    exception: BaseException
    def value(self, key: str) -> Any: ...
    def replay(self) -> Any:
        """Runs the stage again on the same arguments; raises its exception."""

class Kept:
    """What a stopping handler kept."""
    event: Event
    failure: Optional[Failure]
    def replay(self) -> Any: ...

class LogAndContinue:
    """Keeps the last ``capacity`` errors; the machine goes on (the default)."""
    errors: int
    def __init__(self, capacity: int = 100, print: bool = False) -> None: ...
    def recent(self) -> list[dict[str, Any]]: ...

class Debugger:
    """Stops at the first error of any kind, keeping the failing datum."""

class StageDebugger:
    """Stops at the first stage failure only, keeping it."""

class StopWhenDone:
    """Completes when the source is exhausted (or after ``idle`` seconds idle)."""
    def __init__(self, idle: Optional[float] = None) -> None: ...

class StopWhenIdle:
    """Completes after ``seconds`` without activity."""
    def __init__(self, seconds: float) -> None: ...

class ZmqSink:
    """Publishes ``[oid_s, json array]`` on a ZeroMQ PUB socket, as the notebook did."""
    endpoint: Optional[str]
    def __init__(self, endpoint: Optional[str] = None, *, allow_remote: bool = False) -> None: ...

class JsonLines:
    """One JSON line per record to ``path`` (``"-"``: sys.stdout)."""
    def __init__(self, path: str, *, append: bool = False) -> None: ...

class RedisSink:
    """Records to a Redis stream."""
    def __init__(self, url: str, stream: str) -> None: ...

class RedisQueue:
    """A Redis stream shared by a group of machines (at-least-once)."""
    def __init__(
        self, url: str, stream: str, *, group: Optional[str] = None,
        consumer: Optional[str] = None, capacity: Optional[int] = None,
        batch: Optional[int] = None, pack: Optional[int] = None,
        claim_after: Optional[float] = None, max_deliveries: Optional[int] = None,
    ) -> None: ...
    def put(self, datum: Any) -> None: ...
    def put_all(self, data: Iterable[Any]) -> None: ...
    def flush(self) -> None: ...
    def report(self) -> dict[str, Any]: ...

class Fleet:
    """A fleet's view from Redis: its machines and the stream's balance."""
    def __init__(self, url: str, stream: str, *, group: Optional[str] = None) -> None: ...
    def balance(self) -> dict[str, Any]:
        """produced = acked + pending + unread + dead, and ``balanced``."""
    def view(self) -> dict[str, Any]:
        """Every machine the registry knows, the totals and the stream as Redis sees it."""

class HttpServer:
    """``/metrics``, ``/livez``, ``/readyz`` and the dashboard for one machine."""
    url: str
    addr: str
    def close(self) -> None: ...
    def __enter__(self) -> "HttpServer": ...
    def __exit__(self, *exc: Any) -> None: ...

def serve_http(machine: Machine, addr: str = "127.0.0.1:0", *, allow_remote: bool = False) -> HttpServer:
    """Serves the machine's metrics, health checks and live dashboard."""

class Retry:
    """How a stage's failures are retried: ``attempts`` runs at most, ``wait`` seconds
    before the first retry (growing by ``factor`` up to ``max_wait`` if given), ``jitter``
    (0 to 1) of it less at random; ``on``: the transient exceptions (a class, a tuple, or a
    callable taking the exception), by default ``timbr.TransientError``."""

    def __new__(
        cls,
        attempts: int = 3,
        *,
        wait: float = 0.1,
        max_wait: Optional[float] = None,
        factor: int = 2,
        jitter: float = 0.0,
        on: Any = None,
    ) -> "Retry": ...
    attempts: int
