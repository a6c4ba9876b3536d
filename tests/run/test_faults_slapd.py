"""Faults in the middle of an apply: the run fails clearly, the next run converges."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time

import documents
import pytest
from ldap3 import MODIFY_REPLACE, NONE, SUBTREE, Connection, Server

from sync.core.report import Outcome
from sync.ldap.localserver import LocalServer
from sync.run.sync import run_sync
from sync.settings import load_settings

CUSTOMERS, PERSONS = 100, 20
USERS = CUSTOMERS * PERSONS


def big_document(customers=CUSTOMERS, persons=PERSONS):
    return documents.big_document(customers, persons)


def root(server, url=None):
    return Connection(
        Server(url or server.url, get_info=NONE), server.root_dn, server.root_pw, auto_bind=True
    )


def managed_keys(server):
    with root(server) as conn:
        entries = conn.extend.standard.paged_search(
            server.suffix,
            "(businessCategory=portal-sync:*)",
            SUBTREE,
            attributes=["businessCategory"],
            paged_size=500,
            generator=False,
        )
        return [v for e in entries for v in e["attributes"]["businessCategory"]]


def count_users(server):
    with root(server) as conn:
        conn.search(server.suffix, "(uid=user-*)", SUBTREE, attributes=["1.1"], size_limit=0)
        return len(conn.entries)


def settings(server, tmp_path, document, url=None):
    import json

    path = tmp_path / "source.json"
    path.write_text(json.dumps(document))
    return load_settings(
        ldap={
            "url": url or server.url,
            "bind_dn": server.root_dn,
            "bind_password": server.root_pw,
            "base_dn": server.suffix,
            "timeout": 3,
        },
        source={"path": path},
        safety={"max_deletions": 100_000},
        state_dir=tmp_path / "state",
    )


def run_in_background(settings_):
    result = {}
    thread = threading.Thread(target=lambda: result.update(report=run_sync(settings_)))
    thread.start()
    return thread, result


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def assert_converged(server, settings_):
    report = run_sync(settings_)
    assert report.ok and not report.errors, report.to_text(verbose=False)
    keys = [k for k in managed_keys(server) if not k.startswith("portal-sync:disabled-since:")]
    assert len(keys) == len(set(keys)), "an entry exists twice"
    assert run_sync(settings_).changes == []


@pytest.fixture
def server():
    instance = LocalServer()
    instance.start()
    yield instance
    instance.stop()


def test_killing_slapd_mid_apply_fails_the_run_and_the_next_run_converges(server, tmp_path):
    document = big_document()
    first = settings(server, tmp_path, document)
    thread, result = run_in_background(first)
    wait_for(lambda: count_users(server) >= 200)
    server._proc.send_signal(signal.SIGKILL)
    server._proc.wait()
    thread.join(60)
    report = result["report"]
    assert report.outcome is Outcome.UNAVAILABLE and int(report.exit_code) == 3
    assert "unavailable" in report.failure

    server._start_slapd()
    created = count_users(server)
    assert 0 < created < USERS
    with root(server) as conn:
        dn = f"uid=user-0-1,ou=external,{server.suffix}"
        assert conn.modify(dn, {"userPassword": [(MODIFY_REPLACE, ["kept-1"])]})
    assert_converged(server, first)
    assert count_users(server) == USERS
    assert Connection(Server(server.url, get_info=NONE), dn, "kept-1").bind()


class CuttableProxy:
    """A loopback TCP proxy to slapd whose connections can be cut at any moment."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.flowing = threading.Event()
        self.flowing.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.flowing.wait()
                sink.sendall(data)
        except OSError:
            pass

    def hold(self) -> None:
        """Stop forwarding: nothing more reaches either side until the cut."""
        self.flowing.clear()

    def cut(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()
        self.flowing.set()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_cutting_the_connection_mid_apply_fails_the_run_and_the_next_run_converges(
    server, tmp_path
):
    proxy = CuttableProxy(server.port)
    try:
        through_proxy = settings(
            server, tmp_path, big_document(), url=f"ldap://127.0.0.1:{proxy.port}"
        )
        thread, result = run_in_background(through_proxy)
        wait_for(lambda: count_users(server) >= 200)
        proxy.hold()
        proxy.cut()
        thread.join(60)
        report = result["report"]
        assert report.outcome is Outcome.UNAVAILABLE, report.to_text(verbose=False)
        assert 0 < count_users(server) < USERS
        assert_converged(server, through_proxy)
        assert count_users(server) == USERS
    finally:
        proxy.close()
