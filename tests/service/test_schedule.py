"""The schedule from settings and the retry delays."""

from __future__ import annotations

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sync.errors import ConfigurationError
from sync.service.schedule import Backoff, sync_trigger
from sync.settings import ScheduleSettings


def test_retry_delays_double_up_to_the_cap():
    ceiling = Backoff(2, 30, rng=lambda: 1.0)
    assert [round(ceiling.next_delay()) for _ in range(6)] == [2, 4, 8, 16, 30, 30]


def test_retry_delays_are_jittered_within_the_upper_half():
    floor = Backoff(2, 30, rng=lambda: 0.0)
    assert [floor.next_delay() for _ in range(3)] == [1, 2, 4]


def test_a_success_starts_the_delays_over():
    backoff = Backoff(1, 100, rng=lambda: 1.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1


def test_delays_stay_capped_after_very_many_failures():
    backoff = Backoff(1, 300, rng=lambda: 1.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 300


def test_the_interval_is_the_default_schedule():
    trigger = sync_trigger(ScheduleSettings(interval=42))
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval.total_seconds() == 42


def test_a_cron_expression_replaces_the_interval():
    assert isinstance(sync_trigger(ScheduleSettings(cron="*/10 6-20 * * 1-5")), CronTrigger)


def test_a_wrong_cron_expression_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="not a crontab expression"):
        sync_trigger(ScheduleSettings(cron="every tuesday"))
