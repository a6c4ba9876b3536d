"""The demo: sync the shipped example into a throwaway local slapd and show the result."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sync.core.show import describe_tree
from sync.ldap.directory import Directory
from sync.ldap.flavour import load_mapping
from sync.ldap.localserver import LocalServer
from sync.run.current import read_current
from sync.run.sync import run_sync
from sync.settings import load_settings


def run_demo(source: Path | None = None) -> int:
    """Start slapd, sync twice, print the tree and both reports; return the exit code."""
    example = resources.files("sync.examples").joinpath("seed-scenario.json")
    with resources.as_file(example) as shipped, LocalServer() as server:
        settings = load_settings(
            ldap={
                "url": server.url,
                "bind_dn": server.root_dn,
                "bind_password": server.root_pw,
                "base_dn": server.suffix,
            },
            source={"path": source or shipped},
            state_dir=Path(server.testrundir) / "state",
        )
        print(f"Started a throwaway slapd at {server.url} (base {server.suffix}).")
        print(f"Syncing {settings.source.path} ...\n")
        first = run_sync(settings)
        print(first.to_text(explain=True))
        with Directory.open(settings.ldap) as directory:
            mapping = load_mapping(settings.mapping.path, settings.mapping.values)
            print("\nThe directory now holds:\n")
            print(describe_tree(read_current(directory, settings, mapping), mapping))
        second = run_sync(settings)
        print("\nA second run over the same document:")
        print(second.to_text())
        print("\nStopping slapd; nothing is left behind.")
    return int(first.exit_code)
