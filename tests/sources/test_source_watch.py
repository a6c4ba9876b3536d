"""The daemon notices a change in every kind of source: a change query, NOTIFY, a new ETag."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from daemons import Daemon, environment, uids, wait_for

from sync.errors import ConfigurationError, SourceError
from sync.service.watch import SourceWatches
from sync.settings import load_settings
from sync.sources.watch import ChangeWatch

from servers import SourceServer

pytest_plugins = ["servers.fixtures", "sql_workflow"]

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"
SEED = json.loads((EXAMPLES / "seed-scenario.json").read_text("utf-8"))
ADD_LENA = (
    "INSERT INTO contact (contact_no, company_no, family_name) VALUES ('P-21', '10001', 'Vogel')",
    "INSERT INTO contact_department (contact_no, company_no, dept_code) VALUES ('P-21', '10001', 'ct-achats')",
    "INSERT INTO web_login (contact_no, user_name) VALUES ('P-21', 'lvogel')",
)


class Looks:
    """What the source looks like at each look: a token, or an error."""

    def __init__(self, *answers: str | Exception) -> None:
        self.answers = list(answers)

    def __call__(self) -> str:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_first_look_is_the_baseline_and_each_new_token_fires_once():
    fired: list[int] = []
    watch = ChangeWatch(Looks("a", "a", "b", "b", "c"), lambda: fired.append(1), "test")
    watch.poll()
    assert fired == []
    watch.poll()
    assert fired == [1]
    watch.poll()
    watch.poll()
    assert fired == [1, 1]


def test_a_failing_look_is_logged_once_and_fires_nothing(caplog):
    fired: list[int] = []
    down = SourceError("db: connect: Connection refused")
    watch = ChangeWatch(Looks("a", down, down, "a", "b"), lambda: fired.append(1), "test")
    with caplog.at_level(logging.WARNING, logger="portal_sync"):
        watch.poll()
        watch.poll()
    assert caplog.text.count("Connection refused") == 1
    watch.poll()
    assert fired == []
    watch.poll()
    assert fired == [1]


def test_a_watch_that_could_not_look_at_start_fires_at_its_first_look():
    fired: list[int] = []
    watch = ChangeWatch(Looks(SourceError("down"), "a", "a"), lambda: fired.append(1), "test")
    assert fired == []
    watch.poll()
    assert fired == [1]
    watch.poll()
    assert fired == [1]


def sql_daemon(slapd, tmp_path, workflow, **settings) -> Daemon:
    env = environment(
        slapd,
        tmp_path / "unused.json",
        tmp_path / "state",
        SOURCE__KIND="sql",
        SOURCE__SQL__URL=workflow.url,
        SOURCE__SQL__PASSWORD=workflow.password,
        SOURCE__SQL__QUERIES=EXAMPLES / "sql" / "queries.toml",
        SCHEDULE__INTERVAL=3600,
        **settings,
    )
    return Daemon(env, tmp_path)


def test_a_row_added_in_the_database_reaches_the_directory_through_the_change_query(
    slapd, tmp_path, workflow_pg
):
    with sql_daemon(slapd, tmp_path, workflow_pg, SOURCE__SQL__POLL_INTERVAL=0.2) as daemon:
        wait_for(lambda: "cdubois" in uids(slapd), "the first run")
        workflow_pg.execute(*ADD_LENA)
        wait_for(lambda: "lvogel" in uids(slapd), "the change query to start a run")
        assert "the database changed" in daemon.log
        assert "change query every 0.2 s" in daemon.log


def test_a_row_added_in_the_database_reaches_the_directory_through_notify(
    slapd, tmp_path, workflow_pg
):
    with sql_daemon(
        slapd,
        tmp_path,
        workflow_pg,
        SOURCE__SQL__POLL_INTERVAL=0,
        SOURCE__SQL__NOTIFY_CHANNEL="portal_sync",
    ) as daemon:
        wait_for(lambda: "cdubois" in uids(slapd), "the first run")
        wait_for(lambda: "listening for NOTIFY" in daemon.log, "the listener")
        workflow_pg.execute(*ADD_LENA)
        wait_for(lambda: "lvogel" in uids(slapd), "NOTIFY to start a run")
        assert "NOTIFY on portal_sync" in daemon.log
        assert "the database changed" not in daemon.log


def test_a_new_export_reaches_the_directory_through_a_conditional_request(
    slapd, tmp_path, http_source: SourceServer
):
    http_source.publish("/export.json", SEED)
    env = environment(
        slapd,
        tmp_path / "unused.json",
        tmp_path / "state",
        SOURCE__KIND="http",
        SOURCE__HTTP__URL=http_source.url_for("/export.json"),
        SOURCE__HTTP__POLL_INTERVAL=0.2,
        SCHEDULE__INTERVAL=3600,
    )
    with Daemon(env, tmp_path) as daemon:
        wait_for(lambda: "cdubois" in uids(slapd), "the first run")
        document = json.loads(json.dumps(SEED))
        document["customers"][0]["persons"].append(
            {
                "id": "P-5",
                "last_name": "Roux",
                "contact_types": ["ct-achats"],
                "account": {"login": "aroux"},
            }
        )
        http_source.publish("/export.json", document)
        wait_for(lambda: "aroux" in uids(slapd), "the conditional request to start a run")
        assert "the export changed" in daemon.log
    conditional = [r for r in http_source.requests if r.header("If-None-Match")]
    assert conditional, "the watch asks conditionally"


def test_notify_works_again_after_the_database_restarted(slapd, tmp_path, postgres, workflow_pg):
    with sql_daemon(
        slapd,
        tmp_path,
        workflow_pg,
        SOURCE__SQL__POLL_INTERVAL=0,
        SOURCE__SQL__NOTIFY_CHANNEL="portal_sync",
    ) as daemon:
        wait_for(lambda: "cdubois" in uids(slapd), "the first run")
        wait_for(lambda: "listening for NOTIFY" in daemon.log, "the listener")
        with postgres.down():
            wait_for(lambda: "NOTIFY on portal_sync:" in daemon.log, "the listener to notice")
        wait_for(
            lambda: daemon.log.count("listening for NOTIFY") == 2, "the listener to listen again"
        )
        workflow_pg.execute(*ADD_LENA)
        wait_for(lambda: "lvogel" in uids(slapd), "NOTIFY after the restart to start a run")


def test_notify_on_a_database_other_than_postgresql_is_refused_at_start(tmp_path):
    settings = load_settings(
        source={
            "kind": "sql",
            "sql": {"url": f"sqlite:///{tmp_path}/w.db", "poll_interval": 0, "notify_channel": "x"},
        }
    )
    with pytest.raises(ConfigurationError, match="LISTEN/NOTIFY needs PostgreSQL, not sqlite"):
        SourceWatches.of(settings, lambda why: None, threading.Event())
