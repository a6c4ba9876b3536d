"""Logging set-up: text or JSON lines on stderr, with every known secret masked.

Secrets are SecretStr in the settings and never formatted on purpose; the
mask is the second line of defence, for a secret that ends up inside an
exception message or a value echoed back by a server.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

MASK = "********"


class _Masking(logging.Formatter):
    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class TextFormatter(_Masking):
    """One line per event: time, level, logger, message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as masked text."""
        return self.mask(super().format(record))


class JsonFormatter(_Masking):
    """One JSON object per line: time, level, logger, message, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one masked JSON line."""
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.mask(record.getMessage()),
        }
        if record.exc_info:
            data["exception"] = self.mask(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def configure_logging(level: str, form: str = "text", secrets: Iterable[str] = ()) -> None:
    """Send the service's log to stderr at `level`, as `form` (text or json), masking `secrets`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if form == "json" else TextFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING))
    logging.getLogger("apscheduler.scheduler").addFilter(_expected_skip)
    for chatty in _PER_REQUEST:
        debugging = root.level <= logging.DEBUG
        logging.getLogger(chatty).setLevel(root.level if debugging else logging.WARNING)
    handler.addFilter(_lost_connection)


_PER_REQUEST = ("httpx", "httpcore")
"""Libraries that log every request at INFO: the HTTP source's look every 2 s would be a line
each. Their lines show at DEBUG."""


def _lost_connection(record: logging.LogRecord) -> bool:
    """Log SQLAlchemy's pool complaints at DEBUG, their tracebacks with them.

    When the database goes away under a connection in use, the pool fails to
    roll it back and logs that at ERROR with a traceback ("Exception during
    reset or similar"). The source itself reports the outage in one line
    that says what to do; the pool's account of it is for debugging.
    """
    if record.name.startswith("sqlalchemy.pool") and record.levelno > logging.DEBUG:
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


def _expected_skip(record: logging.LogRecord) -> bool:
    """Drop APScheduler's warning that a scheduled run was skipped because one is running.

    With max_instances=1 that is the intended behaviour, not a problem: the
    run in progress reads the newest source anyway.
    """
    return "maximum number of running instances reached" not in record.getMessage()


class Quiet(logging.Filter):
    """Drop records below WARNING while `quiet` is set: the run summaries during an outage."""

    def __init__(self) -> None:
        super().__init__()
        self.quiet = False

    def filter(self, record: logging.LogRecord) -> bool:
        """Return whether to keep `record`."""
        return not self.quiet or record.levelno >= logging.WARNING
