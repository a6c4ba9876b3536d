"""Property test on a real slapd: an incremental run leaves exactly what a full run leaves.

Two trees in one slapd live through the same random sequence of source
changes (new persons, e-mails, logins, accounts disabled or removed, bad
records, a second holder of the built-in contact type, remote access
switched, agencies reassigned, orders closed...). One tree is synced the
incremental way, its state file kept between runs, and at random deleted,
overwritten with junk, replaced by the one the run before the last wrote
(stale) or by the other tree's (foreign); the other tree is rebuilt by a
full reconciliation every time (`performance.incremental = false`). After every step the two trees hold
the same entries with the same values (DNs compared below each tree's
base), and the incremental run reports the same record errors.

A stale state file (the one the run before the last wrote) is not trusted:
the directory holds the token of the last state saved
(`test_a_stale_state_file_is_not_trusted`; tests/run/test_state_token_slapd.py).

CI runs the explicit examples and a few more (an eighth of the hypothesis
profile's count, at least 3); PROPERTY_EXAMPLES=N runs N.
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from benchmarks.generate import add_one_person, change_one_person, generate, mutate
from sync.run.state import FILE_NAME
from sync.run.sync import run_sync

from conftest import empty_tree, settings_factory
from directory_view import make_base, tree_of

pytestmark = pytest.mark.slapd

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", max(3, settings.default.max_examples // 8)))
CHANGES = [
    "e-mail",
    "new person",
    "login",
    "account disabled",
    "account removed",
    "person removed",
    "bad record",
    "bad record fixed",
    "second built-in holder",
    "remote access switched",
    "order closed",
    "mutate 5 %",
    "undo",
    "nothing",
]
STATES = ["kept", "kept", "kept", "missing", "corrupt", "stale", "foreign"]


def persons(document: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(c, p) for c in document["customers"] for p in c["persons"]]


def change(document: dict[str, Any], what: str, rng: random.Random) -> None:
    """Apply one kind of change to the document in place."""
    everyone = persons(document)
    customer, person = rng.choice(everyone)
    if what == "e-mail":
        change_one_person(document, rng.randrange(1000))
    elif what == "new person":
        add_one_person(document, rng.randrange(1000))
    elif what == "login" and person.get("account"):
        person["account"]["login"] = f"renamed{rng.randrange(100)}"
    elif what == "account disabled" and person.get("account"):
        person["account"]["enabled"] = not person["account"].get("enabled", True)
    elif what == "account removed":
        person.pop("account", None)
    elif what == "person removed":
        customer["persons"].remove(person)
    elif what == "bad record":
        person.pop("last_name", None)
    elif what == "bad record fixed":
        for _, someone in everyone:
            someone.setdefault("last_name", "Fixed")
    elif what == "second built-in holder":
        person["contact_types"] = ["customer"]
    elif what == "remote access switched":
        customer["remote_access"] = not customer["remote_access"]
    elif what == "order closed":
        order = rng.choice(document["orders"])
        order["portal_visible"] = not order["portal_visible"]
    elif what == "mutate 5 %":
        mutate(document, 0.05, rng.randrange(1000))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking would take minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(CHANGES), st.sampled_from(STATES)), min_size=1, max_size=5
    ),
    seed=st.integers(0, 1000),
)
@example(steps=[("e-mail", "kept"), ("undo", "missing")], seed=1)
@example(steps=[("account disabled", "kept"), ("undo", "corrupt")], seed=2)
def test_incremental_runs_leave_what_full_runs_leave(slapd_server, tmp_path, steps, seed):
    check_steps(slapd_server, tmp_path, steps, seed)


def test_a_stale_state_file_is_not_trusted(slapd_server, tmp_path):
    check_steps(slapd_server, tmp_path, [("e-mail", "kept"), ("undo", "stale")], 1)


def check_steps(slapd_server, tmp_path, steps, seed):
    """Run the steps on both trees; fail when they differ after one."""
    empty_tree(slapd_server)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    make = settings_factory(slapd_server, slapd_server.root_dn, slapd_server.root_pw, folder)
    incremental_base = make_base(slapd_server, "incremental")
    full_base = make_base(slapd_server, "full")
    rng = random.Random(seed)
    document = generate("XS", seed)
    state = folder / "state"
    saved: list[bytes] = []
    now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    history: list[dict[str, Any]] = []
    for number, (what, state_case) in enumerate([("nothing", "kept"), *steps]):
        if what == "undo" and len(history) >= 2:
            document = copy.deepcopy(history[-2])
        else:
            change(document, what, rng)
        history.append(copy.deepcopy(document))
        now += timedelta(minutes=10)
        if state_case == "missing":
            shutil.rmtree(state, ignore_errors=True)
        elif state_case == "corrupt" and (state / FILE_NAME).exists():
            (state / FILE_NAME).write_text('{"format": 1, "entries": {"x', encoding="utf-8")
        elif state_case == "stale" and len(saved) >= 2:
            (state / FILE_NAME).write_bytes(saved[-2])  # the state of the run before the last
        elif state_case == "foreign" and (folder / "full-state" / FILE_NAME).exists():
            shutil.copy(folder / "full-state" / FILE_NAME, state / FILE_NAME)  # another base's
        incremental = make(
            copy.deepcopy(document), ldap={"base_dn": incremental_base}, state_dir=state
        )
        quick = run_sync(incremental, allow_deletions=10_000, now=now)
        if (state / FILE_NAME).exists():
            saved.append((state / FILE_NAME).read_bytes())
        full = make(
            copy.deepcopy(document),
            ldap={"base_dn": full_base},
            state_dir=folder / "full-state",
            performance={"incremental": False},
        )
        reference = run_sync(full, allow_deletions=10_000, now=now)
        assert quick.outcome == reference.outcome, (number, quick.to_text())
        assert sorted(map(str, quick.errors)) == sorted(map(str, reference.errors)), number
        assert tree_of(slapd_server, incremental_base) == tree_of(slapd_server, full_base), (
            f"step {number} ({what}, state {state_case}): {quick.to_text()}"
        )
