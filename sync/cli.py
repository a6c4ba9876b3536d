"""The `portal-sync` command line."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sync.document import SourceError
from sync.errors import ConfigurationError, DirectoryError, DirectoryUnavailable, LockBusy
from sync.logs import configure_logging
from sync.mapping import MappingError
from sync.model import json_schema
from sync.report import ExitCode, Report
from sync.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal-sync",
        description="Keep an LDAP directory in step with a print shop's customer structure.",
        epilog="Exit codes: 0 success, 1 success with record errors, 2 configuration or usage "
        "error, 3 directory unavailable or refused, 4 source document unreadable, 5 held by the "
        "deletion guard, 6 another run holds the run lock.",
    )
    parser.add_argument("--config", type=Path, help="TOML settings file (or PORTAL_SYNC_CONFIG)")
    parser.add_argument(
        "--log-level", help="DEBUG, INFO, WARNING, ERROR (default: settings, else WARNING)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="sync the directory once")
    run.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument("--source", type=Path, help="source document (overrides settings)")
    run.add_argument(
        "--allow-deletions",
        type=int,
        metavar="N",
        help="approve up to N deletions/disables past the deletion guard",
    )
    run.add_argument(
        "--wait", type=float, help="seconds to wait for the run lock (default: lock.wait)"
    )
    run.add_argument(
        "--full",
        action="store_true",
        help="full reconciliation: read every managed entry, not only what changed",
    )
    run.add_argument(
        "--ldif",
        type=Path,
        metavar="FILE",
        help="with --dry-run: write the plan as LDIF change records to FILE ('-' for stdout)",
    )

    check = commands.add_parser("check", help="validate settings and source, test the bind")
    check.add_argument("--source", type=Path, help="source document (overrides settings)")

    commands.add_parser("schema", help="print the JSON Schema of the source document")

    commands.add_parser("daemon", help="sync on a schedule, on change and on request; serve HTTP")

    status = commands.add_parser("status", help="print the last run reports")
    status.add_argument("--json", action="store_true", help="print them as JSON")
    status.add_argument("--limit", type=int, default=10, help="how many (default 10)")

    demo = commands.add_parser("demo", help="sync the example into a throwaway local slapd")
    demo.add_argument("--source", type=Path, help="source document (default: shipped example)")

    access = commands.add_parser("access", help="who may open what, as the directory says")
    access.add_argument("what", choices=["user", "order"], help="ask about a user or an order")
    access.add_argument("name", help="the user's login or the order's ID")
    access.add_argument(
        "--compare", action="store_true", help="compare with the source rules; exit 1 on drift"
    )
    access.add_argument("--source", type=Path, help="source document (overrides settings)")

    login = commands.add_parser(
        "login", help="log in as a portal does (asks for the password) and show the outcome"
    )
    login.add_argument("login", help="the user's login")
    return parser


def _settings(args: argparse.Namespace, log_level: str = "WARNING") -> Settings:
    overrides = {}
    if getattr(args, "source", None):
        overrides["source"] = {"path": args.source}
    settings = load_settings(args.config, **overrides)
    _logging(args, settings, log_level)
    return settings


def _logging(args: argparse.Namespace, settings: Settings, default: str = "WARNING") -> None:
    level = args.log_level or settings.logging.level or default
    secrets = [
        settings.ldap.bind_password.get_secret_value(),
        settings.portal.bind_password.get_secret_value(),
        settings.http.token.get_secret_value(),
    ]
    try:
        configure_logging(level, settings.logging.format, secrets)
    except ValueError as exc:
        raise ConfigurationError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING") from exc


def _run(args: argparse.Namespace) -> int:
    from sync.history import History
    from sync.lock import RunLock, locked_run
    from sync.run import run_sync

    if args.ldif and not args.dry_run:
        print("portal-sync: --ldif needs --dry-run", file=sys.stderr)
        return int(ExitCode.CONFIGURATION)
    settings = _settings(args)
    if args.dry_run:
        report = run_sync(
            settings, dry_run=True, allow_deletions=args.allow_deletions, full=args.full
        )
        if args.ldif and (report.ok or report.changes):
            _write_ldif(args.ldif, report)
    else:
        wait = settings.lock.wait if args.wait is None else args.wait
        try:
            report = locked_run(
                RunLock(settings),
                settings,
                wait,
                allow_deletions=args.allow_deletions,
                full=args.full,
            )
        except LockBusy as exc:
            print(f"portal-sync: not started: {exc}", file=sys.stderr)
            return int(ExitCode.LOCKED)
        History(settings.state_dir, settings.history.keep).record(report)
    text = report.to_json() if args.json else report.to_text()
    print(text, file=sys.stderr if args.ldif == Path("-") else sys.stdout)
    return int(report.exit_code)


def _write_ldif(path: Path, report: Report) -> None:
    from sync.ldif import ldif

    if path == Path("-"):
        sys.stdout.writelines(ldif(report.changes))
        return
    with path.open("w", encoding="utf-8") as stream:
        stream.writelines(ldif(report.changes))


def _daemon(args: argparse.Namespace) -> int:
    from sync.daemon import run_daemon

    return run_daemon(_settings(args, log_level="INFO"))


def _status(args: argparse.Namespace) -> int:
    from sync.history import History, describe
    from sync.lock import FileLock

    settings = _settings(args)
    reports = History(settings.state_dir, settings.history.keep).reports(args.limit)
    if args.json:
        print(json.dumps(reports, indent=2, ensure_ascii=False))
        return int(ExitCode.SUCCESS)
    if not reports:
        print(f"no run recorded in {settings.state_dir / 'history'}")
    else:
        print("\n".join(describe(report) for report in reports))
    lock = FileLock(settings.state_dir / "run.lock")
    print(f"a run is in progress ({lock.holder()})" if lock.busy() else "no run in progress")
    return int(ExitCode.SUCCESS)


def _check(args: argparse.Namespace) -> int:
    from sync.directory import Directory
    from sync.run import prepare

    settings = _settings(args)
    print(f"settings: ok (directory {settings.ldap.url}, base {settings.ldap.base_dn})")
    prepared = prepare(settings)
    print(
        f"source: ok ({settings.source.path}: {len(prepared.desired.entries)} entries wanted, "
        f"{len(prepared.errors)} record error(s))"
    )
    for error in prepared.errors:
        print(f"  {error}")
    print(f"mapping: ok ({prepared.mapping.origin})")
    with Directory.open(settings.ldap) as directory:
        directory.require_base(settings.ldap.base_dn)
    print(f"directory: ok (bound as {settings.ldap.bind_dn or 'anonymous'}, base DN exists)")
    _check_portal(settings)
    return int(ExitCode.RECORD_ERRORS if prepared.errors else ExitCode.SUCCESS)


def _check_portal(settings: Settings) -> None:
    """Print how the connection is protected, and bind as the portal account when set."""
    from sync.directory import Directory
    from sync.portal import portal_ldap

    ldap = settings.ldap
    if ldap.uses_tls:
        how = "StartTLS" if ldap.start_tls else "ldaps"
        checked = "certificate checked" if ldap.tls_verify else "certificate NOT checked"
        print(f"tls: {how}, {checked} ({ldap.ca_file or 'system CAs'})")
    else:
        print("tls: none: passwords cross the network in clear; use ldaps:// or start_tls")
    if settings.portal.bind_dn:
        with Directory.open(portal_ldap(settings)):
            print(f"portal account: ok (bound as {settings.portal.bind_dn})")


def _access(args: argparse.Namespace) -> int:
    from sync.access import compare_order, compare_user, describe_order, describe_user
    from sync.portal import LoginRefused, Portal
    from sync.run import prepare

    settings = _settings(args)
    prepared = prepare(settings) if args.compare else None
    with Portal.open(settings) as portal:
        if args.what == "user":
            try:
                user = portal.user(args.name)
            except LoginRefused:
                user = None
            lines = describe_user(user) if user else [f"no user with login {args.name!r}"]
            known = user is not None
            if prepared is not None:
                difference = compare_user(portal, prepared.desired, args.name, user)
        else:
            answer = portal.order_members(args.name)
            if answer is None:
                lines = [f"no group for order {args.name!r}: nobody outside the shop may open it"]
            else:
                lines = describe_order(args.name, *answer)
            known = answer is not None
            if prepared is not None:
                difference = compare_order(portal, prepared.desired, args.name)
    print("\n".join(lines))
    if prepared is None:
        return int(ExitCode.SUCCESS if known else ExitCode.RECORD_ERRORS)
    what = f"orders of {args.name}" if args.what == "user" else f"users of order {args.name}"
    print("\n".join(difference.lines(what)))
    return int(ExitCode.SUCCESS if difference.none else ExitCode.RECORD_ERRORS)


def _login(args: argparse.Namespace) -> int:
    from sync.access import describe_user
    from sync.portal import LoginRefused, Portal

    settings = _settings(args)
    password = getpass.getpass(f"password for {args.login}: ")
    with Portal.open(settings) as portal:
        try:
            user = portal.authenticate(args.login, password)
        except LoginRefused:
            print(f"login refused for {args.login!r}: unknown login or wrong password")
            return int(ExitCode.RECORD_ERRORS)
    print("login accepted: the directory accepted the password (bind as the user)")
    print("\n".join(describe_user(user)))
    return int(ExitCode.SUCCESS)


def _demo(args: argparse.Namespace) -> int:
    from sync.demo import run_demo

    return run_demo(args.source)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        configure_logging(args.log_level or "WARNING")
    except ValueError:
        print(f"portal-sync: unknown log level {args.log_level!r}", file=sys.stderr)
        return int(ExitCode.CONFIGURATION)
    try:
        if args.command == "schema":
            print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
            return int(ExitCode.SUCCESS)
        handler = {
            "run": _run,
            "check": _check,
            "demo": _demo,
            "daemon": _daemon,
            "status": _status,
            "access": _access,
            "login": _login,
        }[args.command]
        return handler(args)
    except SourceError as exc:
        print(f"portal-sync: {exc}", file=sys.stderr)
        return int(ExitCode.SOURCE)
    except (ConfigurationError, MappingError) as exc:
        print(f"portal-sync: configuration error: {exc}", file=sys.stderr)
        return int(ExitCode.CONFIGURATION)
    except (DirectoryUnavailable, DirectoryError) as exc:
        print(f"portal-sync: {exc}", file=sys.stderr)
        return int(ExitCode.UNAVAILABLE)
