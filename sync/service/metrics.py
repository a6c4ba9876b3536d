"""The daemon's Prometheus metrics, fed from each run's report."""

from __future__ import annotations

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

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "portal_sync_runs", "Runs by outcome.", ["outcome"], registry=self.registry
        )
        self.changes = Counter(
            "portal_sync_changes", "Changes applied by operation.", ["op"], registry=self.registry
        )
        self.record_errors = Counter(
            "portal_sync_record_errors",
            "Source records skipped or refused by the directory.",
            registry=self.registry,
        )
        self.duration = Histogram(
            "portal_sync_run_duration_seconds",
            "Length of a run.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "portal_sync_last_success_timestamp_seconds",
            "Unix time at which the last successful run finished (0: none yet).",
            registry=self.registry,
        )
        self.managed = Gauge(
            "portal_sync_managed_entries",
            "Entries the last successful run manages, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.healthy = Gauge(
            "portal_sync_healthy", "1 when /healthz answers 200, else 0.", registry=self.registry
        )
        for outcome in Outcome:
            self.runs.labels(outcome.value)
        for op in Op:
            self.changes.labels(op.value)
        for kind in Kind:
            self.managed.labels(kind.value)

    def observe(self, report: Report) -> None:
        """Count one finished run."""
        self.runs.labels(report.outcome.value).inc()
        for op, count in report.counts().items():
            self.changes.labels(op).inc(count)
        self.record_errors.inc(len(report.errors))
        self.duration.observe(report.duration())
        if report.ok and report.finished is not None:
            self.last_success.set(report.finished.timestamp())
            for kind in Kind:
                self.managed.labels(kind.value).set(report.managed.get(kind.value, 0))

    def render(self) -> tuple[bytes, str]:
        """Return the metrics in Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
