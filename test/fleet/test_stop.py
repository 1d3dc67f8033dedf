"""Ctrl-C/SIGTERM become a stop request honoured at safe points; a second signal stops at once."""

from __future__ import annotations

import os
import signal

import pytest

from lepton_perception.fleet import stop


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_is_recorded_and_raised_at_the_next_check(signum: int) -> None:
    with stop.stop_requests() as request:
        stop.check()  # nothing asked yet
        os.kill(os.getpid(), signum)  # the handler runs here and must not raise
        assert request.signum == signum
        with pytest.raises(KeyboardInterrupt):
            stop.check()


def test_second_signal_stops_at_once() -> None:
    with stop.stop_requests():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)


def test_previous_handlers_come_back_and_check_is_inert_outside() -> None:
    before = {s: signal.getsignal(s) for s in stop.SIGNALS}
    with stop.stop_requests():
        os.kill(os.getpid(), signal.SIGTERM)
    assert {s: signal.getsignal(s) for s in stop.SIGNALS} == before
    stop.check()  # no request installed: a library caller is never interrupted by a stale one
