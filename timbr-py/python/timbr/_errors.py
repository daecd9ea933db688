"""timbr's own exceptions: those that subclass the standard library's queue exceptions, and
the one a stage raises to be retried."""

import queue

__all__ = ["Full", "Empty", "TransientError"]


class Full(queue.Full):
    """The queue is full: the datum was not put, and is handed back as ``datum``.

    Nothing is dropped silently: catch it and retry, or keep the datum elsewhere.
    """

    def __init__(self, datum, message="the queue is full"):
        super().__init__(message)
        self.datum = datum

    def __reduce__(self):
        return (type(self), (self.datum, str(self)))


class Empty(queue.Empty):
    """No datum arrived before the timeout."""


class TransientError(Exception):
    """Raised by a stage to say "try me again later" (a service that is down, a timeout).

    A ``timbr.Retry`` policy retries these (and their subclasses) by default; give ``on=`` to
    retry other exceptions too. Subclass it, or raise it ``from`` the original error.
    """
