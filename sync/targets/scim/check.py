"""The `check` lines of the SCIM target: the provider answers, and what it offers."""

from __future__ import annotations

from sync.settings import Settings
from sync.targets.scim.access import refusals_stop
from sync.targets.scim.client import ScimClient


def check_lines(settings: Settings) -> list[str]:
    """Return what `portal-sync check` says of the provider; raise SyncError when unusable.

    Reads /ServiceProviderConfig (with the credentials, so a refused token
    shows here) and says whether PATCH, bulk and filters are offered, and
    the most results a filter returns.
    """
    scim = settings.scim
    with ScimClient(scim) as client, refusals_stop():
        config = client.configuration()
        client.find("Users", "userName", "portal-sync-check")
    patch = bool((config.get("patch") or {}).get("supported"))
    bulk = config.get("bulk") or {}
    filters = config.get("filter") or {}
    auth = "OAuth2 client credentials" if scim.oauth else "bearer token" if scim.token else "none"
    if not bulk.get("supported"):
        bulk_line = "no"
    else:
        used = "" if scim.bulk else f" (not used: {scim.name_of('bulk')} is off)"
        bulk_line = f"yes, at most {bulk.get('maxOperations')} operations{used}"
    found = "yes" if filters.get("supported") else "NO: the run needs filters"
    return [
        f"scim: ok ({scim.url}, authentication: {auth})",
        f"  patch: {'yes' if patch else 'NO: the run needs PATCH'}",
        f"  bulk: {bulk_line}",
        f"  filter: {found}, maxResults {filters.get('maxResults', '?')}",
    ]
