"""Ctrl-C and SIGTERM as a stop request that the long loops honour at safe points.

Python's default raises ``KeyboardInterrupt`` wherever the main thread happens to be, library code
included, and some library code does not survive it: an interrupt inside rosbags' ``exec`` of generated
message classes marks the interpreter so that it exits killed by SIGINT (-2) instead of our exit code
130, and one inside torch's weight loading comes out as an unrelated error, so a recording the user
never meant to fail is recorded as failed. So while :func:`stop_requests` is active the first signal
only records the request; :func:`check` raises ``KeyboardInterrupt`` at points where stopping is clean
(between frames, between hashed chunks, in the scheduler's wait loop). A second signal stops at once.

Signal dispositions belong to the process, so the active request is process-wide too; where none is
installed (pool workers, library use) :func:`check` does nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """What the handlers saw: the first signal number, or None."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # asked twice: stop now, wherever we are
        self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt


_active: list[StopRequest] = []


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Install the handlers for SIGINT and SIGTERM (main thread only); restore the previous ones."""
    request = StopRequest()
    previous = {s: signal.signal(s, request.handle) for s in SIGNALS}
    _active.append(request)
    try:
        yield request
    finally:
        _active.remove(request)
        for s, handler in previous.items():
            signal.signal(s, handler)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was requested; cheap enough to call per frame."""
    if _active:
        _active[-1].check()
