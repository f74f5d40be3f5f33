"""`/metrics`: every service's `get_stats()` read at scrape time, plus request counts and latency.

A custom prometheus_client `Collector` turns each service's stats dataclass into gauges
named `infrakit_<service>_<field>` when Prometheus scrapes, so nothing is kept twice and
no service needs a collector of its own. Numbers become one gauge, mappings one gauge
labelled `key`, strings one gauge labelled `value` set to 1 (an enum state), nested
dataclasses are flattened with `_`. Job counts live in the store, so the scrape first
awaits `queue.get_stats(job_type)` for each registered type (bounded) and the collector
reads what it got. The request metrics are plain numbers too, updated by the middleware
and written as the counter, histogram and gauge prometheus_client's own would write.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Any

from infrakit.errors import import_optional

__all__ = ["Metrics"]


_JOB_COUNTS_TIMEOUT = 2.0
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One Prometheus registry per server: request metrics and the services' stats."""

    def __init__(self, services: Mapping[str, Any]) -> None:
        prometheus = import_optional("prometheus_client", extra="server")
        self._prometheus = prometheus
        self._core = import_optional("prometheus_client.core", extra="server")
        self.registry = prometheus.CollectorRegistry(auto_describe=False)
        # Plain numbers the collector turns into the counter, histogram and gauge at scrape
        # time: a prometheus_client metric takes a lock and makes a few calls on every
        # change (half of this middleware's cost). Only the event loop's thread updates them.
        self.in_flight = 0
        self.request_counts: dict[tuple[str, Any], int] = {}
        self.first_seen: dict[tuple[str, Any], float] = {}
        self.latency_buckets = [0] * (len(_LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.latency_sum = 0.0
        self.created = time.time()
        self.services = dict(services)
        self.job_counts: dict[str, Any] = {}
        self.registry.register(_StatsCollector(self))

    def record(self, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration (the labels are made at scrape time).

        `RequestContextMiddleware` calls it (`on_complete`) and the router keeps `in_flight`.
        """
        key = (method, status)
        counts = self.request_counts
        if key in counts:
            counts[key] += 1
        else:
            counts[key] = 1
            self.first_seen[key] = time.time()
        self.latency_buckets[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    async def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric, after refreshing the job counts."""
        await self._refresh_job_counts()
        body: bytes = self._prometheus.generate_latest(self.registry)
        return body, str(self._prometheus.CONTENT_TYPE_LATEST)

    async def _refresh_job_counts(self) -> None:
        queue = self.services.get("jobs")
        job_types = list(getattr(queue, "processors", {}) or {})
        if queue is None or not job_types:
            return
        try:
            async with asyncio.timeout(_JOB_COUNTS_TIMEOUT):
                counts = await asyncio.gather(*(queue.get_stats(name) for name in job_types))
        except Exception:  # a slow or failing store leaves the last counts in place
            return
        self.job_counts = dict(zip(job_types, counts, strict=True))


class _StatsCollector:
    """Reads `get_stats()` of every service each time the registry is collected."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._core = metrics._core
        self._utils = import_optional("prometheus_client.utils", extra="server")
        self._switches = import_optional("prometheus_client.metrics", extra="server")

    def _created_series(self) -> bool:
        """prometheus_client's switch for `_created` samples (`disable_created_metrics()`,
        `PROMETHEUS_DISABLE_CREATED_SERIES`), read as its own metrics read it."""
        return bool(getattr(self._switches, "_use_created", True))

    def collect(self) -> Iterator[Any]:
        yield from self._request_families()
        for service, instance in self._metrics.services.items():
            stats = _stats_of(instance)
            if stats is not None:
                yield from self._families(f"infrakit_{service}", _fields(stats))
        yield from self._job_families()
        yield self._core.GaugeMetricFamily(
            "infrakit_http_requests_in_flight",
            "HTTP requests being answered now.",
            value=self._metrics.in_flight,
        )

    def _request_families(self) -> Iterator[Any]:
        """The families prometheus_client's Counter and Histogram wrote, from plain numbers."""
        metrics, created = self._metrics, self._created_series()
        requests = self._core.CounterMetricFamily(
            "infrakit_http_requests",
            "HTTP requests answered by the app, by method and status code.",
            labels=["method", "status"],
        )
        # A copy in one C call: a scrape from another thread (the registry served by
        # prometheus_client's own HTTP server) never sees the dict change size.
        for (method, status), count in list(metrics.request_counts.items()):
            first_seen = metrics.first_seen.get((method, status)) if created else None
            requests.add_metric([str(method), str(status)], count, created=first_seen)
        yield requests
        name = "infrakit_http_request_duration_seconds"
        latency = self._core.HistogramMetricFamily(
            name, "Time from the request's arrival to the end of its response."
        )
        cumulative = list(itertools.accumulate(metrics.latency_buckets))
        bounds = [*map(self._utils.floatToGoString, _LATENCY_BUCKETS), "+Inf"]
        latency.add_metric([], list(zip(bounds, cumulative, strict=True)), metrics.latency_sum)
        if created:
            latency.add_sample(f"{name}_created", {}, metrics.created)
        yield latency

    def _families(self, prefix: str, fields: Mapping[str, Any]) -> Iterator[Any]:
        for field, value in fields.items():
            name = f"{prefix}_{field}"
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                yield from self._families(name, _fields(value))
            elif isinstance(value, bool | int | float):
                yield self._core.GaugeMetricFamily(name, f"{field} from get_stats()", value=value)
            elif isinstance(value, Mapping):
                yield self._labelled(name, field, "key", value)
            elif isinstance(value, str):
                yield self._labelled(name, field, "value", {value: 1})

    def _labelled(self, name: str, field: str, label: str, values: Mapping[Any, Any]) -> Any:
        family = self._core.GaugeMetricFamily(name, f"{field} from get_stats()", labels=[label])
        for key, value in values.items():
            if isinstance(value, bool | int | float):
                family.add_metric([str(key)], value)
        return family

    def _job_families(self) -> Iterator[Any]:
        if not self._metrics.job_counts:
            return
        family = self._core.GaugeMetricFamily(
            "infrakit_jobs",
            "Jobs by type and state, as the store counts them.",
            labels=["job_type", "state"],
        )
        for job_type, stats in self._metrics.job_counts.items():
            for state, count in _fields(stats).items():
                if isinstance(count, int) and not isinstance(count, bool):
                    family.add_metric([job_type, state], count)
        yield family


def _stats_of(instance: Any) -> Any:
    """The service's stats, or None: the jobs queue's is a coroutine, a failing one is skipped."""
    get_stats = getattr(instance, "get_stats", None)
    if get_stats is None or asyncio.iscoroutinefunction(get_stats):
        return None
    try:
        return get_stats()
    except Exception:  # a scrape never fails because one service's counters did
        return None


def _fields(stats: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return {field.name: getattr(stats, field.name) for field in dataclasses.fields(stats)}
    if isinstance(stats, Mapping):
        return dict(stats)
    return {}
