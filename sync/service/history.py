"""The last run reports, one JSON file each in the state directory.

One file per report, written to a temporary name and renamed, so a reader
never sees half a report and two processes never write the same file. The
lists of changes and of decisions are left out (an initial sync can have tens
of thousands); counts, record errors and the failure are kept.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.core.report import Report
from sync.files import write_private

log = logging.getLogger("portal_sync.history")


class History:
    """The run reports kept in `<state dir>/history`, newest last."""

    def __init__(self, state_dir: Path, keep: int) -> None:
        self.folder = state_dir / "history"
        self.keep = keep

    def record(self, report: Report) -> None:
        """Store `report` and forget the oldest beyond the number kept; never raise.

        A report that cannot be stored gets a warning saying so.
        """
        data = report.to_dict(summary=True)
        name = f"{report.started.strftime('%Y%m%dT%H%M%S.%fZ')}-{os.getpid()}.json"
        try:
            write_private(self.folder / name, json.dumps(data, ensure_ascii=False))
            for old in self._files()[: -self.keep]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            warning = f"cannot keep the run report in {self.folder}: {exc.strerror or exc}"
            log.warning("%s", warning)
            report.warnings.append(warning)

    def reports(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return the stored reports as plain data, oldest first, at most `limit` of them."""
        files = self._files()
        if limit is not None:
            files = files[-limit:] if limit > 0 else []
        found = []
        for path in files:
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return found

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*.json") if not p.name.startswith("."))


def describe(report: dict[str, Any]) -> str:
    """Return lines for people about one stored report."""
    started = datetime.fromisoformat(report["started"]).strftime("%Y-%m-%d %H:%M:%S %Z")
    counts = ", ".join(f"{n} {op}" for op, n in sorted(report.get("counts", {}).items()))
    errors = report.get("errors", [])
    target = report.get("target", "ldap")
    line = (
        f"{started}  {'' if target == 'ldap' else f'({target}) '}{report['outcome']:<26} "
        f"{report.get('duration_seconds', 0):7.2f}s  {counts or 'no change'}"
    )
    if errors:
        line += f"; {len(errors)} record error(s)"
    lines = [line]
    if report.get("failure"):
        lines.append(f"    stopped: {report['failure']}")
    lines.extend(f"    {error['record']}: {error['problem']}" for error in errors)
    lines.extend(f"    warning: {warning}" for warning in report.get("warnings", []))
    return "\n".join(lines)
