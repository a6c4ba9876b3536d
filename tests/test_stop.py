"""SIGTERM during `portal-sync run` only asks for a stop; the run honours it at safe points."""

from __future__ import annotations

import signal

import pytest

from sync import stop
from sync.cli import _stopped_by_sigterm
from sync.errors import Interrupted


@pytest.mark.parametrize(
    ("dry_run", "message"),
    [(True, "the dry run stopped; nothing was written"), (False, "the run lease is freed")],
)
def test_sigterm_asks_for_a_stop_and_a_second_one_ends_the_process(dry_run, message):
    with _stopped_by_sigterm(dry_run=dry_run):
        stop.requested.check()  # nothing asked yet
        signal.raise_signal(signal.SIGTERM)  # the handler runs before this returns
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        with pytest.raises(Interrupted, match=message):
            stop.requested.check()
    stop.requested.check()  # the request ends with the run
