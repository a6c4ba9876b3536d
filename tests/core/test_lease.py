"""The lease value and who may take it: no directory needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.core.lease import blocking, granted, parse_lease, released

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_lease_reads_back_as_written():
    lease = granted("host-a:12:abc", NOW, 60)
    assert parse_lease(lease.to_value()) == lease
    assert lease.expires == NOW + timedelta(seconds=60)


def test_a_live_lease_of_another_holder_blocks():
    value = granted("host-a:12:abc", NOW, 60).to_value()
    assert blocking((value,), "host-b:7:def", NOW + timedelta(seconds=59)) is not None


def test_an_expired_lease_blocks_nobody():
    value = granted("host-a:12:abc", NOW, 60).to_value()
    assert blocking((value,), "host-b:7:def", NOW + timedelta(seconds=60)) is None


def test_a_released_lease_blocks_nobody():
    value = released("host-a:12:abc", NOW).to_value()
    assert blocking((value,), "host-b:7:def", NOW) is None


def test_the_holder_may_take_its_own_lease_again():
    value = granted("host-a:12:abc", NOW, 60).to_value()
    assert blocking((value,), "host-a:12:abc", NOW) is None


def test_values_that_are_not_leases_block_nobody():
    assert parse_lease("written by hand") is None
    assert parse_lease("portal-sync-lease holder=x expires=yesterday") is None
    assert parse_lease("portal-sync-lease holder=x expires=2026-01-01T00:00:00") is None
    assert blocking(("written by hand",), "host-b:7:def", NOW) is None
