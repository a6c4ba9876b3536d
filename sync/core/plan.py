"""The difference between the desired and the current directory, as ordered changes (pure).

Entries are matched by key (the stable source ID in the identity attribute),
never by DN: a changed DN is a rename of the same entry. Group membership is
diffed value by value, so adding one member never rewrites a group.

Users are never deleted straight away: a user who leaves the source (or
whose account is disabled) is disabled first, i.e. marked with a
`disabled-since:` value in the identity attribute, taken out of every group
and moved to the disabled OU; after the retention period it is deleted. A
user who comes back before that is restored: same entry, same password.

Group members are what the source grants (`sync.core.grants`), by key, at the
DN each user entry has once this run is done (`sync.core.membership`): a bad
record's entry stays where it is and keeps only the memberships its record
still supports; a record whose login another kept entry holds is a
collision and keeps its own DN. Groups of records in error are planned for
their members only.

Entries portal-sync does not own get none of its access: of two entries
carrying one identity (a copied entry) only the one it created is matched
(`sync.core.ownership`), and a login held by an entry not its own is a
collision too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sync.core import dn as dnlib
from sync.core.change import Change, Op, Reason, Withdrawal
from sync.core.desired import Desired
from sync.core.entry import Attributes, Entry, EntryKey
from sync.core.mapping import KindMapping, Mapping
from sync.core.membership import Places, diff_members, final_members
from sync.core.ownership import Owners, claim, claim_problem, login_problem
from sync.core.phases import in_order
from sync.core.problems import Quarantine, RecordError

DISABLED_TAG = "disabled-since:"
DEFAULT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Plan:
    """The ordered changes of one run, and the problems found while planning."""

    changes: tuple[Change, ...]
    errors: tuple[RecordError, ...] = ()
    managed: int = 0
    unsettled: frozenset[str] = frozenset()
    """Keys whose entries depend on the directory, not only on the source: read them again
    next run (groups of bad records, unknown memberships, collisions; users with a copy or a
    login another entry holds, so the report names them until that is fixed)."""
    withdrawn: tuple[Withdrawal, ...] = ()
    """Memberships this plan takes away from a bad record, or through a broken reference."""
    owners: dict[str, str] = field(default_factory=dict)
    """Key -> the unique ID of the entry read as portal-sync's (recorded for the next runs)."""
    recheck: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """(key, DN, final members) of the groups to read again once the plan is written: they
    name a DN one entry leaves and another takes in this run, which a late rewrite by an
    overlay (slapd's refint) would turn into the wrong entry's DN."""

    def counts(self) -> dict[str, int]:
        """Return the number of changes per operation."""
        return dict(Counter(change.op.value for change in self.changes))

    def destructive(self) -> list[Change]:
        """Return the changes that delete or disable an entry."""
        return [change for change in self.changes if change.is_destructive]


def disabled_since(entry: Entry, mapping: Mapping) -> datetime | None:
    """Return when a managed entry was disabled, or None when it is active."""
    marker = mapping.identity_prefix + DISABLED_TAG
    for value in entry.attributes.get(mapping.identity_attribute, ()):
        if value.startswith(marker):
            try:
                since = datetime.fromisoformat(value[len(marker) :])
            except ValueError:
                continue
            return since if since.tzinfo else since.replace(tzinfo=UTC)
    return None


def _markers(entry: Entry, mapping: Mapping) -> tuple[str, ...]:
    marker = mapping.identity_prefix + DISABLED_TAG
    values = entry.attributes.get(mapping.identity_attribute, ())
    return tuple(value for value in values if value.startswith(marker))


