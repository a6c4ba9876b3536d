"""The change trigger: notice that the source changed, whatever kind of source it is.

The file: polling `stat` (mtime, size, inode) a few times a second costs
nothing and works on every file system, network mounts included, where
inotify does not. A change fires once the file has looked the same on two
looks in a row, so a document still being written is not read half-way.

SQL: the queries file's change query, polled every few seconds; any result
that differs from the last one is a change (a commit is whole, so there is
nothing to settle). On PostgreSQL a NOTIFY on a configured channel fires at
once, from a thread of its own. With both, one change is one run: each
NOTIFY first reads the change query and counts its result as seen, so the
poll does not run that change again, and the poll fires only when two looks
in a row saw something new and no NOTIFY came between (a change no trigger
announces): the poll does not overtake the NOTIFY of the same commit. HTTP: a
conditional request every few seconds; a new ETag (or Last-Modified) is a
change.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from sync.errors import ConfigurationError, SyncError
from sync.settings import Settings

log = logging.getLogger("portal_sync.daemon")

Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    """Return what identifies the file's current content cheaply, or None when it is missing."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


class SourceWatch:
    """Call `on_change` once each time the file at `path` changed and settled."""

    def __init__(self, path: Path, on_change: Callable[[], None]) -> None:
        self.path = path
        self._on_change = on_change
        self._seen = signature(path)
        self._candidate: Signature | tuple[()] = ()

    def poll(self) -> None:
        """Look at the file once."""
        current = signature(self.path)
        if current == self._seen:
            self._candidate = ()
        elif current == self._candidate:
            self._seen = current
            self._candidate = ()
            self._on_change()
        else:
            self._candidate = current


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


def _notified(
    channel: str, polled: ChangeWatch | None, request: Callable[[str], None]
) -> Callable[[], None]:
    """Return what a NOTIFY does: count the change query's result as seen, then ask for a run.

    The look comes first, so the run reads at least what it saw: the poll
    never runs a change again that this run reads.
    """

    def heard() -> None:
        if polled is not None:
            polled.seen_elsewhere()
        request(f"NOTIFY on {channel}")

    return heard


@dataclass
class Job:
    """A look at the source the scheduler repeats."""

    poll: Callable[[], None]
    interval: float
    what: str


@dataclass
class SourceWatches:
    """Every way the configured source is watched: polls the scheduler runs, listener threads."""

    jobs: list[Job] = field(default_factory=list)
    listeners: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def of(
        cls, settings: Settings, request: Callable[[str], None], stopping: threading.Event
    ) -> SourceWatches:
        """Return the watches of the configured source; each change calls `request`."""
        source = settings.source
        watches = cls()
        if source.kind == "file" and settings.schedule.watch_interval > 0:
            watch = SourceWatch(source.path, lambda: request("source changed"))
            interval = settings.schedule.watch_interval
            watches.jobs.append(Job(watch.poll, interval, f"file watched every {interval:g} s"))
        elif source.kind == "sql":
            from sync.sources.sql import SqlSource

            sql = SqlSource(source.sql)
            interval = source.sql.poll_interval
            channel = source.sql.notify_channel
            if channel and sql.url.get_backend_name() != "postgresql":
                raise ConfigurationError(
                    f"{source.sql.name_of('notify_channel')}: LISTEN/NOTIFY needs PostgreSQL, "
                    f"not {sql.url.get_backend_name()}; use the change query instead"
                )
            polled: ChangeWatch | None = None
            if interval > 0 and sql.queries.change:
                what = f"change query every {interval:g} s"
                polled = ChangeWatch(
                    sql.change_token,
                    lambda: request("the database changed"),
                    what,
                    settle=bool(channel),
                )
                watches.jobs.append(Job(polled.poll, interval, what))
            if channel:
                thread = threading.Thread(
                    target=sql.listen,
                    args=(channel, _notified(channel, polled, request), stopping),
                    name="listen",
                    daemon=True,
                )
                watches.listeners.append(thread)
        elif source.kind == "http" and source.http.poll_interval > 0:
            from sync.sources.http import HttpSource

            http = HttpSource(source.http, source.max_size)
            interval = source.http.poll_interval
            what = f"conditional request every {interval:g} s"
            asked = ChangeWatch(http.change_token, lambda: request("the export changed"), what)
            watches.jobs.append(Job(asked.poll, interval, what))
        return watches

    def start(self, scheduler: BaseScheduler) -> None:
        """Schedule the polls and start the listeners (they end when `stopping` is set)."""
        for number, job in enumerate(self.jobs):
            scheduler.add_job(
                job.poll,
                IntervalTrigger(seconds=job.interval),
                id=f"watch-{number}" if number else "watch",
                name="watch source",
                max_instances=1,
                coalesce=True,
            )
        for thread in self.listeners:
            thread.start()

    def describe(self) -> str:
        """Return how the source is watched, in words for the start-up line."""
        ways = [job.what for job in self.jobs]
        ways += ["LISTEN/NOTIFY" for _ in self.listeners]
        return ", ".join(ways) or "unwatched"
