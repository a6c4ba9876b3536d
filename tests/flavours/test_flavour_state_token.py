"""The token of the incremental state on every flavour: made, kept, and a stale state not trusted.

On each flavour (`target`, bound as the admin) the first run makes
`cn=portal-sync-state` below the base (AD: a container, the others an
applicationProcess) holding the token the state file carries; a state file
put back from an earlier run makes a full run that repairs what it would
have missed. On 389-DS the shipped ACIs let the sync account keep it
(`test_flavour_389.py`).
"""

from __future__ import annotations

import copy
import json
import logging

from flavours.targets import Target
from portal_helpers import person_with_login

from sync.run.state import FILE_NAME
from sync.run.sync import run_sync

pytest_plugins = ["servers.fixtures", "flavours.fixtures"]

TOKEN_RDN = "cn=portal-sync-state"


def state_token(settings) -> str:
    return json.loads((settings.state_dir / FILE_NAME).read_text(encoding="utf-8"))["token"]


def test_a_state_file_put_back_is_not_trusted_on_every_flavour(
    target: Target, seed, tmp_path, caplog
):
    first = target.settings(seed, tmp_path)
    assert run_sync(first).ok
    entry = target.entries()[f"{TOKEN_RDN},{target.base}".lower()]
    assert entry["description"] == [state_token(first)]
    assert ("container" if target.name == "samba-ad" else "applicationprocess") in {
        value.lower() for value in entry["objectclass"]
    }
    earlier = (first.state_dir / FILE_NAME).read_bytes()

    changed = copy.deepcopy(seed)
    person_with_login(changed, "cdubois")["email"] = "c.dubois@changed.example"
    assert run_sync(target.settings(changed, tmp_path)).counts() == {"modify": 1}

    (first.state_dir / FILE_NAME).write_bytes(earlier)
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        back = run_sync(target.settings(seed, tmp_path))
    assert back.ok and back.counts() == {"modify": 1}, back.to_text()
    assert "the incremental state does not match the directory's" in caplog.text
    assert run_sync(target.settings(seed, tmp_path), full=True).counts() == {}
