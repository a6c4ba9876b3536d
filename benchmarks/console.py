"""Time the console's pages on a shop of a generated size, synced into a fresh slapd.

    .venv/bin/python -m benchmarks.console --size M

The shop is synced once with `portal-sync run`; then the console's
application runs in this process (Starlette's test client, no socket) with
a session cookie signed by its key for an internal user of the role group,
the same check of the directory on every request as in the daemon. Each
page is asked for `--repeat` times; the table gives the median and the
slowest time and the size of the HTML. The load average is printed before
and after: on a shared machine the times depend on it, the sizes do not.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itsdangerous import TimestampSigner
from starlette.testclient import TestClient

from benchmarks.generate import generate
from benchmarks.run import settings_env, shop_beside_slapd
from sync.ldap.localserver import LocalServer
from sync.portal.login import Portal
from sync.service.console.app import COOKIE, Console
from sync.service.console.views import Feed
from sync.service.health import Health
from sync.service.history import History
from sync.settings import load_settings

KEY = "benchmark-console-key"


def environment(slapd: LocalServer, source: Path, state: Path) -> dict[str, str]:
    """Return the settings of a run and of the console against the benchmark's slapd."""
    return {**settings_env(slapd, source, state), "PORTAL_SYNC_CONSOLE__SECRET_KEY": KEY}


def cookie(login: str, dn: str) -> str:
    """Return a session cookie the console accepts for this staff member."""
    data = {
        "login": login,
        "dn": dn,
        "csrf": secrets.token_urlsafe(32),
        "sid": secrets.token_urlsafe(16),
        "born": int(time.time()),
    }
    payload = base64.b64encode(json.dumps(data).encode())
    return TimestampSigner(KEY).sign(payload).decode()


def pages(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the pages to time: lists, searches, and the records a shop looks up most."""
    orders = document["orders"]
    customers = {c["id"]: c for c in document["customers"]}
    remote = {i for i, c in customers.items() if c.get("remote_access")}
    visible = [o for o in orders if o.get("portal_visible") and o["customer"] in remote]
    busiest = Counter(o["customer"] for o in visible).most_common(1)[0][0]
    agencies = Counter(o["agency"] for o in visible if o.get("agency") in remote).most_common(1)
    ordered = [o for o in visible if o["customer"] == busiest]
    order = next((o for o in ordered if o.get("agency")), ordered[0])
    person = _user_of(customers[busiest])
    word = customers[busiest]["name"].split()[0]
    found = [
        ("overview", "/"),
        ("orders, page 1", "/orders"),
        ("orders, page 2000", "/orders?page=2000"),
        ("orders, search: a word of customer names", f"/orders?q={word}"),
        ("orders, search: a login", f"/orders?q={person['account']['login']}"),
        ("orders, search: part of an order id", f"/orders?q={order['id'][:6]}"),
        ("order of the busiest customer", f"/orders/{order['id']}"),
        ("customers, page 1", "/customers"),
        ("customers, search: a person's surname", f"/customers?q={person['last_name']}"),
        ("the busiest customer", f"/customers/{busiest}"),
        ("users, search: a surname", f"/users?q={person['last_name']}"),
        ("a customer's user", f"/users/{person['account']['login']}"),
    ]
    if agencies:  # a small shop may have no agency working on a visible order
        agency = agencies[0][0]
        login = _user_of(customers[agency])["account"]["login"]
        found.insert(10, ("the busiest agency", f"/customers/{agency}"))
        found.append(("a user of the busiest agency", f"/users/{login}"))
    return found


def _user_of(customer: dict[str, Any]) -> dict[str, Any]:
    """Return the first person of a customer with an enabled account."""
    return next(
        p for p in customer["persons"] if p.get("account") and p["account"].get("enabled", True)
    )


def load() -> str:
    """Return the load average of the last 1, 5 and 15 minutes."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    """Generate, sync, then time each page and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()

    print(f"load average at the start: {load()}", flush=True)
    document = generate(arguments.size, arguments.seed)
    admin = next(u for u in document["internal_users"] if "Administrators" in u["groups"])
    counts = {part: len(document[part]) for part in ("customers", "orders", "internal_users")}
    print(f"size {arguments.size}: {counts}", flush=True)
    with shop_beside_slapd(document, "console-bench-") as (work, slapd):
        source = work / "source.json"
        env = environment(slapd, source, work / "state")
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "sync", "run"],
            env={**os.environ, **env},
            check=False,
            capture_output=True,
            text=True,
        )
        summary = run.stdout.splitlines()[0] if run.stdout else run.stderr[-500:]
        took = time.perf_counter() - started
        print(f"initial sync: {took:.1f} s, exit {run.returncode}: {summary}", flush=True)
        os.environ.update(env)
        settings = load_settings()
        feed = Feed(
            lambda: Health(True, "benchmark"),
            History(settings.state_dir, 10),
            lambda why: None,
            lambda: datetime.now(UTC),
            lambda: False,
        )
        console = Console(settings, feed)
        started = time.perf_counter()
        console.warm()
        print(f"source read and indexed: {time.perf_counter() - started:.1f} s", flush=True)
        with Portal.open(settings) as portal:
            dn, _ = portal.find(admin["login"])
        client = TestClient(console.app, base_url="http://console")
        client.cookies.set(COOKIE, cookie(admin["login"], dn))
        print("| page | status | median ms | slowest ms | HTML bytes |")
        print("| --- | --- | ---: | ---: | ---: |")
        for name, path in pages(document):
            times, size, status = [], 0, 0
            for _ in range(arguments.repeat):
                begun = time.perf_counter()
                answer = client.get(path, follow_redirects=False)
                times.append((time.perf_counter() - begun) * 1000)
                size, status = len(answer.content), answer.status_code
            if os.environ.get("CONSOLE_BENCH_PAGES"):
                saved = Path(os.environ["CONSOLE_BENCH_PAGES"])
                saved.mkdir(parents=True, exist_ok=True)
                (saved / f"{name.replace(' ', '_').replace('/', '_')}.html").write_bytes(
                    answer.content
                )
            print(
                f"| {name} | {status} | {statistics.median(times):.0f} | "
                f"{max(times):.0f} | {size:,} |",
                flush=True,
            )
    print(f"load average at the end: {load()}", flush=True)


if __name__ == "__main__":
    main()
