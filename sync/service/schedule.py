"""When the daemon runs: the schedule from settings, and the delay before a retry."""

from __future__ import annotations

import random
from collections.abc import Callable

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sync.errors import ConfigurationError
from sync.settings import ScheduleSettings


def sync_trigger(schedule: ScheduleSettings) -> BaseTrigger:
    """Return the trigger of the scheduled runs: the cron expression, else the interval."""
    if schedule.cron.strip():
        try:
            return CronTrigger.from_crontab(schedule.cron.strip())
        except ValueError as exc:
            raise ConfigurationError(
                f"schedule.cron {schedule.cron!r} is not a crontab expression: {exc}"
            ) from exc
    return IntervalTrigger(seconds=schedule.interval)


def describe(schedule: ScheduleSettings) -> str:
    """Return the schedule in words."""
    if schedule.cron.strip():
        return f"cron {schedule.cron.strip()!r}"
    return f"every {schedule.interval:g} s"


class Backoff:
    """Capped exponential delays with jitter: each in [d/2, d] for d = initial * 2^(n-1), capped."""

    def __init__(
        self, initial: float, cap: float, rng: Callable[[], float] = random.random
    ) -> None:
        self.initial = initial
        self.cap = cap
        self.failures = 0
        self._rng = rng

    def next_delay(self) -> float:
        """Count one more failure and return the seconds to wait before the next try."""
        self.failures += 1
        ceiling = min(self.cap, self.initial * 2.0 ** min(self.failures - 1, 60))
        return ceiling / 2 + self._rng() * ceiling / 2

    def reset(self) -> None:
        """Forget the failures after a success."""
        self.failures = 0