def make_plan(
    desired: Desired,
    current: Iterable[Entry],
    existing_containers: Iterable[str],
    mapping: Mapping,
    quarantine: Quarantine,
    *,
    now: datetime,
    retention: timedelta = DEFAULT_RETENTION,
    scope: Collection[str] | None = None,
    owners: Owners | None = None,
    foreign: dict[str, list[str]] | None = None,
) -> Plan:
    """Return the changes that turn the current directory into the desired one.

    `now` is the run's time: users are disabled as of `now`, and deleted when
    their retention has ended by then. With `scope` (an incremental run) only
    the desired entries with these keys are planned; the others are taken to
    be as desired already. `owners` tells which of two entries carrying one
    identity is portal-sync's; `foreign` maps logins (case-folded) to the DNs
    of entries portal-sync does not own that hold them.
    """
    planner = _Planner(desired, mapping, quarantine, now, retention)
    planner.owners = owners or Owners()
    planner.foreign = {login: list(dns) for login, dns in (foreign or {}).items()}
    planner.index(current)
    planner.containers(existing_containers)
    wanted = [
        want
        for key, want in desired.entries.items()
        if scope is None or key in scope or key in planner.by_key
    ]
    planner.foreign_logins([want for want in wanted if want.kind.is_user])
    planner.collisions([want for want in wanted if want.kind.is_user])
    for want in wanted:
        if want.kind.is_user and not quarantine.protects(want.key):
            planner.converge(want)
    for key, have in planner.by_key.items():
        if not have.kind.is_user:
            continue
        if key not in desired.entries and not quarantine.blocks_deletion(key):
            planner.retire(have)
        elif quarantine.protects(key) or key not in desired.entries:
            planner.stay(have)
    planner.groups([want.key for want in wanted if want.kind.is_group])
    return Plan(
        planner.ordered(),
        tuple(planner.errors),
        managed=len(planner.by_key),
        unsettled=frozenset(planner.unsettled),
        withdrawn=tuple(planner.withdrawn),
        owners=planner.owned(),
        recheck=tuple(planner.recheck),
    )


