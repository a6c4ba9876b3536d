"""A kind of source made for the tests only: the proof that a new kind is one folder and one line.

`memo` reads the document from a JSON file named by `[source.memo]`, like a
kind written by someone who never read the rest of the code would: it uses
only `sync.sources.kind`, `sync.sources.watch` and `sync.sources.document`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, SecretStr

from sync.origins import SettingGroup
from sync.sources.document import LoadedDocument, load_data
from sync.sources.kind import Poll, Source, SourceKind, Watches
from sync.sources.watch import ChangeWatch


class MemoSettings(SettingGroup):
    """The memo source."""

    group = "source__memo"
    model_config = ConfigDict(extra="forbid")

    document: Path = Path("memo.json")
    """The JSON document."""
    token: SecretStr = SecretStr("")
    """A secret nobody lists anywhere."""
    poll_interval: float = 1.0
    """Seconds between two looks."""


class MemoSource:
    """The reader of the memo."""

    def __init__(self, settings: MemoSettings) -> None:
        self.settings = settings

    def digest(self) -> str:
        return ""

    def load(self) -> LoadedDocument:
        data = json.loads(self.settings.document.read_text("utf-8"))
        return load_data(data, f"memo {self.settings.document}")

    def look(self) -> str:
        return self.settings.document.read_text("utf-8")


class MemoKind(SourceKind):
    """The memo source."""

    settings = MemoSettings
    schemes = ("memo",)

    def unready(self, source: Any) -> str:
        return "" if source.own(MemoSettings).token.get_secret_value() else "memo needs a token"

    def reader(self, source: Any, state_dir: Path | None) -> Source:
        return MemoSource(source.own(MemoSettings))

    def override(self, value: str) -> dict[str, Any]:
        return {"memo": {"document": value.removeprefix("memo://")}}

    def describe(self, source: Any) -> str:
        return f"memo {source.own(MemoSettings).document}"

    def watches(self, settings: Any, request: Any, stopping: Any) -> Watches:
        own = settings.source.own(MemoSettings)
        watch = ChangeWatch(MemoSource(own).look, lambda: request("memo changed"), "memo look")
        return Watches([Poll(watch.poll, own.poll_interval, "memo look")])

    def check(self, reader: Source) -> list[str]:
        return [f"memo: {len(reader.load().document.customers)} customer(s)"]
