"""The `portal-sync` command line.

A command imports what it uses, when it runs: `--version` and `--help` load
argparse and this module only, not pydantic, the core or the settings; each
command's function imports its own rooms (and through them ldap3, SQLAlchemy,
httpx, APScheduler or the console) in its body. tests/test_startup_imports.py
holds that line; docs/performance.md ("Start-up") has the figures.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync import stop

if TYPE_CHECKING:
    from sync.core.report import Report
    from sync.portal.login import Portal
    from sync.settings import Settings

EXIT_PIPE = 141
"""Exit code when the reader of the output went away (`| head`): 128 + SIGPIPE, as a shell."""

_EXIT_CODES = {
    0: "success",
    1: "success, but some source records were skipped (each named in the report)",
    2: "configuration or usage error: settings, mapping, bind refused, base DN missing, rights",
    3: "the directory is unavailable, or refused the run",
    4: "the source cannot be read (file, database or HTTP); nothing was changed",
    5: "held by the deletion guard: nothing was applied (review, then --allow-deletions N)",
    6: "not started: another run holds the run lock",
    7: "the SCIM provider is unavailable, refused the credentials or stayed busy "
    "(docs/scim.md); what it confirmed is recorded, the next run goes on from there",
    143: "stopped by SIGTERM: the report and history say interrupted, the lease is freed; "
    "the next run goes on from there",
    EXIT_PIPE: "the output was cut off by its reader (e.g. | head); the run itself is unaffected",
}
_SETTINGS_NOTE = (
    "Settings come from PORTAL_SYNC_<GROUP>__<FIELD> variables, .env, the secrets directory\n"
    "and the TOML file of --config (or PORTAL_SYNC_CONFIG); see the README for every setting.\n"
    "A setting nobody knows (a typo) is an error (exit 2)."
)


def _epilog(
    settings: str, examples: list[str], codes: list[int | tuple[int, str]], more: str = ""
) -> str:
    """Return the help text after the options: settings read, examples, exit codes."""
    lines = ["settings read:", *(f"  {line}" for line in settings.splitlines())]
    if not settings.startswith("none"):
        lines.append("  (ldap.url is PORTAL_SYNC_LDAP__URL, or url in [ldap] of the --config file)")
    lines += ["", "examples:", *(f"  {example}" for example in examples), "", "exit codes:"]
    for code in codes:
        number, meaning = code if isinstance(code, tuple) else (code, _EXIT_CODES[code])
        lines.append(f"  {number:<3} {meaning}")
    if more:
        lines += ["", more]
    return "\n".join(lines)


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    epilog: str,
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


_RUN_SETTINGS = (
    "ldap.* (directory, service account, TLS), source.* (kind, path, max_size, sql.*, http.*),\n"
    "mapping.path, layout.*, safety.*, passwords.*, performance.*, lock.*, state_dir,\n"
    "history.keep, logging.*, targets, scim.* (docs/scim.md)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal-sync",
        description="Keep an LDAP directory in step with a print shop's customer structure:\n"
        "staff and customer users, a group per customer and per order visible on the portal.",
        epilog=_epilog(
            _SETTINGS_NOTE,
            [
                "portal-sync --config /etc/portal-sync/portal-sync.toml check",
                "portal-sync run --dry-run",
                "portal-sync run",
                "portal-sync <command> --help",
            ],
            sorted(_EXIT_CODES),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print the version")
    parser.add_argument("--config", type=Path, help="TOML settings file (or PORTAL_SYNC_CONFIG)")
    parser.add_argument(
        "--log-level", help="DEBUG, INFO, WARNING, ERROR (default: settings, else WARNING)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _command(
        commands,
        "run",
        "sync the directory once",
        "Sync the directory once: read and check the source document, build the entries the\n"
        "directory should hold, read the managed entries, apply the difference, print a report.\n"
        "The source is read and checked before anything touches the directory. On a terminal\n"
        "the progress shows on stderr. The report goes to stdout; a run that stopped before it\n"
        "could plan (exit 2, 3, 4, 6) says why on stderr.",
        _epilog(
            _RUN_SETTINGS,
            [
                "portal-sync run --dry-run            # print the plan, change nothing",
                "portal-sync run --dry-run --explain  # ... and why records have no entry",
                "portal-sync run --json | jq .counts",
                "portal-sync run --allow-deletions 120",
                "portal-sync run --dry-run --ldif plan.ldif",
            ],
            [0, 1, 2, 3, 4, 5, 6, 7, 143],
        ),
    )
    run.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument(
        "--explain",
        action="store_true",
        help="list every record the rules left without an entry, and why",
    )
    run.add_argument(
        "--source",
        help="source document path, or an http(s):// or database URL (overrides settings)",
    )
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

    check = _command(
        commands,
        "check",
        "validate settings and source, test the bind",
        "Check everything a run needs without changing anything: the settings, the mapping,\n"
        "the source document (with its record errors), the connection and bind, the base DN,\n"
        "how TLS protects the connection, and the portal's account when one is set.\n"
        "When ldap.url lists several servers: whether each one binds and holds the base DN.",
        _epilog(
            "ldap.*, source.* (kind, path, max_size, sql.*, http.*), mapping.path, layout.*,\n"
            "portal.*, logging.*",
            [
                "portal-sync check",
                "portal-sync --config /etc/portal-sync/portal-sync.toml check --source new.json",
                "portal-sync check --source https://mis.example/export/customers.json",
            ],
            [
                (0, "everything a run needs is in order"),
                (1, "in order, but some source records would be skipped (each named)"),
                2,
                3,
                4,
                7,
            ],
        ),
    )
    check.add_argument(
        "--source",
        help="source document path, or an http(s):// or database URL (overrides settings)",
    )

    _command(
        commands,
        "schema",
        "print the JSON Schema of the source document",
        "Print the JSON Schema (draft 2020-12) of the source document, format version 1,\n"
        "for the export of the workflow system to be checked against.",
        _epilog(
            "none",
            ["portal-sync schema > portal-sync.schema.json"],
            [0, EXIT_PIPE],
        ),
    )

    _command(
        commands,
        "daemon",
        "sync on a schedule, on change and on request; serve HTTP",
        "Run the same sync as `portal-sync run` unattended: once at start, then on the\n"
        "schedule, within about a second of a change to the source file, and on POST /sync.\n"
        "Serves /healthz and /metrics, retries failed runs with capped backoff, logs a\n"
        "progress line every logging.progress_interval seconds during a long run, and lets\n"
        "the run in progress finish on SIGTERM (see docs/daemon.md).",
        _epilog(
            _RUN_SETTINGS + ",\nschedule.*, http.*",
            [
                "portal-sync --config /etc/portal-sync/portal-sync.toml daemon",
                "systemctl start portal-sync   # config/portal-sync.service",
            ],
            [
                (0, "stopped by SIGTERM or SIGINT"),
                (2, "cannot start: settings, mapping, HTTP address in use"),
            ],
            "A failed run does not stop the daemon: it is logged, reported by /healthz and\n"
            "retried with capped backoff.",
        ),
    )

    status = _command(
        commands,
        "status",
        "print the last run reports",
        "Print the last run reports kept in the state directory (time, outcome, duration,\n"
        "counts, record errors) and whether a run is in progress.",
        _epilog(
            "state_dir, history.keep",
            ["portal-sync status", "portal-sync status --json --limit 50"],
            [0, 2, EXIT_PIPE],
        ),
    )
    status.add_argument("--json", action="store_true", help="print them as JSON")
    status.add_argument("--limit", type=int, default=10, help="how many (default 10)")

    demo = _command(
        commands,
        "demo",
        "sync the example into a throwaway local slapd",
        "Start a throwaway OpenLDAP server, sync the shipped example customer structure into\n"
        "it twice, print the reports, the resulting tree and why some records have no entry,\n"
        "then stop the server. Needs slapd installed; touches no other directory.",
        _epilog(
            "none of the settings file; the demo sets its own directory and state",
            ["portal-sync demo", "portal-sync demo --source my-export.json"],
            [0, 1, 2, 3, 4],
        ),
    )
    demo.add_argument("--source", type=Path, help="source document (default: shipped example)")

    access = _command(
        commands,
        "access",
        "who may open what, as the directory says",
        "Ask the directory, with the portal's account, what a portal would answer: a user's\n"
        "kind, customer, groups and the orders they may open (and why), or everyone who may\n"
        "open an order. --compare checks the answer against the rules applied to the source.",
        _epilog(
            "ldap.*, portal.bind_dn, portal.bind_password, layout.*, mapping.path;\n"
            "with --compare also source.path, source.max_size",
            [
                "portal-sync access user cdubois",
                "portal-sync access order _20261120_001 --compare",
                "portal-sync access user cdubois --target scim",
            ],
            [
                (0, "the user or order exists (and, with --compare, agrees with the rules)"),
                (1, "unknown login or order, or drift found by --compare"),
                2,
                3,
                (4, "with --compare: the source document cannot be read"),
                7,
            ],
        ),
    )
    access.add_argument("what", choices=["user", "order"], help="ask about a user or an order")
    access.add_argument("name", help="the user's login or the order's ID")
    access.add_argument(
        "--compare", action="store_true", help="compare with the source rules; exit 1 on drift"
    )
    access.add_argument("--source", type=Path, help="source document (overrides settings)")
    access.add_argument(
        "--target",
        choices=["ldap", "scim"],
        help="ask the directory (ldap) or the SCIM provider (scim); default: the first of targets",
    )

    login = _command(
        commands,
        "login",
        "log in as a portal does (asks for the password) and show the outcome",
        "Log a user in the way a portal does: find the user with the portal's account, bind\n"
        "as the user with the password (asked on the terminal, or read from stdin with\n"
        "--password-stdin; never an argument), then read the user's groups and the orders\n"
        "they may open.",
        _epilog(
            "ldap.*, portal.bind_dn, portal.bind_password, layout.*, mapping.path",
            [
                "portal-sync login cdubois",
                "pass show portal/cdubois | portal-sync login cdubois --password-stdin",
            ],
            [
                (0, "the directory accepted the login"),
                (1, "the login was refused: unknown login or wrong password"),
                2,
                3,
            ],
        ),
    )
    login.add_argument("login", help="the user's login")
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (for scripts) instead of asking",
    )
    return parser


class _Version(argparse.Action):
    """Print the version and exit, as argparse's "version" action, reading it only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    """Return the installed package's version."""
    from importlib import metadata

    try:
        return metadata.version("portal-sync")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _settings(args: argparse.Namespace, log_level: str = "WARNING") -> Settings:
    from sync.settings import load_settings

    overrides = {}
    if getattr(args, "source", None):
        from sync.sources.reader import source_override

        overrides["source"] = source_override(str(args.source))
    settings = load_settings(args.config, given_by="--source", **overrides)
    _logging(args, settings, log_level)
    return settings


def _logging(args: argparse.Namespace, settings: Settings, default: str = "WARNING") -> None:
    from sync.errors import ConfigurationError
    from sync.logs import configure_logging
    from sync.settings import secret_values

    level = args.log_level or settings.logging.level or default
    secrets = secret_values(settings)
    try:
        configure_logging(level, settings.logging.format, secrets)
    except ValueError as exc:
        raise ConfigurationError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING") from exc


def _run(args: argparse.Namespace) -> int:
    from sync.core.report import ExitCode
    from sync.errors import LockBusy
    from sync.progress import progress_for
    from sync.service.history import History
    from sync.targets import target

    if args.ldif and not args.dry_run:
        print("portal-sync: --ldif needs --dry-run", file=sys.stderr)
        return int(ExitCode.CONFIGURATION)
    settings = _settings(args)
    options = {"allow_deletions": args.allow_deletions, "full": args.full, "explain": args.explain}
    reports: dict[str, Report] = {}
    busy = ""
    with progress_for(sys.stderr) as progress, _stopped_by_sigterm(dry_run=args.dry_run):
        for kind in settings.targets:
            chosen = target(kind)
            if args.dry_run:
                reports[kind] = chosen.run(settings, dry_run=True, progress=progress, **options)
                continue
            wait = settings.lock.wait if args.wait is None else args.wait
            try:
                reports[kind] = chosen.locked(
                    settings, wait, stop.requested.event, progress=progress, **options
                )
            except LockBusy as exc:
                busy = f"portal-sync: not started: {exc}"
                break
    if busy and not reports:
        print(busy, file=sys.stderr)
        return int(ExitCode.LOCKED)
    ldap = reports.get("ldap")
    if args.dry_run and args.ldif and ldap is not None and (ldap.ok or ldap.changes):
        _write_ldif(args.ldif, ldap)
    if not args.dry_run:
        history = History(settings.state_dir, settings.history.keep)
        for report in reports.values():
            history.record(report)
    if args.json and len(reports) > 1:
        import json

        joined = {kind: report.to_dict() for kind, report in reports.items()}
        print(json.dumps(joined, indent=2, ensure_ascii=False))
        for report in reports.values():
            if report.failure is not None:
                print(f"portal-sync: {report.outcome.value}: {report.failure}", file=sys.stderr)
    else:
        for report in reports.values():
            _print_report(report, args)
    if busy:
        print(busy, file=sys.stderr)
        return int(ExitCode.LOCKED)
    return int(_exit_code(list(reports.values())))


def _exit_code(reports: list[Report]) -> int:
    """Return the exit code of runs of several targets: that of the first that did not succeed."""
    from sync.core.report import ExitCode

    codes = [report.exit_code for report in reports]
    stopped = [code for code in codes if code not in (ExitCode.SUCCESS, ExitCode.RECORD_ERRORS)]
    if stopped:
        return int(stopped[0])
    return int(ExitCode.RECORD_ERRORS if ExitCode.RECORD_ERRORS in codes else ExitCode.SUCCESS)


@contextmanager
def _stopped_by_sigterm(*, dry_run: bool) -> Iterator[None]:
    """Turn SIGTERM during the run into a stop at the run's next safe point.

    The handler only asks for the stop (`sync.stop`); the run ends with
    Interrupted where stopping is safe (before it connects, after it read
    the source, between write stages, while waiting for the lock), never
    inside a connection, the lease's release or the report. Changes already
    written stay; the report and history say "interrupted" and the exit
    code is 143. A second SIGTERM kills the process at once.
    """
    if dry_run:
        reason = "SIGTERM: the dry run stopped; nothing was written to the directory"
    else:
        reason = (
            "SIGTERM: the run lease is freed; the changes written so far stay, the rest "
            "waits for the next run (accounts added without their initial password get it then)"
        )

    def interrupt(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        stop.requested.request(reason)

    stop.requested.clear()
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop.requested.clear()


def _print_report(report: Report, args: argparse.Namespace) -> None:
    """Print the report: the result on stdout, why a run stopped on stderr.

    A run that stopped before it could plan (exit 2, 3, 4) has no result:
    its text report goes to stderr, like every other error. JSON always goes
    to stdout for programs, with the reason on stderr as well.
    """
    from sync.core.report import ExitCode

    stopped = report.failure is not None and report.exit_code is not ExitCode.DELETION_GUARD
    if args.json:
        print(report.to_json(), file=sys.stderr if args.ldif == Path("-") else sys.stdout)
        if stopped:
            print(f"portal-sync: {report.outcome.value}: {report.failure}", file=sys.stderr)
        return
    text = report.to_text(explain=args.explain)
    print(text, file=sys.stderr if stopped or args.ldif == Path("-") else sys.stdout)


def _write_ldif(path: Path, report: Report) -> None:
    from sync.core.ldif import ldif

    if path == Path("-"):
        sys.stdout.writelines(ldif(report.changes))
        return
    with path.open("w", encoding="utf-8") as stream:
        stream.writelines(ldif(report.changes))


def _daemon(args: argparse.Namespace) -> int:
    from sync.service.daemon import run_daemon

    return run_daemon(_settings(args, log_level="INFO"))


def _status(args: argparse.Namespace) -> int:
    import json

    from sync.core.report import ExitCode
    from sync.run.lock import FileLock
    from sync.service.history import History, describe

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
    from collections import Counter

    from sync.core.decisions import counted
    from sync.core.entry import EntryKey
    from sync.core.report import ExitCode
    from sync.run.prepare import prepare
    from sync.sources.reader import check_lines, describe_source, source_of
    from sync.targets import target

    settings = _settings(args)
    if "ldap" in settings.targets:
        print(f"settings: ok (directory {settings.ldap.url}, base {settings.ldap.base_dn})")
    else:
        print(f"settings: ok (targets: {', '.join(settings.targets)})")
    source = source_of(settings.source)
    prepared = prepare(settings, source=source)
    wanted = Counter(EntryKey.kind(key).value for key in prepared.desired.entries)
    per_kind = ", ".join(f"{kind} {count}" for kind, count in sorted(wanted.items()))
    print(
        f"source: ok ({describe_source(settings.source)}: {len(prepared.desired.entries)} "
        f"entries wanted ({per_kind or 'none'}), {len(prepared.errors)} record error(s))"
    )
    for line in check_lines(settings.source, source):
        print(f"  {line}")
    for error in prepared.errors:
        print(f"  {error}")
    if prepared.decisions:
        left_out = counted(prepared.decisions)
        reasons = "; ".join(f"{why}: {count}" for why, count in sorted(left_out.items()))
        print(f"  left out by the rules, not errors: {reasons} (run --dry-run --explain)")
    print(f"mapping: ok ({prepared.mapping.origin})")
    for kind in settings.targets:
        for line in target(kind).check_lines(settings):
            print(line)
        if kind == "ldap":
            _check_servers(settings)
            _check_portal(settings)
    return int(ExitCode.RECORD_ERRORS if prepared.errors else ExitCode.SUCCESS)


def _check_servers(settings: Settings) -> None:
    """For a list of servers, print whether each one binds and holds the base DN, and the lease."""
    from sync.errors import SyncError
    from sync.ldap.directory import Directory

    ldap = settings.ldap
    if len(ldap.urls) < 2:
        return
    for number, url in enumerate(ldap.urls, 1):
        try:
            with Directory.open(ldap.model_copy(update={"url": url})) as directory:
                directory.require_base(ldap.base_dn)
            state = "ok"
        except SyncError as exc:
            state = f"NOT usable: {exc}"
        print(f"  server {number} of {len(ldap.urls)}, {url}: {state}")
    if settings.lock.lease:
        print(
            "lease: a claim per run, seen on every reachable server of the list before the run "
            "starts (replicated directory: docs/replication.md)"
        )
    else:
        print(
            f"lease: off ({settings.lock.name_of('lease')}): runs on other hosts are not kept out"
        )


def _check_portal(settings: Settings) -> None:
    """Print how the connection is protected, and bind as the portal account when set."""
    from sync.ldap.directory import Directory
    from sync.portal.login import portal_ldap

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
    from sync.core.report import ExitCode
    from sync.portal.access import compare_order, compare_user, describe_order, describe_user
    from sync.portal.login import LoginRefused, Portal
    from sync.run.prepare import prepare

    settings = _settings(args)
    if (args.target or settings.targets[0]) == "scim":
        return _access_scim(args, settings)
    prepared = prepare(settings) if args.compare else None
    with Portal.open(settings) as portal:
        if args.what == "user":
            try:
                user = portal.user(args.name)
            except LoginRefused:
                user = None
            lines = describe_user(user) if user else [_no_user(portal, args.name)]
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


def _access_scim(args: argparse.Namespace, settings: Settings) -> int:
    from sync.core.report import ExitCode
    from sync.targets.scim.access import describe_order, describe_user

    if args.compare:
        print("portal-sync: --compare answers from the directory only", file=sys.stderr)
        return int(ExitCode.CONFIGURATION)
    ask = describe_user if args.what == "user" else describe_order
    lines, known = ask(settings, args.name)
    print("\n".join(lines))
    return int(ExitCode.SUCCESS if known else ExitCode.RECORD_ERRORS)


def _no_user(portal: Portal, login: str) -> str:
    """Return why the portal finds no single user for a login."""
    found = portal.candidates(login)
    if not found:
        return f"no user with login {login!r}"
    dns = ", ".join(dn for dn, _ in found)
    return f"login {login!r} is ambiguous: {len(found)} entries hold it ({dns}); portals refuse it"


def _login(args: argparse.Namespace) -> int:
    import getpass

    from sync.core.report import ExitCode
    from sync.errors import ConfigurationError
    from sync.portal.access import describe_user
    from sync.portal.login import LoginRefused, Portal

    settings = _settings(args)
    if args.password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise ConfigurationError(
                "--password-stdin: no password on stdin (give it as the first line)"
            )
    else:
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
    """Run the command line; return the exit code.

    When the reader of the output goes away (`portal-sync schema | head -1`),
    the rest of the output is dropped quietly, the way Python's documentation
    recommends, and the exit code is 141, as for a program killed by SIGPIPE.
    """
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
        return EXIT_PIPE


def _schema(args: argparse.Namespace) -> int:
    import json

    from sync.core.model import json_schema
    from sync.core.report import ExitCode

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return int(ExitCode.SUCCESS)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    from sync.core.report import STOPPING, ExitCode, Outcome, outcome_of
    from sync.logs import configure_logging

    try:
        configure_logging(args.log_level or "WARNING")
    except ValueError:
        print(f"portal-sync: unknown log level {args.log_level!r}", file=sys.stderr)
        return int(ExitCode.CONFIGURATION)
    try:
        handler = {
            "schema": _schema,
            "run": _run,
            "check": _check,
            "demo": _demo,
            "daemon": _daemon,
            "status": _status,
            "access": _access,
            "login": _login,
        }[args.command]
        return handler(args)
    except STOPPING as exc:
        outcome = outcome_of(exc)
        what = "configuration error: " if outcome is Outcome.CONFIGURATION else ""
        print(f"portal-sync: {what}{exc}", file=sys.stderr)
        return int(outcome.exit_code)
