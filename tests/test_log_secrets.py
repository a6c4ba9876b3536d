"""Every secret setting is masked in the log of a command, without anyone listing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sync.logs import MASK
from sync.origins import variable

SECRETS = {
    "console.secret_key": "Key-Console-7731",
    "ldap.bind_password": "Pw-Ldap-5521",
    "source.http.token": "Tok-Http-9043",
}


def test_a_secret_nobody_listed_is_masked_in_the_log_of_a_command(tmp_path):
    """The console's key (missing from the old hand-written list) is masked like the others."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    env["PORTAL_SYNC_STATE_DIR"] = str(tmp_path / "state")
    env["PORTAL_SYNC_LOGGING__FORMAT"] = "json"
    for setting, value in SECRETS.items():
        env[variable(setting.split("."))] = value
    missing = tmp_path / ("-".join(SECRETS.values()) + ".json")
    result = subprocess.run(
        [sys.executable, "-m", "sync", "--log-level", "DEBUG", "run", "--dry-run"],
        env={**env, "PORTAL_SYNC_SOURCE__PATH": str(missing)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    logged = [
        json.loads(line)["message"] for line in result.stderr.splitlines() if line.startswith("{")
    ]
    assert any(f"{MASK}-{MASK}-{MASK}.json" in line for line in logged), result.stderr
    for value in SECRETS.values():
        assert not [line for line in logged if value in line], result.stderr
