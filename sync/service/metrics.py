"""The daemon's Prometheus metrics, fed from each run's report.

Every metric carries the run's `target` ("ldap", "scim"): with two targets
configured, each has its own outcomes, changes and last success, so an
alert on a stale last success fires for the target that stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from sync.core.change import Op
from sync.core.entry import Kind
from sync.core.report import Outcome, Report

_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class Metrics:
    """Counters and gauges of the runs, in a registry of their own."""

    def __init__(self, targets: Sequence[str] = ("ldap",)) -> None:
        """Make the metrics, with a series for each of the configured `targets` from the start."""
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "portal_sync_runs",
            "Runs by outcome.",
            ["outcome", "target"],
            registry=self.registry,
        )
        self.changes = Counter(
            "portal_sync_changes",
            "Changes applied by operation.",
            ["op", "target"],
            registry=self.registry,
        )
        self.record_errors = Counter(
            "portal_sync_record_errors",
            "Source records skipped or refused by the target.",
            ["target"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "portal_sync_run_duration_seconds",
            "Length of a run.",
            ["target"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "portal_sync_last_success_timestamp_seconds",
            "Unix time at which the last successful run finished (0: none yet).",
            ["target"],
            registry=self.registry,
        )
        self.managed = Gauge(
            "portal_sync_managed_entries",
            "Entries the last successful run manages, by kind.",
            ["kind", "target"],
            registry=self.registry,
        )
        self.healthy = Gauge(
            "portal_sync_healthy", "1 when /healthz answers 200, else 0.", registry=self.registry
        )
        for target in targets:
            for outcome in Outcome:
                self.runs.labels(outcome.value, target)
            for op in Op:
                self.changes.labels(op.value, target)
            for kind in Kind:
                self.managed.labels(kind.value, target)
            self.record_errors.labels(target)
            self.duration.labels(target)
            self.last_success.labels(target)

    def observe(self, report: Report) -> None:
        """Count one finished run of one target."""
        target = report.target
        self.runs.labels(report.outcome.value, target).inc()
        for op, count in report.counts().items():
            self.changes.labels(op, target).inc(count)
        self.record_errors.labels(target).inc(len(report.errors))
        self.duration.labels(target).observe(report.duration())
        if report.ok and report.finished is not None:
            self.last_success.labels(target).set(report.finished.timestamp())
            for kind in Kind:
                self.managed.labels(kind.value, target).set(report.managed.get(kind.value, 0))

    def render(self) -> tuple[bytes, str]:
        """Return the metrics in Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
