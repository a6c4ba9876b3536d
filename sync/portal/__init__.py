"""Login and access answers for portal applications, the way a portal asks the directory.

The names below are the Python API for portal applications (docs/portal.md).
"""

from sync.portal.login import LoginRefused, Portal, PortalUser, authenticate, can_open

__all__ = ["LoginRefused", "Portal", "PortalUser", "authenticate", "can_open"]
