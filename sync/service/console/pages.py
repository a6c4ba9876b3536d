"""How the console's pages are made: the Jinja2 environment, its filters, the headers.

Autoescaping is on for every template and nothing is marked safe; the
filters only format (times, URL path parts, bidirectional controls).
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Add the headers that keep pages out of frames, caches and content sniffing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in _HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def folder(name: str) -> Path:
    """Return a folder shipped inside the console package."""
    return Path(str(resources.files("sync.service.console").joinpath(name)))


def templates() -> Jinja2Templates:
    """Return the templates, autoescaped, with the console's filters."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder("templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = _when
    environment.filters["url"] = lambda value: quote(str(value), safe="")
    environment.filters["controls"] = _controls
    return Jinja2Templates(env=environment)


_BIDI_CONTROLS = {
    code: f"<U+{code:04X}>" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def _controls(value: Any) -> str:
    """Return text with its bidirectional controls shown, for technical values such as DNs.

    A name keeps its characters (and is isolated in <bdi>); a DN is read
    character by character, so a right-to-left override inside it is shown
    rather than allowed to reverse the rest of it.
    """
    return str(value).translate(_BIDI_CONTROLS)


def _when(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return str(value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))
