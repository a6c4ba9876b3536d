import gc

from sync.core.report import Outcome
from sync.run.sync import run_sync


def test_seed_scenario_syncs_without_errors(settings_for, seed):
    report = run_sync(settings_for(seed))
    assert report.ok and not report.errors
    assert report.counts()["add"] == 19


def test_a_run_gives_back_to_the_collector_what_it_froze_whether_it_ends_well_or_not(
    settings_for, seed
):
    """A run freezes its source side out of the garbage collector's walks; it must unfreeze it."""
    assert gc.get_freeze_count() == 0
    report = run_sync(settings_for(seed))
    assert report.ok and gc.get_freeze_count() == 0
    settings = settings_for(seed, ldap={"url": "ldap://127.0.0.1:1", "timeout": 2})
    report = run_sync(settings, explain=True)  # the source is read, then the directory fails
    assert report.outcome is Outcome.UNAVAILABLE
    assert report.decisions, "the source side was built before the directory failed"
    assert gc.get_freeze_count() == 0
