"""The web console for the shop's staff: who can open which order, and why (docs/console.md).

Served by the daemon on a port of its own when `console.enabled` is set;
read-only but for "sync now", which asks for a run the way POST /sync does.
"""

from sync.service.console.server import ConsoleServer
from sync.service.console.views import Feed

__all__ = ["ConsoleServer", "Feed"]
