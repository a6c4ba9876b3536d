"""The SCIM target against a real scim2-server: what it pushes, what it sends, what it never does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from sync.core.report import ExitCode, Outcome
from sync.run.sync import run_sync
from sync.targets.scim.run import run_scim

import seed_table
from directory_view import groups as ldap_groups
from directory_view import users as ldap_users
from servers.scim import ScimProxy

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

pytest_plugins = ["servers.scim_fixtures"]


def push(settings: Any, **options: Any) -> Any:
    report = run_scim(settings, now=options.pop("now", T0), **options)
    assert report.failure is None, report.failure
    return report


def resources(scim: ScimProxy, kind: str) -> list[dict[str, Any]]:
    return list(scim.upstream_get(kind, count="1000").get("Resources") or [])


def pairs(scim: ScimProxy) -> set[tuple[str, str]]:
    """Return the (userName, group displayName) pairs the provider holds."""
    names = {user["id"]: user["userName"] for user in resources(scim, "Users")}
    return {
        (names[member["value"]], group["displayName"])
        for group in resources(scim, "Groups")
        for member in group.get("members") or []
    }


def seed_pairs() -> set[tuple[str, str]]:
    tables = (seed_table.CUSTOMER_GROUPS, seed_table.ORDER_GROUPS, seed_table.ROLE_GROUPS)
    return {
        (login, group) for table in tables for group, logins in table.items() for login in logins
    }


def by_external_id(scim: ScimProxy, kind: str = "Users") -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in resources(scim, kind):
        found.setdefault(resource.get("externalId"), []).append(resource)
    return found


def person(seed: dict[str, Any], login: str) -> dict[str, Any]:
    return next(
        p
        for c in seed["customers"]
        for p in c["persons"]
        if (p.get("account") or {}).get("login") == login
    )


def test_the_seed_scenario_gives_the_pairs_of_the_openldap_sync(
    scim, scim_settings, settings_for, seed, slapd
):
    ldap_report = run_sync(settings_for(seed))
    push(scim_settings(seed))

    assert ldap_report.failure is None
    ldap_pairs = {
        (login, group)
        for ou in ("ou=customers,ou=groups", "ou=orders,ou=groups", "ou=roles,ou=groups")
        for group, logins in ldap_groups(slapd, ou).items()
        for login in logins
    }
    assert pairs(scim) == ldap_pairs == seed_pairs()
    users = {u["userName"]: u for u in resources(scim, "Users")}
    assert set(users) == ldap_users(slapd, "ou=internal") | ldap_users(slapd, "ou=external")
    assert {n for n, u in users.items() if u["userType"] == "internal"} == seed_table.INTERNAL_USERS
    assert users["smartin"]["externalId"] == "external:P-3"
    assert users["smartin"]["emails"][0]["value"] == "sophie.martin@lumiere.example"
    assert all(u["active"] for u in users.values())


def test_a_second_run_sends_no_request_and_one_change_sends_one(scim, scim_settings, seed):
    push(scim_settings(seed))
    first = len(scim.seen)

    again = push(scim_settings(seed))
    person(seed, "mlefevre")["email"] = "marc@lumiere.example"
    changed = push(scim_settings(seed))

    assert again.requests == [] and first > 0
    [request] = scim.seen[first:]
    assert (request.method, request.path.split("/")[2]) == ("PATCH", "Users")
    assert request.body["Operations"] == [
        {
            "op": "replace",
            "path": "emails",
            "value": [{"value": "marc@lumiere.example", "type": "work", "primary": True}],
        }
    ]
    assert changed.counts() == {"update-user": 1}


def test_a_renamed_login_is_a_patch_of_username_not_a_new_user(scim, scim_settings, seed):
    push(scim_settings(seed))
    before = {u["externalId"]: u["id"] for u in resources(scim, "Users")}
    first = len(scim.seen)
    person(seed, "cdubois")["account"]["login"] = "claire.dubois"

    push(scim_settings(seed))

    [request] = scim.seen[first:]
    assert request.method == "PATCH" and request.path == f"/v2/Users/{before['external:P-1']}"
    assert request.body["Operations"] == [
        {"op": "replace", "path": "userName", "value": "claire.dubois"}
    ]
    after = {u["externalId"]: (u["id"], u["userName"]) for u in resources(scim, "Users")}
    assert after["external:P-1"] == (before["external:P-1"], "claire.dubois")
    assert len(after) == len(before)
    assert ("claire.dubois", "order-RA_4726") in pairs(scim)


def test_disabling_sets_active_false_removes_memberships_and_retention_deletes(
    scim, scim_settings, seed
):
    push(scim_settings(seed))
    person(seed, "pbraun")["account"]["enabled"] = False

    disabled = push(scim_settings(seed))
    kept = push(scim_settings(seed), now=T0 + timedelta(days=29))
    deleted = push(scim_settings(seed), now=T0 + timedelta(days=31))

    # order _20261121_003 loses pbraun; the group of customer 10003 had nobody else
    assert disabled.counts() == {"disable-user": 1, "update-group": 1, "delete-group": 1}
    assert kept.requests == []
    assert deleted.counts() == {"delete-user": 1}
    assert "external:P-20" not in by_external_id(scim)
    assert {login for login, _ in pairs(scim)} == seed_table.EXTERNAL_USERS - {"pbraun"} | (
        seed_table.INTERNAL_USERS
    )


def test_a_disabled_user_is_inactive_on_the_provider_and_in_no_group(scim, scim_settings, seed):
    push(scim_settings(seed))
    person(seed, "pbraun")["account"]["enabled"] = False

    push(scim_settings(seed))

    [user] = by_external_id(scim)["external:P-20"]
    assert user["active"] is False
    assert "pbraun" not in {login for login, _ in pairs(scim)}


HOSTILE_ID = 'P-"1\\\u202e\u00e9'
HOSTILE_LOGIN = 'clé"o\\\u202ex'


def test_hostile_names_and_ids_round_trip_and_are_found_again_by_external_id(
    scim, scim_settings, seed, tmp_path
):
    claire = person(seed, "cdubois")
    claire["id"] = HOSTILE_ID
    claire["account"]["login"] = HOSTILE_LOGIN
    claire["last_name"] = 'Dü"bois \\ \u202eevil'
    push(scim_settings(seed))
    state = tmp_path / "state" / "scim-state.json"
    pushed = json.loads(state.read_text(encoding="utf-8"))
    del pushed["resources"][f"external:{HOSTILE_ID}"]  # looked up again, by its externalId
    state.write_text(json.dumps(pushed), encoding="utf-8")
    first = len(scim.seen)

    again = push(scim_settings(seed))

    assert (again.requests, again.errors) == ([], [])
    [lookup] = scim.seen[first:]
    assert lookup.method == "GET" and "externalId" in unquote(lookup.query)
    [user] = by_external_id(scim)[f"external:{HOSTILE_ID}"]
    assert user["userName"] == HOSTILE_LOGIN
    assert user["name"]["familyName"] == 'Dü"bois \\ \u202eevil'
    assert (HOSTILE_LOGIN, "X10001-Éditions Lumière") in pairs(scim)
    assert all(len(found) == 1 for found in by_external_id(scim).values())


def test_a_foreign_user_with_a_colliding_username_is_untouched_and_reported(
    scim, scim_settings, seed
):
    foreign = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jsilva",
        "externalId": "hr:42",
        "displayName": "Somebody Else",
    }
    created = scim._client.post(f"{scim.upstream}/Users", json=foreign).json()

    report = run_scim(scim_settings(seed), now=T0)

    assert report.outcome is Outcome.RECORD_ERRORS
    [error] = report.errors
    assert error.record == "person P-10 of customer 10002"
    assert "userName 'jsilva'" in error.problem and "'hr:42'" in error.problem
    [holder] = [u for u in resources(scim, "Users") if u["userName"] == "jsilva"]
    assert holder == scim.upstream_get(f"Users/{created['id']}")
    assert holder["meta"]["version"] == created["meta"]["version"]
    assert not [
        g
        for g in resources(scim, "Groups")
        for m in g.get("members") or []
        if m["value"] == created["id"]
    ]


def test_a_429_with_retry_after_is_waited_out(scim, scim_settings, seed):
    scim.busy_once = ("POST", "/v2/Users", "1")

    push(scim_settings(seed))

    posts = [s for s in scim.seen if s.method == "POST" and s.path == "/v2/Users"]
    assert [s.status for s in posts[:2]] == [429, 201]
    assert posts[1].body == posts[0].body
    assert posts[1].at - posts[0].at >= 0.95
    assert pairs(scim) == seed_pairs()


def test_a_provider_gone_mid_run_ends_unavailable_and_the_next_run_makes_no_duplicate(
    scim, scim_settings, seed
):
    scim.crash_after_writes = 5  # the fifth write is applied, its answer never arrives

    stopped = run_scim(scim_settings(seed), now=T0)
    scim.revive()
    resumed = push(scim_settings(seed))

    assert stopped.outcome is Outcome.TARGET_UNAVAILABLE
    assert stopped.exit_code == ExitCode.TARGET_UNAVAILABLE == 7
    assert "scim.url" in (stopped.failure or "")
    assert len(stopped.requests) == 4
    assert resumed.counts()["create-user"] == 9 - 5
    assert all(len(found) == 1 for found in by_external_id(scim).values())
    assert len(by_external_id(scim)) == 9
    assert pairs(scim) == seed_pairs()


def test_a_quarantined_record_keeps_its_user_and_every_membership(scim, scim_settings, seed):
    push(scim_settings(seed))
    first = len(scim.seen)
    claire = person(seed, "cdubois")
    claire["contact_types"] = ["no-such-contact-type"]  # a record in error

    report = push(scim_settings(seed))

    assert [e.record for e in report.errors] == ["person P-1 of customer 10001"]
    assert scim.seen[first:] == []
    assert pairs(scim) == seed_pairs()


def test_a_broken_export_removes_disables_and_deletes_nothing(scim, scim_settings, seed):
    push(scim_settings(seed))
    first = len(scim.seen)

    report = run_scim(scim_settings({"format_version": 1, "customers": [], "orders": []}), now=T0)

    assert report.outcome is Outcome.RECORD_ERRORS
    assert "broken export" in str(report.errors[-1])
    assert scim.seen[first:] == []
    assert pairs(scim) == seed_pairs()


def test_the_deletion_guard_holds_a_mass_disable_until_approved(scim, scim_settings, seed):
    push(scim_settings(seed))
    first = len(scim.seen)
    seed["customers"] = [c for c in seed["customers"] if c["id"] == "10004"]
    seed["orders"] = []
    settings = scim_settings(seed, safety={"max_deletions": 3})

    held = run_scim(settings, now=T0)
    sent_while_held = [s for s in scim.seen[first:] if s.is_write]
    approved = run_scim(settings, now=T0, allow_deletions=20)

    assert held.outcome is Outcome.DELETION_GUARD and held.exit_code == 5
    assert "--allow-deletions" in (held.failure or "")
    assert {r["op"] for r in held.requests} >= {"disable-user", "delete-group"}
    assert sent_while_held == []
    assert approved.failure is None
    assert {u["userName"] for u in resources(scim, "Users") if u["active"]} == (
        seed_table.INTERNAL_USERS
    )


def test_bulk_creates_the_users_in_one_request_and_the_groups_in_another(scim, scim_settings, seed):
    report = push(scim_settings(seed, scim={"bulk": True}))

    writes = [(s.method, s.path) for s in scim.writes()]
    assert writes == [("POST", "/v2/Bulk"), ("POST", "/v2/Bulk")]
    assert [len(s.body["Operations"]) for s in scim.writes()] == [9, 10]
    assert report.counts() == {"create-user": 9, "create-group": 10}
    assert pairs(scim) == seed_pairs()
    assert push(scim_settings(seed, scim={"bulk": True})).requests == []


def test_a_first_run_over_resources_it_lost_track_of_adopts_them_by_listing(
    scim, scim_settings, seed, tmp_path
):
    push(scim_settings(seed))
    (tmp_path / "state" / "scim-state.json").unlink()
    first = len(scim.seen)

    again = push(scim_settings(seed, scim={"page_size": 4}))

    assert again.requests == []
    assert {s.method for s in scim.seen[first:]} == {"GET"}
    assert all("filter" not in s.query for s in scim.seen[first:])


def test_a_refused_value_is_a_record_error_and_the_next_run_creates_the_user(
    scim, scim_settings, seed
):
    error = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "invalidValue",
        "detail": "emails.value is not an address we accept",
    }
    scim.refuse_once = ("POST", "/v2/Users", 400, error)

    report = run_scim(scim_settings(seed), now=T0)
    logins_after_refusal = {login for login, _ in pairs(scim)}
    again = push(scim_settings(seed))

    [refused] = report.errors
    assert refused.record == "internal user U-1"
    assert "invalidValue" in refused.problem and "emails.value" in refused.problem
    assert report.outcome is Outcome.RECORD_ERRORS
    assert logins_after_refusal == seed_table.EXTERNAL_USERS | seed_table.INTERNAL_USERS - {
        "anna.schmidt"
    }
    assert again.counts() == {"create-user": 1, "update-group": 1}
    assert pairs(scim) == seed_pairs()


def test_a_user_deleted_on_the_provider_is_reported_then_created_again(scim, scim_settings, seed):
    push(scim_settings(seed))
    [marc] = by_external_id(scim)["external:P-2"]
    scim._client.delete(f"{scim.upstream}/Users/{marc['id']}")
    person(seed, "mlefevre")["email"] = "marc@lumiere.example"

    vanished = run_scim(scim_settings(seed), now=T0)
    again = push(scim_settings(seed))

    [error] = vanished.errors
    assert error.record == "person P-2 of customer 10001"
    assert "vanished from the provider" in error.problem
    assert again.counts()["create-user"] == 1
    [recreated] = by_external_id(scim)["external:P-2"]
    assert recreated["emails"][0]["value"] == "marc@lumiere.example"
    assert pairs(scim) == seed_pairs()


def test_the_rate_limit_spaces_the_requests(scim, scim_settings, seed):
    rate = 5  # 200 ms apart: well above the provider's own pace, about 50 ms a request here
    push(scim_settings(seed, scim={"rate_limit": rate}))

    arrivals = [seen.at for seen in scim.seen]
    assert len(arrivals) == 2 + 19  # how many users and groups there are, then the creations
    # The client spaces the moments it sends; on a busy machine one request may reach the
    # proxy late and the next on time, so a single gap can be shorter than 1/rate. The whole
    # run cannot: it spans (n - 1)/rate less the first request's delay, which the slack
    # covers. Unpaced, these 21 requests take about 1 s; paced, at least 4 s.
    assert arrivals[-1] - arrivals[0] >= 0.8 * (len(arrivals) - 1) / rate


def test_a_run_over_the_source_the_last_clean_run_pushed_reads_nothing(
    scim, scim_settings, seed, caplog
):
    first = push(scim_settings(seed))
    seen = len(scim.seen)
    with caplog.at_level("INFO", logger="portal_sync.scim"):
        again = push(scim_settings(seed))
    assert "the last clean SCIM run pushed: nothing to do" in caplog.text
    assert (again.requests, again.errors, scim.seen[seen:]) == ([], [], [])
    assert again.managed == first.managed and again.managed["external"] > 0
    caplog.clear()
    with caplog.at_level("INFO", logger="portal_sync.scim"):
        push(scim_settings(seed), full=True)
    assert "nothing to do" not in caplog.text, "--full reads the source whatever the state says"


def test_an_access_rule_changed_in_the_settings_is_pushed_with_the_source_unchanged(
    scim, scim_settings, seed
):
    next(o for o in seed["orders"] if o["id"] == "_20261122_005")["agency"] = "10002"
    push(scim_settings(seed))
    assert ("jsilva", "order-_20261122_005") not in pairs(scim)
    allowed = {"agency_without_customer_access": True}
    push(scim_settings(seed, rules=allowed))
    assert ("jsilva", "order-_20261122_005") in pairs(scim)
    push(scim_settings(seed))
    assert ("jsilva", "order-_20261122_005") not in pairs(scim)


def test_a_run_with_record_errors_is_no_ground_for_reading_nothing_next_time(
    scim, scim_settings, seed, caplog
):
    del person(seed, "pbraun")["last_name"]
    assert push(scim_settings(seed)).errors
    with caplog.at_level("INFO", logger="portal_sync.scim"):
        push(scim_settings(seed))
    assert "nothing to do" not in caplog.text
