"""The state token without a server: stored with the state, and the only thing that vouches."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sync.core.digest import State
from sync.run.state import FILE_NAME, load_state, new_token, save_state, token_dn


def state(token: str = "") -> State:
    return State(
        "f", datetime(2026, 1, 1, tzinfo=UTC), "s", True, {"order": 2}, {"a": "1"}, token=token
    )


def test_a_state_vouches_only_for_the_token_it_was_saved_with():
    token = new_token()
    assert state(token).vouched_by(token)
    assert not state(token).vouched_by(new_token())
    assert not state(token).vouched_by("")
    assert not state("").vouched_by(""), "a state without a token vouches for nothing"


def test_the_token_is_saved_with_the_state_and_read_back(tmp_path):
    token = new_token()
    save_state(tmp_path, state(token))
    assert load_state(tmp_path) == state(token)
    assert json.loads((tmp_path / FILE_NAME).read_text(encoding="utf-8"))["token"] == token


def test_a_state_written_before_tokens_loads_without_one(tmp_path):
    data = json.loads(state().to_json())
    del data["token"]
    (tmp_path / FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
    loaded = load_state(tmp_path)
    assert loaded is not None and loaded.token == "" and not loaded.vouched_by("")


def test_tokens_are_random_and_live_below_the_base_dn():
    assert len({new_token() for _ in range(100)}) == 100
    assert len(new_token()) == 32
    assert (
        token_dn("ou=portal,dc=example,dc=org")
        == "cn=portal-sync-state,ou=portal,dc=example,dc=org"
    )
