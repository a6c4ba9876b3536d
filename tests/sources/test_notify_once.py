"""With NOTIFY and the change query both on, a change causes one run, not two."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemons import wait_for

from sync.service.watch import Job, SourceWatches
from sync.settings import load_settings
from sync.sources.watch import ChangeWatch

pytest_plugins = ["servers.fixtures", "sql_workflow"]

QUERIES = Path(__file__).parents[2] / "config" / "examples" / "sql" / "queries.toml"

ADD_LENA = (
    "INSERT INTO contact (contact_no, company_no, family_name) VALUES ('P-21', '10001', 'Vogel')",
    "INSERT INTO contact_department (contact_no, company_no, dept_code) VALUES ('P-21', '10001', 'ct-achats')",
    "INSERT INTO web_login (contact_no, user_name) VALUES ('P-21', 'lvogel')",
)


@contextmanager
def watching(workflow, caplog, channel: str) -> Iterator[tuple[Job, list[str]]]:
    """Yield the change query's poll (run by the test, never by a timer) and the requests made.

    The listener thread listens on `channel`; the example database notifies
    `portal_sync` on every change.
    """
    settings = load_settings(
        source={
            "kind": "sql",
            "sql": {
                "url": workflow.url,
                "password": workflow.password,
                "queries": QUERIES,
                "poll_interval": 3600,
                "notify_channel": channel,
            },
        }
    )
    requests: list[str] = []
    stopping = threading.Event()
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        watches = SourceWatches.of(settings, requests.append, stopping)
        [poll] = watches.jobs
        [listener] = watches.listeners
        listener.start()
        try:
            wait_for(lambda: "listening for NOTIFY" in caplog.text, "the listener")
            yield poll, requests
        finally:
            stopping.set()
            listener.join(timeout=30)


def test_a_change_notify_announced_is_not_run_again_by_the_change_query(workflow_pg, caplog):
    with watching(workflow_pg, caplog, "portal_sync") as (poll, requests):
        workflow_pg.execute(*ADD_LENA)
        wait_for(lambda: requests, "NOTIFY to ask for a run")
        poll.poll()
        poll.poll()
        assert requests == ["NOTIFY on portal_sync"]


def test_a_change_no_notify_announced_is_run_by_the_change_query(workflow_pg, caplog):
    with watching(workflow_pg, caplog, "another_channel") as (poll, requests):
        workflow_pg.execute(*ADD_LENA)
        poll.poll()
        poll.poll()
        assert requests == ["the database changed"]
        poll.poll()
        assert requests == ["the database changed"], "once"


def test_each_notify_asks_for_a_run_even_when_the_change_query_sees_nothing_new(
    workflow_pg, caplog
):
    with watching(workflow_pg, caplog, "portal_sync") as (poll, requests):
        workflow_pg.execute("NOTIFY portal_sync, 'by hand'")
        wait_for(lambda: requests, "NOTIFY to ask for a run")
        poll.poll()
        assert requests == ["NOTIFY on portal_sync"]


def looks(*answers: str):
    queue = list(answers)
    return lambda: queue.pop(0)


def test_with_notify_on_the_poll_fires_at_its_second_look_at_something_new():
    fired: list[int] = []
    watch = ChangeWatch(looks("a", "b", "b", "b"), lambda: fired.append(1), "test", settle=True)
    watch.poll()
    assert fired == []
    watch.poll()
    assert fired == [1]
    watch.poll()
    assert fired == [1]


def test_a_source_that_changes_at_every_look_still_fires():
    fired: list[int] = []
    watch = ChangeWatch(
        looks("a", "b", "c", "d", "e"), lambda: fired.append(1), "test", settle=True
    )
    watch.poll()
    watch.poll()
    assert fired == [1]
    watch.poll()
    watch.poll()
    assert fired == [1, 1]


def test_a_notify_between_two_looks_takes_the_change_from_the_poll():
    fired: list[int] = []
    watch = ChangeWatch(looks("a", "b", "b", "b"), lambda: fired.append(1), "test", settle=True)
    watch.poll()
    watch.seen_elsewhere()
    watch.poll()
    assert fired == []
