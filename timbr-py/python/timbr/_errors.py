"""The exceptions of timbr that subclass the standard library's queue exceptions."""

import queue

__all__ = ["Full", "Empty"]


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
