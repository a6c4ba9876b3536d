"""The daemon: the same run as `portal-sync run`, on a schedule, on change and on request.

One APScheduler job does the runs (`max_instances=1`, coalesced, with a
misfire grace time), so runs never overlap inside the process; the run lock
keeps them apart from other processes and hosts. A request that arrives
during a run (source changed, POST /sync) is remembered and served by one
more run right after it, never dropped. A failed run is retried after a
capped exponential delay with jitter instead of the next scheduled time.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from sync.clock import now
from sync.core.report import Outcome, Report
from sync.errors import ConfigurationError, LockBusy
from sync.logs import Quiet
from sync.progress import LoggedProgress, Progress
from sync.run.lock import RunLock, locked_run
from sync.service.health import Health, assess
from sync.service.history import History
from sync.service.metrics import Metrics
from sync.service.schedule import Backoff, describe, sync_trigger
from sync.service.watch import SourceWatches
from sync.service.web import Endpoints, WebServer
from sync.settings import Settings
from sync.sources.reader import describe_source
from sync.targets import target

if TYPE_CHECKING:
    from sync.service.console import ConsoleServer

log = logging.getLogger("portal_sync.daemon")

_JOB = "sync"


class Daemon:
    """The scheduler, the change trigger and the HTTP server around `run_sync`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics(settings.targets)
        self.history = History(settings.state_dir, settings.history.keep)
        self.stopping = threading.Event()
        self.lock = RunLock(settings, cancel=self.stopping)
        self.backoff = Backoff(settings.schedule.retry_initial, settings.schedule.retry_max)
        self.quiet = Quiet()
        self.scheduler = BackgroundScheduler()
        self.web: WebServer | None = None
        self.console: ConsoleServer | None = None
        self._state = threading.Lock()
        self._pending = False
        self._running = False
        self._idle = threading.Event()
        self._idle.set()
        self._last: Report | None = None
        self._last_success: datetime | None = None
        self._outage: tuple[Outcome, datetime] | None = None

    def start(self) -> None:
        """Start scheduling runs, the first one now, watching the source and serving HTTP."""
        schedule = self.settings.schedule
        http = self.settings.http
        trigger = sync_trigger(schedule)
        if http.enabled:
            endpoints = Endpoints(
                self.health, self._metrics, self.request, http.token.get_secret_value()
            )
            try:
                self.web = WebServer(http.host, http.port, endpoints)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot listen on {http.host}:{http.port}: {exc.strerror}; "
                    f"fix {http.name_of('host')} or {http.name_of('port')}"
                ) from exc
            if not http.token.get_secret_value():
                log.warning("POST /sync is off: set %s", http.name_of("token"))
        self.scheduler.add_job(
            self._job,
            trigger,
            id=_JOB,
            name="sync",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, round(schedule.misfire_grace)),
            next_run_time=now(),
        )
        watches = SourceWatches.of(self.settings, self.request, self.stopping)
        watches.start(self.scheduler)
        if self.settings.console.enabled:
            from sync.service.console import ConsoleServer, Feed  # its web stack only when on

            feed = Feed(
                self.health,
                self.history,
                self.request,
                lambda: getattr(self.scheduler.get_job(_JOB), "next_run_time", None),
                lambda: not self._idle.is_set(),
            )
            self.console = ConsoleServer(self.settings, feed)
        logging.getLogger("portal_sync").addFilter(self.quiet)
        self.scheduler.start()
        if self.web is not None:
            self.web.start()
        if self.console is not None:
            self.console.start()
        log.info(
            "started: directory %s (base %s), source %s (%s), runs %s, HTTP %s, console %s, "
            "state in %s",
            self.settings.ldap.url,
            self.settings.ldap.base_dn,
            describe_source(self.settings.source),
            watches.describe(),
            describe(schedule),
            "http://{}:{}".format(*self.web.address) if self.web else "off",
            "http://{}:{}".format(*self.console.address) if self.console else "off",
            self.settings.state_dir,
        )

    def request(self, reason: str) -> None:
        """Ask for a run now, or right after the run in progress."""
        with self._state:
            if self.stopping.is_set():
                return
            log.info("run requested: %s", reason)
            self._pending = True
            if not self._running:
                self.scheduler.modify_job(_JOB, next_run_time=now())

    def health(self) -> Health:
        """Return the answer of /healthz now."""
        with self._state:
            last, success, outage = self._last, self._last_success, self._outage
        since = outage[1] if outage else None
        return assess(last, success, now(), self.settings.http.max_age, since)

    def stop(self) -> bool:
        """Stop scheduling and wait for the run in progress; return whether it finished in time."""
        timeout = self.settings.schedule.shutdown_timeout
        self.stopping.set()
        log.info("stopping: no new runs; waiting up to %g s for the run in progress", timeout)
        self.scheduler.shutdown(wait=False)
        finished = self._idle.wait(timeout)
        if self.web is not None:
            self.web.stop()
        if self.console is not None:
            self.console.stop()
        if not finished:
            log.error(
                "the run in progress did not finish within %g s; exiting anyway, "
                "the next run converges from wherever it stopped",
                timeout,
            )
            self.lock.abandon()
        logging.getLogger("portal_sync").removeFilter(self.quiet)
        log.info("stopped")
        return finished

    def _metrics(self) -> tuple[bytes, str]:
        self.metrics.healthy.set(1 if self.health().healthy else 0)
        return self.metrics.render()

    def _job(self) -> None:
        with self._state:
            if self._running or self.stopping.is_set():
                return
            self._running = True
            self._pending = False
            self._idle.clear()
        retry: float | None = None
        try:
            while True:
                retry = self._run_once()
                with self._state:
                    if retry is not None or not self._pending or self.stopping.is_set():
                        break
                    self._pending = False
        finally:
            with self._state:
                if retry is not None and not self.stopping.is_set():
                    log.debug("next try in %.1f s", retry)
                    self.scheduler.modify_job(_JOB, next_run_time=now() + timedelta(seconds=retry))
                self._running = False
                self._idle.set()

    def _run_once(self) -> float | None:
        """Run every configured target once, each under its run lock; return the retry delay.

        The directory's run keeps the daemon's lock (file lock and lease); every
        other target takes its own lock (`sync.targets`).
        """
        interval = self.settings.logging.progress_interval
        wait = self.settings.lock.wait
        reports: list[Report] = []
        try:
            with LoggedProgress(interval) if interval > 0 else Progress() as progress:
                for kind in self.settings.targets:
                    if kind == "ldap":
                        report = locked_run(self.lock, self.settings, wait, progress=progress)
                    else:
                        run = target(kind).locked
                        report = run(self.settings, wait, self.stopping, progress=progress)
                    reports.append(report)
        except LockBusy as exc:
            for report in reports:
                self._recorded(report)
            if self.stopping.is_set():
                return None
            log.info("%s; trying again later", exc)
            return self.settings.schedule.retry_initial
        for report in reports:
            self._recorded(report)
        failed = [report for report in reports if not report.ok]
        return self._finished(failed[0] if failed else reports[-1])

    def _recorded(self, report: Report) -> None:
        """Count and keep one target's report."""
        self.metrics.observe(report)
        self.history.record(report)

    def _finished(self, report: Report) -> float | None:
        """Settle the outage state on the run's deciding report (the first that failed)."""
        with self._state:
            self._last = report
            if report.ok:
                self._last_success = report.finished
        if report.ok:
            if self._outage is not None:
                outcome, since = self._outage
                log.warning(
                    "recovered: runs succeed again after %s for %.0f s (%d failed runs); %s",
                    outcome.value,
                    (now() - since).total_seconds(),
                    self.backoff.failures,
                    report.to_text(verbose=False).splitlines()[0],
                )
            with self._state:
                self._outage = None
            self.quiet.quiet = False
            self.backoff.reset()
            return None
        delay = self.backoff.next_delay()
        if self._outage is None or self._outage[0] is not report.outcome:
            log.warning(
                "outage: %s: %s; %s; retrying with growing delays of at most %g s, quiet until "
                "it ends",
                report.outcome.value,
                report.failure,
                _WHAT_TO_DO.get(report.outcome, "check the message above"),
                self.settings.schedule.retry_max,
            )
            since = self._outage[1] if self._outage else report.started
            with self._state:
                self._outage = (report.outcome, since)
        self.quiet.quiet = True
        return delay