class _Planner:
    def __init__(
        self,
        desired: Desired,
        mapping: Mapping,
        quarantine: Quarantine,
        now: datetime,
        retention: timedelta,
    ) -> None:
        self.desired = desired
        self.mapping = mapping
        self.quarantine = quarantine
        self.now = now
        self.retention = retention
        self.by_key: dict[str, Entry] = {}
        self.errors: list[RecordError] = []
        self.changes: list[Change] = []
        self.places = Places()
        self.unsettled: set[str] = set()
        self.withdrawn: list[Withdrawal] = []
        self.disabled_taken: set[str] | None = None
        self.recheck: list[tuple[str, str, tuple[str, ...]]] = []
        self.handed_over: set[str] = set()
        self.logins_after: dict[str, set[str]] | None = None
        """Login (case-folded) -> the keys of the users that hold it once this run is done."""
        self.disabled_base = (
            dnlib.normalize_dn(desired.disabled_base) if desired.disabled_base else ""
        )
        self.owners = Owners()
        self.foreign: dict[str, list[str]] = {}
        """Login (case-folded) -> the DNs of entries portal-sync does not own that hold it."""
        self.not_ours: set[str] = set()
        """Normalized DNs of entries that are not portal-sync's: copies, foreign login holders."""
        self.contested: dict[str, list[Entry]] = {}
        """Keys whose entries cannot be told apart -> those entries (memberships kept)."""
        self.frozen: set[str] = set()
        """Normalized DNs of the contested entries: group values naming them are kept."""
        self.copies: dict[str, str] = {}
        """Normalized DN of an entry carrying an identity that is not its own -> the key."""

    def index(self, current: Iterable[Entry]) -> None:
        shared: dict[str, list[Entry]] = {}
        for entry in current:
            other = self.by_key.get(entry.key)
            if other is None:
                self.by_key[entry.key] = entry
            else:
                shared.setdefault(entry.key, [other]).append(entry)
        for dns in self.foreign.values():
            self.not_ours.update(dnlib.normalize_dn(dn) for dn in dns)
        if shared:
            self.claims(shared)
        for key, have in self.by_key.items():
            if have.kind.is_user:
                self.places.keys[dnlib.normalize_dn(have.dn)] = key
        for key, want in self.desired.entries.items():
            if want.kind.is_user:
                self.places.after[key] = None if key in self.contested else want.dn
                read = self.by_key.get(key)
                wanted = dnlib.normalize_dn(want.dn)
                if (read is None or read.dn != want.dn) and wanted not in self.not_ours:
                    self.places.keys.setdefault(wanted, key)

    def claims(self, shared: dict[str, list[Entry]]) -> None:
        """Decide which of the entries carrying one identity is portal-sync's; report the rest.

        The others are not portal-sync's: never modified, and named by no
        group. When it cannot tell, the record is left as it is and its
        entries keep the memberships they have.
        """
        members = self._member_values()
        for key, found in shared.items():
            want = self.desired.entries.get(key)
            decided = claim(
                found,
                self.owners,
                want.dn if want is not None else None,
                lambda dn: dnlib.normalize_dn(dn) in members,
            )
            record = self.desired.records.get(key, EntryKey.label(key))
            problem = claim_problem(decided, self.mapping.identity_value(key))
            self.errors.append(RecordError(record, problem))
            self.unsettled.add(key)
            if decided.owner is None:
                del self.by_key[key]
                self.quarantine.keys.add(key)
                self.contested[key] = found
            else:
                self.by_key[key] = decided.owner
            for other in decided.others:
                normalized = dnlib.normalize_dn(other.dn)
                self.not_ours.add(normalized)
                self.copies[normalized] = key
                if decided.owner is None:
                    self.frozen.add(normalized)
                if other.kind.is_user:
                    self.foreign.setdefault(_login(other.dn), []).append(other.dn)

    def _member_values(self) -> set[str]:
        """Return the normalized member DNs of every group read."""
        found: set[str] = set()
        for have in self.by_key.values():
            members = self.mapping.kinds[have.kind].members
            if have.kind.is_group and members is not None:
                found.update(dnlib.normalize_dn(v) for v in have.attributes.get(members, ()))
        return found

    def owned(self) -> dict[str, str]:
        """Return the unique IDs to record: of the entries taken as portal-sync's, and those
        recorded for keys it could not decide."""
        owned = {
            key: unique
            for key, have in self.by_key.items()
            if (unique := self.owners.of(have)) is not None
        }
        for key in self.contested:
            if key in self.owners.recorded:
                owned[key] = self.owners.recorded[key]
        return owned

    def foreign_logins(self, wanted: list[Entry]) -> None:
        """Report users whose login an entry portal-sync does not own holds.

        A user who would get the login in this run (added, renamed or
        restored) is held back like a collision: it keeps the entry it has.
        A user whose entry holds the login already keeps it and its access.
        """
        if not self.foreign:
            return
        for want in wanted:
            login = _login(want.dn)
            own = self.by_key.get(want.key)
            holders = [
                dn
                for dn in self.foreign.get(login, ())
                if own is None or dnlib.normalize_dn(dn) != dnlib.normalize_dn(own.dn)
            ]
            if not holders or self.quarantine.protects(want.key):
                continue
            moves = own is None or _needs_rename(own.dn, want.dn) or not self._active(own)
            if moves:
                self.quarantine.keys.add(want.key)
                self.places.after[want.key] = None
                kept = f"its entry {own.dn} is kept as it is" if own else "no entry is added"
            else:
                kept = "its entry keeps its DN and its access"
            self.unsettled.add(want.key)
            record = self.desired.records.get(want.key, EntryKey.label(want.key))
            for holder in holders:
                whose = self._whose(holder)
                value = dnlib.split_dn(want.dn)[0][1]
                self.errors.append(RecordError(record, login_problem(value, holder, whose, kept)))

    def _whose(self, dn: str) -> str:
        """Return whose an entry that is not portal-sync's is, in words."""
        key = self.copies.get(dnlib.normalize_dn(dn))
        if key in self.contested:
            return f"one of the entries carrying the identity of {EntryKey.label(key)}"
        if key is not None:
            return f"a copy carrying the identity of {EntryKey.label(key)}"
        return "an entry portal-sync does not own"

    def containers(self, existing: Iterable[str]) -> None:
        known = {dnlib.normalize_dn(dn) for dn in existing}
        for container in self.desired.containers:
            if dnlib.normalize_dn(container) not in known:
                attribute, value = dnlib.split_dn(container)[0]
                self.changes.append(
                    Change(
                        Op.ADD_CONTAINER,
                        container,
                        object_classes=self.mapping.container_classes,
                        replace={attribute.lower(): (value,)},
                    )
                )

    def _in_disabled_ou(self, dn: str) -> bool:
        return bool(self.disabled_base) and dnlib.normalize_dn(dnlib.parent_dn(dn)) == (
            self.disabled_base
        )

    def _active(self, entry: Entry) -> bool:
        return not _markers(entry, self.mapping) and not self._in_disabled_ou(entry.dn)

    def _stays(self, key: str) -> bool:
        """Return whether the entry with this key is left where it is by this run."""
        if self.quarantine.protects(key):
            return True
        return key not in self.desired.entries and self.quarantine.blocks_deletion(key)

    def collisions(self, wanted: list[Entry]) -> None:
        """Hold back users whose login is taken by an entry this run leaves where it is.

        Such an entry belongs to a record in error (or of a kind whose
        deletions are suspended); a DN, and a login, belong to one entry
        only, so the record that wants it is reported and keeps its own entry.
        """
        held: dict[str, Entry] = {}
        for entry in self.by_key.values():
            if entry.kind.is_user and self._stays(entry.key) and self._active(entry):
                held.setdefault(_login(entry.dn), entry)
        found = True
        while found:
            found = False
            for want in wanted:
                holder = held.get(_login(want.dn))
                if self.quarantine.protects(want.key) or holder is None or holder.key == want.key:
                    continue
                found = True
                self.quarantine.keys.add(want.key)
                self.places.after[want.key] = None
                own = self.by_key.get(want.key)
                kept = f"its entry {own.dn} is kept as it is" if own else "no entry is added"
                self.errors.append(
                    RecordError(
                        self.desired.records.get(want.key, EntryKey.label(want.key)),
                        f"collision: its login {dnlib.split_dn(want.dn)[0][1]!r} is held by "
                        f"{holder.dn}, the entry of {EntryKey.label(holder.key)}, which is kept "
                        f"as it is; {kept}",
                    )
                )
                if own is not None and self._active(own):
                    held.setdefault(_login(own.dn), own)

    def converge(self, want: Entry) -> None:
        """Add, rename, restore or modify one desired user entry."""
        kind_mapping = self.mapping.kinds[want.kind]
        have = self.by_key.get(want.key)
        if have is None:
            attributes = {name: values for name, values in want.attributes.items() if values}
            self.changes.append(
                Change(
                    Op.ADD,
                    want.dn,
                    want.key,
                    object_classes=kind_mapping.object_classes,
                    replace=attributes,
                )
            )
            return
        markers = _markers(have, self.mapping)
        restoring = bool(markers) or self._in_disabled_ou(have.dn)
        reason = Reason.RESTORE if restoring else Reason.NONE
        if _needs_rename(have.dn, want.dn):
            if not restoring and _login(have.dn) != _login(want.dn) and self._handed_on(have):
                self._release(have)
            self.changes.append(Change(Op.RENAME, have.dn, want.key, new_dn=want.dn, reason=reason))
            self.places.moving[want.key] = (have.dn, want.dn)
        modify = _modify(have, want, kind_mapping, self.mapping)
        kept_in = self.mapping.kept_in
        if restoring and kept_in and have.attributes.get(kept_in):
            modify = replace(
                modify or Change(Op.MODIFY, want.dn, want.key),
                replace={**(modify.replace if modify else {}), kept_in: ()},
            )
        if markers:
            identity = self.mapping.identity_attribute
            modify = replace(
                modify or Change(Op.MODIFY, want.dn, want.key),
                delete_values={**(modify.delete_values if modify else {}), identity: markers},
            )
        if modify is not None:
            self.changes.append(replace(modify, reason=reason))

    def stay(self, have: Entry) -> None:
        """Record that a user entry stays where it is: a bad record's, or a collided one's."""
        self.places.after[have.key] = have.dn if self._active(have) else None

    def retire(self, have: Entry) -> None:
        """Disable, keep or delete one user entry that left the source."""
        self.places.after[have.key] = None
        since = disabled_since(have, self.mapping)
        if since is not None and self.now - since >= self.retention:
            self.changes.append(
                Change(Op.DELETE, have.dn, have.key, reason=Reason.RETENTION_EXPIRED)
            )
            self.places.moving[have.key] = (have.dn, None)
            return
        released = self._released(have)
        if since is None:
            stamp = self.now.astimezone(UTC).isoformat(timespec="seconds")
            marker = f"{self.mapping.identity_prefix}{DISABLED_TAG}{stamp}"
            self.changes.append(
                Change(
                    Op.MODIFY,
                    have.dn,
                    have.key,
                    add_values={self.mapping.identity_attribute: (marker,)},
                    replace={**self.mapping.kinds[have.kind].render_disabled(), **released},
                    reason=Reason.DISABLE,
                )
            )
        elif released:
            self.changes.append(
                Change(Op.MODIFY, have.dn, have.key, replace=released, reason=Reason.DISABLE)
            )
        if not self._in_disabled_ou(have.dn):
            target = self._disabled_dn(have)
            self.changes.append(
                Change(Op.RENAME, have.dn, have.key, new_dn=target, reason=Reason.DISABLE)
            )
            self.places.moving[have.key] = (have.dn, target)

    def _released(self, have: Entry) -> Attributes:
        """Return the values that free the login of a user leaving it, or {} when it is free.

        Active Directory keeps sAMAccountName and userPrincipalName unique in
        the whole domain, the disabled OU included: a user whose login
        another entry may take gives them up (`[logins]` of the mapping) and
        keeps its login in `kept_in`, for the record and for a restore.
        """
        released = self.mapping.released_values(have.key)
        changed: dict[str, tuple[str, ...]] = {
            name: values
            for name, values in released.items()
            if set(have.attributes.get(name, ())) != set(values)
        }
        kept_in = self.mapping.kept_in
        if changed and kept_in and not have.attributes.get(kept_in):
            changed[kept_in] = (dnlib.split_dn(have.dn)[0][1],)
        return changed

    def _handed_on(self, have: Entry) -> bool:
        """Return whether another user takes the login this user leaves, in this run."""
        if self.logins_after is None:
            self.logins_after = {}
            for key, dn in self.places.after.items():
                if dn is not None:
                    self.logins_after.setdefault(_login(dn), set()).add(key)
        return bool(self.logins_after.get(_login(have.dn), set()) - {have.key})

    def _release(self, have: Entry) -> None:
        """Free the login attributes of a user renamed to a login another user takes, before
        any rename: a rename no one follows sets the new login in one step, so a refused
        rename leaves the user its old login."""
        released = self._released(have)
        kept_in = self.mapping.kept_in
        if kept_in:
            released.pop(kept_in, None)
        if released:
            self.changes.append(
                Change(Op.MODIFY, have.dn, have.key, replace=released, reason=Reason.RELEASE)
            )

    def _disabled_dn(self, have: Entry) -> str:
        """Return where a user goes in the disabled OU: its own name unless that is taken."""
        if self.disabled_taken is None:
            self.disabled_taken = {
                dnlib.normalize_dn(entry.dn)
                for key, entry in self.by_key.items()
                if self._in_disabled_ou(entry.dn)
                and (key not in self.desired.entries or self.quarantine.protects(key))
            }
        target = f"{dnlib.leaf_rdn(have.dn)},{self.desired.disabled_base}"
        if dnlib.normalize_dn(target) in self.disabled_taken:
            target = unique_disabled_dn(have.dn, have.key, self.desired.disabled_base)
        self.disabled_taken.add(dnlib.normalize_dn(target))
        return target

    def groups(self, wanted: list[str]) -> None:
        """Plan the groups: their members are the grants, at the DNs the users end with."""
        user_keys = {
            want.dn: key for key, want in self.desired.entries.items() if want.kind.is_user
        }
        self.handed_over = handed_over(self.places)
        keys = list(wanted)
        keys += [
            key
            for key, have in self.by_key.items()
            if have.kind.is_group and key not in self.desired.entries
        ]
        for key in keys:
            self.group(key, user_keys)

    def group(self, key: str, user_keys: dict[str, str]) -> None:
        have = self.by_key.get(key)
        want = None if self.quarantine.protects(key) else self.desired.entries.get(key)
        if have is None and want is None:
            return
        kind_mapping = self.mapping.kinds[EntryKey.kind(key)]
        members = kind_mapping.members
        assert members is not None
        if want is None and not self.quarantine.blocks_deletion(key):
            assert have is not None
            self.changes.append(Change(Op.DELETE, have.dn, key, reason=Reason.LEFT_SOURCE))
            self._note_withdrawals(key, have.dn, have.attributes.get(members, ()), ())
            return
        grants = self.desired.grants
        wanted: dict[str, None] = {}
        literal: list[str] = []
        for dn in want.attributes.get(members, ()) if want else ():
            found = user_keys.get(dn) or self.places.key_at(dn)
            if found is None:
                literal.append(dn)
            else:
                wanted[found] = None
        held = sorted(k for k in grants.members.get(key, ()) if k not in wanted)
        wanted.update(dict.fromkeys(held))
        current = have.attributes.get(members, ()) if have else ()
        if self.frozen:
            literal += [value for value in current if dnlib.normalize_dn(value) in self.frozen]
        keep_all = grants.keeps_all(key)
        keeps = {}
        if grants.uncertain or keep_all:
            keeps = {
                found: grants.keeps(found, key)
                for value in current
                if (found := self.places.key_at(value)) is not None
            }
        final = final_members(wanted, literal, current, keeps, keep_all, self.places)
        if want is None or held or any(keeps.values()) or keep_all:
            self.unsettled.add(key)
        if any(self.quarantine.protects(k) for k in wanted):
            self.unsettled.add(key)
        if want is None:
            assert have is not None
            self._members(key, have, have.dn, current, final or (have.dn,), members, {})
            return
        if not final:
            if have is not None:
                self.changes.append(Change(Op.DELETE, have.dn, key, reason=Reason.NO_MEMBER))
                self._note_withdrawals(key, have.dn, current, ())
            return
        if have is None:
            self._watch(key, want.dn, (), final)
            attributes = {name: values for name, values in want.attributes.items() if values}
            attributes[members] = final
            self.changes.append(
                Change(
                    Op.ADD,
                    want.dn,
                    key,
                    object_classes=kind_mapping.object_classes,
                    replace=attributes,
                )
            )
            return
        if _needs_rename(have.dn, want.dn):
            self.changes.append(Change(Op.RENAME, have.dn, key, new_dn=want.dn))
        modify = _modify(have, want, kind_mapping, self.mapping)
        replaced = dict(modify.replace) if modify else {}
        self._members(key, have, want.dn, current, final, members, replaced)

    def _members(
        self,
        key: str,
        have: Entry,
        dn: str,
        current: tuple[str, ...],
        final: tuple[str, ...],
        members: str,
        replaced: Attributes,
    ) -> None:
        """Plan the member changes of one group (and its other attribute changes)."""
        self._watch(key, dn, current, final)
        if set(current) == set(final) and not self.places.moves_any(current):
            if replaced:
                self.changes.append(Change(Op.MODIFY, dn, key, replace=replaced))
            return
        diff = diff_members(current, final, self.places)
        if diff.before:
            self.changes.append(
                Change(
                    Op.MODIFY,
                    have.dn,
                    key,
                    delete_values={members: diff.before},
                    reason=Reason.BEFORE_MOVE,
                )
            )
        if diff.add or diff.delete or replaced:
            self.changes.append(
                Change(
                    Op.MODIFY,
                    dn,
                    key,
                    replace=replaced,
                    add_values={members: diff.add} if diff.add else {},
                    delete_values={members: diff.delete} if diff.delete else {},
                )
            )
        if diff.before or diff.delete:
            self._note_withdrawals(key, have.dn, (*diff.before, *diff.delete), diff.final)

    def _watch(self, key: str, dn: str, current: tuple[str, ...], final: tuple[str, ...]) -> None:
        """Read a group again after the run when it names a DN handed from one entry to another."""
        if self.handed_over and any(
            dnlib.normalize_dn(value) in self.handed_over for value in (*current, *final)
        ):
            self.recheck.append((key, dn, final))

    def _note_withdrawals(
        self, key: str, group_dn: str, removed: Iterable[str], final: tuple[str, ...]
    ) -> None:
        """Record the memberships taken from bad records or through broken references."""
        kept = {dnlib.normalize_dn(value) for value in final}
        note = self.desired.grants.notes.get(key)
        for value in removed:
            member = self.places.key_at(value)
            after = self.places.final(member) if member else None
            if member is None or after is None or dnlib.normalize_dn(after) in kept:
                continue
            if self.quarantine.protects(member):
                reason = (
                    f"the record of {EntryKey.label(member)} is in error: its entry is kept, "
                    "with only the access its record still grants"
                )
            elif note is not None:
                reason = f"the source no longer grants it: {note}"
            elif self._stays(key):
                reason = (
                    f"the record of {EntryKey.label(key)} is in error: its group is kept, "
                    "with only the members its record still grants"
                )
            else:
                continue
            self.withdrawn.append(Withdrawal(value, group_dn, reason))

    def ordered(self) -> tuple[Change, ...]:
        """Return the changes in an order the directory accepts."""
        return in_order(self.changes, {dnlib.normalize_dn(e.dn) for e in self.by_key.values()})


