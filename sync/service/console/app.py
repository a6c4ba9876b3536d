"""The console's web application: Starlette routes, Jinja2 pages, signed sessions.

Sessions live in a cookie signed by itsdangerous (Starlette's session
middleware: HttpOnly, SameSite=Strict, an idle expiry, Secure behind TLS).
Every page but the login page needs a session, and every request asks the
directory again whether its user is still an internal member of the role
group. Every POST carries the session's CSRF token. Directory and source
work runs in Starlette's thread pool on portal connections opened for the
request and closed after it, so nothing of one request is left for the next.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sync.clock import now
from sync.errors import SyncError
from sync.ldap.directory import Directory
from sync.portal.login import Portal
from sync.service.console.lists import PAGE, find_customers, find_orders, find_users, listing
from sync.service.console.pages import SecurityHeaders, folder, templates
from sync.service.console.snapshot import Snapshot, Snapshots
from sync.service.console.staff import (
    REFUSED,
    THROTTLED,
    Attempts,
    EndedSessions,
    NotStaff,
    Staff,
    log_in,
    staff_of,
)
from sync.service.console.views import (
    Disabled,
    Feed,
    customer_page,
    disabled_entries,
    order_page,
    overview,
    user_page,
)
from sync.settings import Settings

log = logging.getLogger("portal_sync.console")

T = TypeVar("T")

COOKIE = "portal_sync_console"


class Console:
    """The console's routes, bound to the daemon's feed and the settings."""

    def __init__(self, settings: Settings, feed: Feed) -> None:
        self.settings = settings
        self.config = settings.console
        self.feed = feed
        self.snapshots = Snapshots(settings)
        self.attempts = Attempts(self.config)
        ended = self.config.ended_sessions or settings.state_dir / "console-ended-sessions.json"
        self.ended = EndedSessions(ended, self.config.session_minutes * 60)
        self.templates = templates()
        key = self.config.secret_key.get_secret_value() or secrets.token_urlsafe(32)
        self.app = Starlette(
            routes=[
                Route("/login", self.login_page, methods=["GET"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"]),
                Route("/", self.overview, methods=["GET"]),
                Route("/users", self.users, methods=["GET"]),
                Route("/users/{login:path}", self.user, methods=["GET"]),
                Route("/orders", self.orders, methods=["GET"]),
                Route("/orders/{order_id:path}", self.order, methods=["GET"]),
                Route("/customers", self.customers, methods=["GET"]),
                Route("/customers/{customer_id:path}", self.customer, methods=["GET"]),
                Route("/sync", self.sync_page, methods=["GET"]),
                Route("/sync", self.sync, methods=["POST"]),
                Mount("/static", StaticFiles(directory=folder("static")), name="static"),
            ],
            exception_handlers={SyncError: self._failed, 404: self._not_found},
            middleware=[
                Middleware(SecurityHeaders),
                Middleware(
                    SessionMiddleware,
                    secret_key=key,
                    session_cookie=COOKIE,
                    max_age=round(self.config.session_minutes * 60),
                    same_site="strict",
                    https_only=self.config.secure_cookie,
                ),
            ],
        )

    async def _failed(self, request: Request, exc: Exception) -> Response:
        """Answer 503: the directory or the source cannot be read; the details go to the log."""
        log.error("console: %s %s failed: %s", request.method, request.url.path, exc)
        return self.templates.TemplateResponse(
            request,
            "failed.html",
            {"staff": None, "csrf": "", "role_group": self.config.role_group},
            status_code=503,
        )

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        """Answer 404 on the console's own page (no route, or an unknown static file)."""
        return self.templates.TemplateResponse(
            request,
            "missing.html",
            {"staff": None, "csrf": "", "what": ""},
            status_code=404,
        )

    def _portal_call(self, work: Callable[[Portal], T]) -> T:
        with Portal.open(self.settings) as portal:
            return work(portal)

    def warm(self) -> None:
        """Read the source and build its index now, so that the first page need not wait."""
        started = time.monotonic()
        if self._snapshot_or_none() is not None:
            log.debug(
                "the console read and indexed the source in %.1f s", time.monotonic() - started
            )

    def _snapshot_or_none(self) -> Snapshot | None:
        """Return the snapshot, or None when the source cannot be read (the overview says so)."""
        try:
            return self.snapshots.current()
        except SyncError as exc:
            log.warning("console: the source cannot be read for the overview: %s", exc)
            return None

    def _disabled(self, snapshot: Snapshot, login: str) -> list[Disabled]:
        with Directory.open(self.settings.ldap) as directory:
            return disabled_entries(directory, self.settings, snapshot.prepared.mapping, login)

    async def _with_portal(self, work: Callable[[Portal], T]) -> T:
        return await run_in_threadpool(self._portal_call, work)

    def _page(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        context = {
            "staff": request.scope.get("staff"),
            "csrf": _csrf(request),
            "role_group": self.config.role_group,
            **context,
        }
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    async def _staff(self, request: Request) -> Staff | Response:
        """Return the session's staff member, checked in the directory now, or a redirect."""
        session = request.session
        login, dn = session.get("login"), session.get("dn")
        if not isinstance(login, str) or not isinstance(dn, str):
            return _to_login(request)
        born = session.get("born")
        lifetime = self.config.session_hours * 3600
        if not isinstance(born, int) or not 0 <= time.time() - born <= lifetime:
            log.info("console session of %r ended: older than console.session_hours", login)
            session.clear()
            return _to_login(request)
        if self.ended.holds(session.get("sid")):
            session.clear()
            return _to_login(request)
        try:
            staff = await self._with_portal(
                lambda portal: staff_of(portal, self.config.role_group, login, dn)
            )
        except NotStaff as exc:
            log.warning("console session of %r ended: %s", login, exc)
            session.clear()
            return _to_login(request)
        session["seen"] = int(time.time())
        request.scope["staff"] = staff
        return staff

    async def _checked_post(self, request: Request) -> dict[str, str] | Response:
        form = await request.form()
        given = form.get("csrf")
        expected = request.session.get("csrf")
        if (
            not isinstance(given, str)
            or not isinstance(expected, str)
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            log.warning(
                "refused %s %s: missing or wrong CSRF token", request.method, request.url.path
            )
            return HTMLResponse("Refused: the form is stale or not ours. Reload the page.", 403)
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def _missing(self, request: Request, what: str) -> Response:
        return self._page(request, "missing.html", {"what": what}, 404)

    async def login_page(self, request: Request) -> Response:
        return self._page(request, "login.html", {"message": "", "login": ""})

    async def _refuse(self, started: float) -> None:
        """Wait until a refused login has taken `console.refusal_seconds` since `started`."""
        await asyncio.sleep(max(0.0, started + self.config.refusal_seconds - time.monotonic()))

    async def login(self, request: Request) -> Response:
        started = time.monotonic()
        form = await self._checked_post(request)
        if isinstance(form, Response):
            return form
        login = form.get("login", "").strip()
        password = form.get("password", "")
        client = request.client.host if request.client else "?"
        if not self.attempts.allowed(login, client):
            log.warning(
                "console login of %r from %s refused: too many failed logins", login, client
            )
            await self._refuse(started)
            return self._page(request, "login.html", {"message": THROTTLED, "login": login}, 429)
        try:
            staff = await self._with_portal(
                lambda portal: log_in(portal, self.config.role_group, login, password)
            )
        except NotStaff as exc:
            self.attempts.failed(login, client)
            log.warning("console login of %r from %s refused: %s", login, client, exc)
            await self._refuse(started)
            return self._page(request, "login.html", {"message": REFUSED, "login": login}, 401)
        request.session.clear()
        request.session.update(
            {
                "login": staff.login,
                "dn": staff.dn,
                "csrf": secrets.token_urlsafe(32),
                "sid": secrets.token_urlsafe(16),
                "born": int(time.time()),
            }
        )
        log.info("console login of %r from %s", staff.login, client)
        return RedirectResponse("/", 303)

    async def logout(self, request: Request) -> Response:
        form = await self._checked_post(request)
        if isinstance(form, Response):
            return form
        self.ended.add(request.session.get("sid"))
        request.session.clear()
        return RedirectResponse("/login", 303)

    async def overview(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        snapshot = await run_in_threadpool(self._snapshot_or_none)
        return self._page(request, "overview.html", {"view": overview(self.feed, snapshot)})

    async def users(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        text = request.query_params.get("q", "")
        snapshot = await run_in_threadpool(self.snapshots.current)
        matches = find_users(snapshot, text)
        if len(matches) == 1 or (text and any(m.login == text for m in matches)):
            login = text if any(m.login == text for m in matches) else matches[0].login
            return RedirectResponse(f"/users/{quote(login, safe='')}", 303)
        return self._page(request, "users.html", {"q": text, "matches": matches})

    async def user(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        login = request.path_params["login"]
        snapshot = await run_in_threadpool(self.snapshots.current)
        disabled = await run_in_threadpool(self._disabled, snapshot, login)
        page = await self._with_portal(lambda portal: user_page(portal, snapshot, login, disabled))
        status = 200 if page.known else 404
        return self._page(request, "user.html", {"page": page, **_names(snapshot)}, status)

    async def orders(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        query = _query(request, "q", "customer", "agency")
        snapshot = await run_in_threadpool(self.snapshots.current)
        text = query.get("q", "")
        if text and snapshot.order(text) is not None:
            return RedirectResponse(f"/orders/{quote(text, safe='')}", 303)
        rows, cut = find_orders(snapshot, query)
        page = listing(rows, _page_number(request), query, "/orders", cut)
        return self._page(
            request, "orders.html", {"list": page, "query": query, **_names(snapshot)}
        )

    async def order(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        order_id = request.path_params["order_id"]
        snapshot = await run_in_threadpool(self.snapshots.current)
        reports = self.feed.history.reports(1)
        last = list(reports[-1].get("errors", [])) if reports else []
        page = await self._with_portal(lambda portal: order_page(portal, snapshot, order_id, last))
        if not page.known:
            return self._missing(request, f"order {order_id}")
        return self._page(request, "order.html", {"page": page, **_names(snapshot)})

    async def customers(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        query = _query(request, "q")
        snapshot = await run_in_threadpool(self.snapshots.current)
        rows, cut = find_customers(snapshot, query.get("q", ""))
        page = listing(rows, _page_number(request), query, "/customers", cut)
        return self._page(request, "customers.html", {"list": page, "query": query})

    async def customer(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        customer_id = request.path_params["customer_id"]
        snapshot = await run_in_threadpool(self.snapshots.current)
        customer = snapshot.customer(customer_id)
        if customer is None:
            return self._missing(request, f"customer {customer_id}")
        page = await self._with_portal(lambda portal: customer_page(portal, snapshot, customer))
        return self._page(request, "customer.html", {"page": page, **_names(snapshot)})

    async def sync(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        form = await self._checked_post(request)
        if isinstance(form, Response):
            return form
        requested = now()
        self.feed.request(f"console: {staff.login}")
        request.session["sync_requested"] = requested.isoformat()
        return RedirectResponse("/sync", 303)

    async def sync_page(self, request: Request) -> Response:
        staff = await self._staff(request)
        if isinstance(staff, Response):
            return staff
        requested = request.session.get("sync_requested")
        result = None
        if isinstance(requested, str):
            asked = datetime.fromisoformat(requested)
            result = next(
                (
                    report
                    for report in self.feed.history.reports(20)
                    if datetime.fromisoformat(report["started"]) >= asked
                ),
                None,
            )
        return self._page(
            request,
            "sync.html",
            {"requested": requested, "result": result, "running": self.feed.running()},
        )


def _query(request: Request, *names: str) -> dict[str, str]:
    """Return the named query parameters that are set, stripped."""
    found = {name: request.query_params.get(name, "").strip() for name in names}
    return {name: value for name, value in found.items() if value}


def _page_number(request: Request) -> int:
    """Return the page asked for (1 when none or not a number)."""
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and 0 < len(text) < 8 else 1


def _names(snapshot: Snapshot) -> dict[str, Any]:
    """Return what the templates need to put names beside ids."""
    return {"customer_of": snapshot.customer, "page_size": PAGE}


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _to_login(request: Request) -> Response:
    return RedirectResponse("/login", 303)
