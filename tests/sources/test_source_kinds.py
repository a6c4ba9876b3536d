"""The kinds of source are plug-ins: the table finds each one's settings, reader, watch, check.

The memo kind (memo_kind.py) is a new kind made in a test: one line added to
the table before the settings are assembled, as `sync/sources/kinds.py`
would hold it, and everything else finds it (settings file, variables,
`--source`, the reader, the description, the daemon's watch, `check`, the
masked secrets). It runs in a fresh interpreter, so the settings are
assembled with it exactly as they would be with a line in the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sync.settings import SourceSettings
from sync.sources.kinds import KINDS

SEED = Path(__file__).parents[2] / "config" / "examples" / "seed-scenario.json"

SCRIPT = """
import json, sys, threading
from pathlib import Path

from memo_kind import MemoKind
from sync.sources.kinds import KINDS

KINDS["memo"] = MemoKind()

from sync.service.watch import SourceWatches
from sync.settings import load_settings, secret_values
from sync.sources.reader import check_lines, describe_source, source_of, source_override

config = Path(sys.argv[1])
settings = load_settings(config)
source = settings.source
requests = []
watches = SourceWatches.of(settings, requests.append, threading.Event())
[job] = watches.jobs
source.memo.document.write_text(source.memo.document.read_text() + " ")
job.poll()
given = load_settings(config, given_by="--source", source=source_override(sys.argv[2]))
print(json.dumps({
    "kind": source.kind,
    "document": str(source.memo.document),
    "customers": len(source_of(source).load().document.customers),
    "described": describe_source(source),
    "override": {**source_override(sys.argv[2]), "memo": {"document": "..."}},
    "given": str(given.source.memo.document),
    "watched": watches.describe(),
    "requests": requests,
    "check": check_lines(source, source_of(source)),
    "masked": "Memo-Token-4410" in secret_values(settings),
    "named": source.memo.name_of("token"),
}))
"""


def test_a_kind_added_to_the_table_is_found_everywhere(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "shop.json").write_text(SEED.read_text("utf-8"), encoding="utf-8")
    config = folder / "portal-sync.toml"
    config.write_text('[source]\nkind = "memo"\n[source.memo]\ndocument = "shop.json"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    env["PORTAL_SYNC_SOURCE__MEMO__TOKEN"] = "Memo-Token-4410"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")]), *sys.path]
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(config), f"memo://{folder / 'shop.json'}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    customers = len(json.loads(SEED.read_text("utf-8"))["customers"])
    assert found == {
        "kind": "memo",
        "document": str(folder / "shop.json"),
        "customers": customers,
        "described": f"memo {folder / 'shop.json'}",
        "override": {"kind": "memo", "memo": {"document": "..."}},
        "given": str(folder / "shop.json"),
        "watched": "memo look",
        "requests": ["memo changed"],
        "check": [f"memo: {customers} customer(s)"],
        "masked": True,
        "named": "PORTAL_SYNC_SOURCE__MEMO__TOKEN",
    }


def test_each_kind_of_the_table_has_its_group_under_its_own_name():
    for name, kind in KINDS.items():
        if kind.settings is not None:
            assert kind.settings.group == f"source__{name}"
            assert SourceSettings.model_fields[name].annotation is kind.settings
