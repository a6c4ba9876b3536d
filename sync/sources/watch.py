"""A watch on a source that answers "what is it now?": one change, one call, outages logged once.

The SQL source's change query and the HTTP source's conditional request both
look at the source and return a token; what differs from the last look is a
change. The daemon (`sync.service.watch`) repeats the look; this module only
decides, from the tokens, when a change is one to run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sync.errors import SyncError

log = logging.getLogger("portal_sync.daemon")


class ChangeWatch:
    """Call `on_change` once each time what `look` returns differs from the last look.

    The first look is taken when the watch is made, before the first run
    reads the source. A look that fails is logged once per outage; the
    first look that works again after a failed start fires, since what
    happened meanwhile is unknown. With `settle`, a new result fires only
    when the next look still differs from what was seen and nothing counted
    a result as seen meanwhile (`seen_elsewhere`): another trigger gets the
    first word. A source that changes on every look still fires.
    """

    def __init__(
        self,
        look: Callable[[], str],
        on_change: Callable[[], None],
        what: str,
        *,
        settle: bool = False,
    ) -> None:
        self._look = look
        self._on_change = on_change
        self.what = what
        self._settle = settle
        self._lock = threading.Lock()
        self._failing = False
        self._seen: str | None = None
        self._noticed = False
        """The last look saw a new result that waits for the next one (settle)."""
        self._started = False
        self._missed_start = False
        self.poll()
        self._missed_start = not self._started
        """The first look failed: the first that works fires, as a change may have been missed."""

    def poll(self) -> None:
        """Look at the source once."""
        with self._lock:
            fire = self._fires(self._looked())
        if fire:
            self._on_change()

    def seen_elsewhere(self) -> None:
        """Look now and count the result as seen: another trigger asks for the run that reads it."""
        with self._lock:
            token = self._looked()
            if token is not None:
                self._seen, self._started = token, True
                self._noticed, self._missed_start = False, False

    def _looked(self) -> str | None:
        """Return the result of one look, or None when it failed (logged once per outage)."""
        try:
            token = self._look()
        except SyncError as exc:
            if not self._failing:
                log.warning(
                    "cannot watch the source (%s): %s; looking again at each interval, quiet "
                    "until it answers: check that the source is up and reachable",
                    self.what,
                    str(exc).removesuffix("; nothing was changed"),
                )
            self._failing = True
            return None
        if self._failing:
            log.info("watching the source again (%s)", self.what)
            self._failing = False
        return token

    def _fires(self, token: str | None) -> bool:
        """Return whether this look's result is a change to run; note it as seen if so."""
        if token is None:
            return False
        if token == self._seen:
            self._noticed = False
            return False
        if self._missed_start or not self._started:
            fire = self._missed_start
            self._seen, self._started, self._missed_start = token, True, False
            return fire
        if self._settle and not self._noticed:
            self._noticed = True
            return False
        self._seen, self._noticed = token, False
        return True