_WHAT_TO_DO = {
    Outcome.UNAVAILABLE: "check that the directory answers at ldap.url (the server, the network, "
    "the TLS certificate)",
    Outcome.DIRECTORY: "check what the directory answered; the sync account's rights (the ACL) "
    "are the usual cause",
    Outcome.SOURCE: "check the source the message names (source.kind and that kind's settings)",
    Outcome.CONFIGURATION: "correct the setting the message names, then restart the daemon",
    Outcome.TARGET_UNAVAILABLE: "check that the SCIM provider answers at scim.url and accepts "
    "the credentials (scim.token, or scim.client_id and scim.client_secret)",
    Outcome.DELETION_GUARD: "review the pending changes with portal-sync run --dry-run, then "
    "approve them with portal-sync run --allow-deletions N",
}
"""What an administrator checks first for each kind of outage (the one warning it logs)."""


def run_daemon(settings: Settings) -> int:
    """Run the daemon until SIGTERM or SIGINT; return the exit code.

    The stop signals are blocked before any thread starts, so every thread
    inherits the block, and the main thread takes them with sigwait: a signal
    the kernel would hand to a busy worker thread cannot go unnoticed.
    """
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    daemon = Daemon(settings)
    daemon.start()
    received = signal.sigwait(stop_signals)
    log.info("received %s", signal.Signals(received).name)
    if not daemon.stop():
        logging.shutdown()
        os._exit(0)
    return 0
