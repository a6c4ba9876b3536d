"""Which entry is portal-sync's when several carry one identity, and whose a login is (pure).

The identity value marks an entry as portal-sync's, but anyone who may
write the directory can copy it: cloning a user's LDIF to make a test
account is enough. So when two entries carry one identity, the one the
service created keeps the record's access and the other gets none:

1. the entry whose unique ID (entryUUID, nsUniqueId, objectGUID) is the one
   recorded when the service added or last read the record's entry;
2. failing that, the entry at the DN the source gives, unless another of
   the entries is a member of a group read in this run (the copy may sit
   at the user's DN while the user's entry was renamed by hand);
3. failing that, none: the entries keep the memberships they have, none
   is added, and the record is reported until someone removes the copy.

A login, too, belongs to one entry: an entry portal-sync does not own
that holds a login portal-sync gives (its naming attribute anywhere under
the base DN) makes portal logins ambiguous, and is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sync.core import dn as dnlib
from sync.core.entry import Entry

BY_UNIQUE_ID = "its unique ID is the one portal-sync recorded"
BY_DN = "it is at the DN the source gives"


@dataclass(frozen=True)
class Owners:
    """The unique IDs of the entries portal-sync created or read as its own."""

    attribute: str = "entryuuid"
    """The unique-ID attribute, lower case, as read entries carry it."""
    recorded: Mapping[str, str] = field(default_factory=dict)
    """Key -> the unique ID of the entry portal-sync holds for it."""

    def of(self, entry: Entry) -> str | None:
        """Return the unique ID a read entry carries, if it was read."""
        values = entry.attributes.get(self.attribute, ())
        return values[0] if values else None


@dataclass(frozen=True)
class Claim:
    """The entries carrying one identity: portal-sync's (None when it cannot tell), the others."""

    owner: Entry | None
    others: tuple[Entry, ...]
    how: str = ""
    """Why the owner is portal-sync's (BY_UNIQUE_ID or BY_DN)."""


def claim(
    found: Sequence[Entry],
    owners: Owners,
    source_dn: str | None,
    is_member: Callable[[str], bool],
) -> Claim:
    """Return which of the entries carrying one identity is portal-sync's.

    `source_dn` is the DN the source gives the record (None when it wants
    no entry); `is_member` says whether a group read in this run names a DN.
    """
    recorded = owners.recorded.get(found[0].key)
    if recorded:
        matching = [entry for entry in found if owners.of(entry) == recorded]
        if len(matching) == 1:
            return Claim(matching[0], _others(found, matching[0]), BY_UNIQUE_ID)
    if source_dn is not None:
        wanted = dnlib.normalize_dn(source_dn)
        at = [entry for entry in found if dnlib.normalize_dn(entry.dn) == wanted]
        if len(at) == 1:
            others = _others(found, at[0])
            if not any(is_member(entry.dn) for entry in others):
                return Claim(at[0], others, BY_DN)
    return Claim(None, tuple(found))


def _others(found: Sequence[Entry], owner: Entry) -> tuple[Entry, ...]:
    return tuple(entry for entry in found if entry is not owner)


def claim_problem(claim: Claim, identity: str) -> str:
    """Return the record error for entries sharing one identity value `identity`."""
    if claim.owner is not None:
        others = " and ".join(entry.dn for entry in claim.others)
        return (
            f"two entries carry its identity: {claim.owner.dn} is portal-sync's ({claim.how}); "
            f"{others} is not portal-sync's and gets no membership: delete it, or remove "
            f"{identity!r} from it"
        )
    dns = " and ".join(entry.dn for entry in claim.others)
    return (
        f"two entries carry its identity and portal-sync cannot tell which is its own (no "
        f"recorded unique ID, not one alone at the DN the source gives): {dns}; their "
        f"memberships are kept as they are, none is added: delete the copy"
    )


def login_problem(login: str, holder: str, whose: str, kept: str) -> str:
    """Return the record error for a login that an entry portal-sync does not own holds."""
    return (
        f"collision: its login {login!r} is held by {holder}, {whose}: portals cannot tell "
        f"the two apart; rename or delete {holder}; {kept}"
    )


def owners_after(
    previous: Mapping[str, str],
    read: Mapping[str, str],
    added: Mapping[str, str],
    deleted: Iterable[str],
    *,
    full: bool,
) -> dict[str, str]:
    """Return the unique IDs to record after a run.

    `read` holds those of the entries the run took as portal-sync's
    (an undecided key keeps its recorded ID there); `added` those of the
    entries it added. A full run read every managed entry: what it did not
    read is gone.
    """
    owners = {} if full else dict(previous)
    owners.update(read)
    owners.update(added)
    for key in deleted:
        owners.pop(key, None)
    return owners
