"""The change trigger: the daemon's schedule for noticing that the source changed.

Each kind of source says how its changes are noticed (`SourceKind.watches`
in its folder of `sync.sources`: the file's `stat`, the SQL change query and
NOTIFY listener, the HTTP conditional request); this module looks the
configured kind up in the table of kinds and schedules its looks with
APScheduler and starts its listeners, each in a thread of its own. Only the
daemon schedules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from sync.settings import Settings
from sync.sources.kinds import KINDS


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
        found = KINDS[settings.source.kind].watches(settings, request, stopping)
        return cls(
            [Job(poll.poll, poll.interval, poll.what) for poll in found.polls],
            [threading.Thread(target=run, name="listen", daemon=True) for run in found.listeners],
        )

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
