from sync.run.sync import run_sync


def test_seed_scenario_syncs_without_errors(settings_for, seed):
    report = run_sync(settings_for(seed))
    assert report.ok and not report.errors
    assert report.counts()["add"] == 19
