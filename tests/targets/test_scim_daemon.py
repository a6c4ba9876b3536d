"""End-to-end: the daemon's triggers run every configured target, the directory and SCIM."""

from __future__ import annotations

import json
import subprocess
import sys

from daemons import Daemon, add_person, environment, uids, wait_for, write_source

pytest_plugins = ["servers.scim_fixtures"]


def scim_logins(scim) -> set[str]:
    return {u["userName"] for u in scim.upstream_get("Users", count="1000").get("Resources", [])}


def test_a_person_added_to_the_source_reaches_the_directory_and_the_provider(
    scim, slapd, tmp_path, seed
):
    source = tmp_path / "source.json"
    write_source(source, seed)
    env = environment(
        slapd,
        source,
        tmp_path / "state",
        schedule__interval=3600,
        targets='["ldap","scim"]',
        scim__url=scim.url,
    )
    with Daemon(env, tmp_path).start() as daemon:
        wait_for(daemon.healthy, "the start-up run")
        wait_for(lambda: "cdubois" in scim_logins(scim), "the start-up push to the provider")
        assert "cdubois" in uids(slapd)

        add_person(seed, "newcomer")
        write_source(source, seed)

        wait_for(lambda: "newcomer" in uids(slapd), "the new person in the directory")
        wait_for(lambda: "newcomer" in scim_logins(scim), "the new person on the provider")
        for target in ("ldap", "scim"):
            wait_for(lambda t=target: daemon.runs("success", t) >= 2, f"the {target} runs counted")
        metrics = daemon.metrics()
        for target in ("ldap", "scim"):
            stamp = ("portal_sync_last_success_timestamp_seconds", (("target", target),))
            assert metrics[stamp] > 1.7e9, "each target has a last success of its own"
            managed = ("portal_sync_managed_entries", (("kind", "external"), ("target", target)))
            assert metrics[managed] >= 2
        status = subprocess.run(
            [sys.executable, "-m", "sync", "status", "--json"],
            env=daemon.env,
            capture_output=True,
            text=True,
            check=True,
        )
    targets = [(r["target"], r["outcome"]) for r in json.loads(status.stdout)]
    assert ("scim", "success") in targets and ("ldap", "success") in targets
