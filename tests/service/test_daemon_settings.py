"""The daemon's settings groups, read like every other setting."""

from __future__ import annotations

from sync.settings import load_settings


def test_daemon_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORTAL_SYNC_SCHEDULE__CRON", "0 * * * *")
    monkeypatch.setenv("PORTAL_SYNC_HTTP__PORT", "8123")
    monkeypatch.setenv("PORTAL_SYNC_HTTP__TOKEN", "abc")
    monkeypatch.setenv("PORTAL_SYNC_LOCK__WAIT", "5")
    monkeypatch.setenv("PORTAL_SYNC_LOGGING__FORMAT", "json")
    settings = load_settings()
    assert settings.schedule.cron == "0 * * * *" and settings.schedule.interval == 300
    assert settings.http.port == 8123 and settings.http.host == "127.0.0.1"
    assert "abc" not in repr(settings) and settings.http.token.get_secret_value() == "abc"
    assert settings.lock.wait == 5 and settings.lock.lease_seconds == 60
    assert settings.logging.format == "json" and settings.history.keep == 50