def _login(dn: str) -> str:
    """Return the login a user DN stands for, as portals compare it (its RDN value)."""
    return dnlib.split_dn(dn)[0][1].casefold()


def handed_over(places: Places) -> set[str]:
    """Return the normalized DNs one user entry leaves in this run and another ends with.

    A swap of logins, a chain of renames, a login a disabled user frees and
    another takes: an overlay that rewrites member values late (slapd's
    refint) may rewrite the value written for the new holder as well.
    """
    left = {dnlib.normalize_dn(old) for old, _ in places.moving.values()}
    if not left:
        return set()
    taken = {dnlib.normalize_dn(dn) for dn in places.after.values() if dn is not None}
    return left & taken


def unique_disabled_dn(dn: str, key: str, disabled_base: str) -> str:
    """Return a name in the disabled OU that only the entry with this key can hold.

    Used when another disabled entry already holds the user's own name
    (a login given again and disabled again within the retention period).
    """
    attribute, value = dnlib.split_dn(dn)[0]
    return f"{dnlib.rdn(attribute, f'{value} ({key})')},{disabled_base}"


def _needs_rename(have: str, want: str) -> bool:
    """Return whether an entry must move: another parent, or an RDN value spelt otherwise."""
    if have == want:
        return False
    if dnlib.normalize_dn(have) != dnlib.normalize_dn(want):
        return True
    return dnlib.split_dn(have)[0][1] != dnlib.split_dn(want)[0][1]


def _modify(have: Entry, want: Entry, kind_mapping: KindMapping, mapping: Mapping) -> Change | None:
    """Return the attribute-level modify from `have` to `want` (members aside), or None."""
    replace_values: Attributes = {}
    for name, values in want.attributes.items():
        if name in (mapping.identity_attribute, kind_mapping.rdn, kind_mapping.members):
            continue
        if set(have.attributes.get(name, ())) != set(values):
            replace_values[name] = values
    if not replace_values:
        return None
    return Change(Op.MODIFY, want.dn, want.key, replace=replace_values)
