"""The one place that talks HTTP to a SCIM provider (httpx), and what its answers mean.

Answers are sorted once, here, into what the run does next:

- a refusal of one resource (400 invalidValue/invalidSyntax, 404, 409
  uniqueness) is a `Refused`: the run reports the record and carries on;
- 429 and 503 are waited out as Retry-After says (bounded by
  `scim.max_retry_after`, at most `scim.retries` times);
- 401 fetches a new OAuth2 token once; a second 401, a 403, a server that
  cannot be reached or drops the connection, or any other 5xx is
  `TargetUnavailable`: the run stops, naming the setting to check.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx

from sync import stop
from sync.errors import ConfigurationError, TargetUnavailable
from sync.targets.scim.plan import quoted
from sync.targets.scim.settings import ScimSettings

log = logging.getLogger("portal_sync.scim")

MEDIA_TYPE = "application/scim+json"


class Refused(Exception):
    """The provider refused one request about one resource (the run carries on)."""

    def __init__(self, status: int, scim_type: str, detail: str) -> None:
        super().__init__(f"HTTP {status}{f' {scim_type}' if scim_type else ''}: {detail}")
        self.status = status
        self.scim_type = scim_type
        self.detail = detail


class ScimClient:
    """An open session with one SCIM provider; use as a context manager."""

    def __init__(self, settings: ScimSettings) -> None:
        if not settings.url:
            raise ConfigurationError(f"no SCIM provider is set: set {settings.name_of('url')}")
        self.settings = settings
        self.sent = 0
        """Requests sent, retries included (the benchmark reads it)."""
        verify: Any = str(settings.ca_file) if settings.ca_file else settings.tls_verify
        self._http = httpx.Client(
            base_url=settings.url.rstrip("/") + "/",
            timeout=settings.timeout,
            verify=verify,
            headers={"Accept": MEDIA_TYPE},
        )
        self._token = settings.token.get_secret_value()
        self._fetched = False
        self._next_at = 0.0

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.close()

    def configuration(self) -> dict[str, Any]:
        """Return the provider's /ServiceProviderConfig."""
        return self._json(self._whole("ServiceProviderConfig"))

    def find(self, resource: str, attribute: str, value: str) -> list[dict[str, Any]]:
        """Return the resources whose `attribute` equals `value` (a filter, escaped)."""
        params = {"filter": f"{attribute} eq {quoted(value)}", "count": "2"}
        answer = self._json(self.request("GET", resource, params=params))
        return list(answer.get("Resources") or [])

    def search(self, resource: str, filter_text: str) -> list[dict[str, Any]]:
        """Return every resource a filter selects, page by page (`scim.page_size` per request)."""
        found: list[dict[str, Any]] = []
        while True:
            params = {
                "filter": filter_text,
                "startIndex": str(len(found) + 1),
                "count": str(self.settings.page_size),
            }
            answer = self._json(self.request("GET", resource, params=params))
            page = list(answer.get("Resources") or [])
            found.extend(page)
            if not page or len(found) >= int(answer.get("totalResults") or 0):
                return found

    def total(self, resource: str) -> int:
        """Return how many resources of a type the provider holds (one request, no resource)."""
        answer = self._json(self._whole(resource, {"count": "0"}))
        return int(answer.get("totalResults") or 0)

    def every(self, resource: str) -> list[dict[str, Any]]:
        """Return every resource of a type, page by page (`scim.page_size` per request)."""
        found: list[dict[str, Any]] = []
        while True:
            params = {"startIndex": str(len(found) + 1), "count": str(self.settings.page_size)}
            answer = self._json(self._whole(resource, params))
            page = list(answer.get("Resources") or [])
            found.extend(page)
            if not page or len(found) >= int(answer.get("totalResults") or 0):
                return found

    def _whole(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        """GET what no single record stands behind: a refusal makes the target unusable."""
        try:
            return self.request("GET", path, params=params)
        except Refused as exc:
            raise TargetUnavailable(
                f"the SCIM provider refused GET /{path}: {exc}; "
                f"check {self.settings.name_of('url')}"
            ) from exc

    def get(self, resource: str, id_: str) -> dict[str, Any]:
        """Return one resource by its SCIM id."""
        return self._json(self.request("GET", f"{resource}/{id_}"))

    def create(self, resource: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Create a resource; return it as the provider holds it."""
        return self._json(self.request("POST", resource, body=payload))

    def patch(self, resource: str, id_: str, operations: list[dict[str, Any]]) -> None:
        """Apply PATCH operations to one resource."""
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
        self.request("PATCH", f"{resource}/{id_}", body={**body, "Operations": operations})

    def delete(self, resource: str, id_: str) -> None:
        """Delete one resource; one already gone counts as deleted."""
        try:
            self.request("DELETE", f"{resource}/{id_}")
        except Refused as exc:
            if exc.status != 404:
                raise

    def bulk(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send operations through /Bulk; return the provider's answer per operation."""
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": operations,
        }
        try:
            answer = self._json(self.request("POST", "Bulk", body=body))
        except Refused as exc:
            raise TargetUnavailable(
                f"the SCIM provider refused a /Bulk request of {len(operations)} operations: "
                f"{exc}; turn {self.settings.name_of('bulk')} off if it keeps refusing"
            ) from exc
        return list(answer.get("Operations") or [])

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; wait out 429/503, renew a token on 401, translate the rest."""
        waits = 0
        renewed = False
        while True:
            response = self._send(method, path, body, params)
            status = response.status_code
            if status < 300:
                return response
            if status == 401 and self.settings.oauth and not renewed:
                renewed = True
                self._token = ""
                continue
            if status in (429, 503) and waits < self.settings.retries:
                waits += 1
                self._wait(response)
                continue
            raise self._failure(method, path, response)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, params: dict[str, str] | None
    ) -> httpx.Response:
        self._pace()
        headers = {"Content-Type": MEDIA_TYPE} if body is not None else {}
        token = self._bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.sent += 1
        try:
            return self._http.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise TargetUnavailable(
                f"the SCIM provider at {self.settings.url} did not answer {method} /{path}: "
                f"{exc or type(exc).__name__}; check {self.settings.name_of('url')} and that "
                "the provider is up"
            ) from exc

    def _pace(self) -> None:
        """Keep to `scim.rate_limit` requests per second."""
        if self.settings.rate_limit <= 0:
            return
        delay = self._next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_at = max(self._next_at, time.monotonic()) + 1 / self.settings.rate_limit

    def _bearer(self) -> str:
        if self._token or not self.settings.oauth:
            return self._token
        self._token = self._fetch_token()
        return self._token

    def _fetch_token(self) -> str:
        """Return a new access token from the OAuth2 client-credentials grant."""
        settings = self.settings
        form = {"grant_type": "client_credentials"}
        if settings.scope:
            form["scope"] = settings.scope
        auth = (settings.client_id, settings.client_secret.get_secret_value())
        try:
            response = self._http.post(settings.token_url, data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise TargetUnavailable(
                f"the OAuth2 token endpoint {settings.token_url} did not answer: {exc}; "
                f"check {settings.name_of('token_url')}"
            ) from exc
        try:
            answer = response.json() if response.status_code == 200 else {}
        except ValueError:
            answer = {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TargetUnavailable(
                f"the OAuth2 token endpoint refused the client credentials (HTTP "
                f"{response.status_code}); check {settings.name_of('client_id')} and "
                f"{settings.name_of('client_secret')}"
            )
        return token

    def _wait(self, response: httpx.Response) -> None:
        """Wait as the answer's Retry-After says, within `scim.max_retry_after`."""
        delay = retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        limit = self.settings.max_retry_after
        if delay > limit:
            raise TargetUnavailable(
                f"the SCIM provider is busy (HTTP {response.status_code}) and asks to wait "
                f"{delay:.0f} s, more than {self.settings.name_of('max_retry_after')} ({limit:g} s)"
            )
        log.info("the SCIM provider is busy (HTTP %d): waiting %.1f s", response.status_code, delay)
        if stop.requested.event.wait(delay):
            stop.requested.check()

    def _failure(self, method: str, path: str, response: httpx.Response) -> Exception:
        status = response.status_code
        settings = self.settings
        if status == 401:
            setting = (
                f"{settings.name_of('client_id')} and {settings.name_of('client_secret')}"
                if settings.oauth
                else settings.name_of("token")
            )
            return TargetUnavailable(
                f"the SCIM provider refused the credentials (HTTP 401 on {method} /{path}); "
                f"check {setting}"
            )
        if status == 403:
            return TargetUnavailable(
                f"the SCIM provider forbids {method} /{path} (HTTP 403): give the account of "
                f"{settings.name_of('token')} the right to manage users and groups"
            )
        if status in (429, 503) or status >= 500:
            return TargetUnavailable(
                f"the SCIM provider answered HTTP {status} to {method} /{path}"
                f"{' after retries' if status in (429, 503) else ''}: {_detail(response)}; "
                "the next run goes on from there"
            )
        scim_type = ""
        try:
            answer = response.json()
            scim_type = str(answer.get("scimType") or "")
        except ValueError:
            pass
        return Refused(status, scim_type, _detail(response))

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            answer = response.json()
        except ValueError as exc:
            raise TargetUnavailable(
                f"the SCIM provider answered {response.request.method} {response.request.url} "
                "with something that is not JSON"
            ) from exc
        if not isinstance(answer, dict):
            raise TargetUnavailable(f"the SCIM provider answered {response.request.url} oddly")
        return answer


def retry_after(value: str | None, now: datetime) -> float:
    """Return the seconds a Retry-After header asks to wait (seconds or HTTP date); 1 if none."""
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return 1.0


def _detail(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(answer, dict) and answer.get("detail"):
        return str(answer["detail"])[:300]
    return response.reason_phrase
