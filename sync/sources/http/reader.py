"""The HTTP source: the source document fetched over HTTP(S) with httpx.

The document is the file's format (JSON, or YAML when the URL's path ends
in .yaml/.yml or the server says so), read by the same parser, validation
and quarantine. The server is asked conditionally (`If-None-Match` with the
last ETag, or `If-Modified-Since`): an export that did not change costs one
304 and no rebuild, because the digest of its body is kept in the state
directory next to its ETag. Connection errors, timeouts and 5xx answers are
retried a bounded number of times with a doubling delay; whatever still
fails is a SourceError naming the URL (never its credentials) and the run
stops before anything touches the directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from sync.errors import ConfigurationError, SourceError
from sync.files import write_private
from sync.sources.document import LoadedDocument, load_data, parse_text
from sync.sources.http.settings import HttpSourceSettings

log = logging.getLogger("portal_sync.source")

_CACHE = "http-source.json"
"""File in the state directory: the last answer's validators and the digest of its body."""


@dataclass(frozen=True)
class Answer:
    """What the server answered: a body (None for 304) and its validators."""

    body: bytes | None
    etag: str
    last_modified: str
    yaml: bool = False


class HttpSource:
    """The source document at an HTTP(S) URL."""

    def __init__(
        self,
        settings: HttpSourceSettings,
        max_size: int | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.max_size = max_size
        self.label = _without_credentials(settings.url)
        """The URL as messages name it: without user or password."""
        self._cache_file = state_dir / _CACHE if state_dir else None
        self._fetched: Answer | None = None
        self._failure: SourceError | None = None
        self._watched: Answer | None = None
        self._secrets = [
            secret
            for secret in (settings.token.get_secret_value(), settings.password.get_secret_value())
            if secret
        ]

    def digest(self) -> str:
        """Return the digest of the document now: one conditional request, "" when it fails.

        A 304 to the validators of the last answer gives that answer's
        digest without a body; a 200 keeps the body for `load`.
        """
        cached = self._read_cache()
        try:
            answer = self._get(cached.get("etag", ""), cached.get("last_modified", ""))
        except SourceError as exc:
            self._failure = exc
            return ""
        if answer.body is None:
            return str(cached.get("digest", ""))
        self._fetched = answer
        digest = _digest(answer.body)
        self._write_cache(
            {"etag": answer.etag, "last_modified": answer.last_modified, "digest": digest}
        )
        return digest

    def load(self) -> LoadedDocument:
        """Return the document: the body `digest` fetched, or a fresh unconditional GET."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        answer = self._fetched or self._get("", "")
        self._fetched = None
        assert answer.body is not None
        try:
            text = answer.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self.label}: not UTF-8 text at byte {exc.start}") from exc
        name = self.label + (".yaml" if answer.yaml else "")
        return load_data(parse_text(text, name), self.label)

    def change_token(self) -> str:
        """Return what identifies the document now (its ETag or date); one conditional request."""
        seen = self._watched
        answer = self._get(seen.etag if seen else "", seen.last_modified if seen else "")
        if answer.body is None and seen is not None:
            answer = seen
        self._watched = Answer(None, answer.etag, answer.last_modified)
        if answer.etag or answer.last_modified:
            return f"{answer.etag} {answer.last_modified}"
        return _digest(answer.body or b"")

    def _client(self) -> httpx.Client:
        settings = self.settings
        verify: ssl.SSLContext | bool = settings.tls_verify
        if settings.tls_verify and settings.ca_file is not None:
            try:
                verify = ssl.create_default_context(cafile=str(settings.ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"{settings.name_of('ca_file')}: cannot read the CA file "
                    f"{settings.ca_file}: {exc}"
                ) from exc
        auth: httpx.Auth | None = None
        headers = {"Accept": "application/json, application/yaml;q=0.9, */*;q=0.1"}
        if settings.token.get_secret_value():
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        elif settings.username:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        return httpx.Client(
            verify=verify,
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=True,
        )

    def _get(self, etag: str, last_modified: str) -> Answer:
        """Return the server's answer to one GET, retried on transient failures."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        elif last_modified:
            headers["If-Modified-Since"] = last_modified
        attempts = self.settings.retries + 1
        delay = self.settings.backoff
        with self._client() as client:
            for attempt in range(1, attempts + 1):
                try:
                    return self._fetch(client, headers)
                except _Transient as exc:
                    if attempt == attempts:
                        tries = f" ({attempts} attempts)" if attempts > 1 else ""
                        raise SourceError(
                            self._mask(f"{self.label}: {exc}{tries}; nothing was changed")
                        ) from exc
                    log.warning("%s: %s; trying again in %g s", self.label, exc, delay)
                    time.sleep(delay)
                    delay *= 2
        raise AssertionError("unreachable")

    def _fetch(self, client: httpx.Client, headers: dict[str, str]) -> Answer:
        try:
            with client.stream("GET", self.settings.url, headers=headers) as response:
                return self._answer(response)
        except httpx.TimeoutException as exc:
            raise _Transient(
                f"no answer within {self.settings.timeout:g} s ({type(exc).__name__}); "
                f"raise {self.settings.name_of('timeout')} if the export is that slow"
            ) from exc
        except httpx.RemoteProtocolError as exc:
            raise _Transient(f"the connection broke off: {exc}") from exc
        except httpx.ConnectError as exc:
            reason = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in reason or "mismatch" in reason:
                raise SourceError(
                    self._mask(
                        f"{self.label}: the server's TLS certificate is not trusted: {reason}; "
                        f"set {self.settings.name_of('ca_file')} to the CA that signed it; "
                        "nothing was changed"
                    )
                ) from exc
            raise _Transient(f"cannot connect: {reason}") from exc
        except httpx.HTTPError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc

    def _answer(self, response: httpx.Response) -> Answer:
        status = response.status_code
        etag = response.headers.get("ETag", "")
        modified = response.headers.get("Last-Modified", "")
        if status == 304:
            return Answer(None, etag, modified)
        if status >= 500 or status == 429:
            raise _Transient(f"the server answered {status} {response.reason_phrase}")
        if status in (401, 403):
            raise SourceError(
                f"{self.label}: the server refused the credentials ({status} "
                f"{response.reason_phrase}); check {self.settings.name_of('token')} or "
                f"{self.settings.name_of('username')} and {self.settings.name_of('password')}; "
                "nothing was changed"
            )
        if status != 200:
            raise SourceError(
                f"{self.label}: the server answered {status} {response.reason_phrase}; "
                "nothing was changed"
            )
        body = self._body(response)
        kind = response.headers.get("Content-Type", "").lower()
        yaml = "yaml" in kind or urlsplit(self.settings.url).path.endswith((".yaml", ".yml"))
        return Answer(body, etag, modified, yaml)

    def _body(self, response: httpx.Response) -> bytes:
        """Return the body, refusing one above the size limit before reading the rest."""
        limit = self.max_size
        announced = response.headers.get("Content-Length", "")
        if limit is not None and announced.isdigit() and int(announced) > limit:
            raise SourceError(self._too_large(int(announced)))
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if limit is not None and size > limit:
                raise SourceError(self._too_large(size))
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, size: int) -> str:
        return (
            f"{self.label}: the answer has {size:,} bytes or more, above the limit of "
            f"{self.max_size:,} bytes (source.max_size); nothing was read further"
        )

    def _mask(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message

    def _read_cache(self) -> dict[str, Any]:
        if self._cache_file is None:
            return {}
        try:
            data = json.loads(self._cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("url") != self.label:
            return {}
        return data

    def _write_cache(self, values: dict[str, str]) -> None:
        if self._cache_file is None:
            return
        try:
            write_private(self._cache_file, json.dumps({"url": self.label, **values}))
        except OSError as exc:
            log.warning("cannot keep the HTTP source's validators in %s: %s", self._cache_file, exc)


class _Transient(Exception):
    """A failure worth another attempt: no connection, a timeout, a broken answer, a 5xx."""


def _digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _without_credentials(url: str) -> str:
    """Return the URL without the user and password it may carry."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
