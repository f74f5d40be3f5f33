"""DI benchmark: infrakit.di against raw punq, dependency-injector, lagom and hand wiring.

Run: `.venv/bin/python benchmarks/di.py` (about 20 s; `--quick` or `BENCH_QUICK=1` for
a smoke run of a second or two). Raw punq comes from the `bench` extra: infrakit.di no
longer depends on it, and it stays here as the peer whose API infrakit.di keeps. Two
scenarios, each library wired to build the same objects:

- built singleton: resolving a singleton that was already built (the per-request cost
  of fetching a shared pool or client);
- 6-node transient graph: `Service(Repository(Database(Config()), Cache()), Mailer())`,
  every node new on each resolve.

Each figure is the median of several timed repeats (microseconds per resolve), with
their spread (min-max), taken round-robin across libraries so a burst of load from
other processes hits them all alike. Every contestant runs its fastest honest form:
infrakit.di and punq through a bound `resolve`, dependency-injector calling its
providers directly, lagom by item access.

Every class has its own `__init__`: for a class that inherits `object.__init__`, raw
punq's `inspect.getfullargspec` parses the builtin's text signature on every build,
which makes punq about 6x slower still (about 1 ms for this graph).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lagom
import punq
from dependency_injector import containers, providers

from infrakit.di import Scope, create_container

QUICK = "--quick" in sys.argv or os.environ.get("BENCH_QUICK") == "1"
REPEATS = 2 if QUICK else 7
BUDGET_SECONDS = 0.02 if QUICK else 0.25  # per repeat


class Config:
    def __init__(self) -> None:
        self.ready = True


class Database:
    def __init__(self, config: Config) -> None:
        self.config = config


class Cache:
    def __init__(self) -> None:
        self.ready = True


class Repository:
    def __init__(self, database: Database, cache: Cache) -> None:
        self.database = database
        self.cache = cache


class Mailer:
    def __init__(self) -> None:
        self.ready = True


class Service:
    def __init__(self, repository: Repository, mailer: Mailer) -> None:
        self.repository = repository
        self.mailer = mailer


class Pool:
    def __init__(self) -> None:
        self.ready = True


GRAPH = (Config, Database, Cache, Repository, Mailer, Service)


def infrakit_contender() -> tuple[Callable[[], Any], Callable[[], Any]]:
    container = create_container()
    for cls in GRAPH:
        container.register(cls, scope=Scope.TRANSIENT)
    container.register(Pool)
    resolve = container.resolve
    return (lambda: resolve(Pool)), (lambda: resolve(Service))


def punq_contender() -> tuple[Callable[[], Any], Callable[[], Any]]:
    container = punq.Container()
    for cls in GRAPH:
        container.register(cls, scope=punq.Scope.transient)
    container.register(Pool, scope=punq.Scope.singleton)
    resolve = container.resolve
    return (lambda: resolve(Pool)), (lambda: resolve(Service))


class Wiring(containers.DeclarativeContainer):
    config = providers.Factory(Config)
    database = providers.Factory(Database, config=config)
    cache = providers.Factory(Cache)
    repository = providers.Factory(Repository, database=database, cache=cache)
    mailer = providers.Factory(Mailer)
    service = providers.Factory(Service, repository=repository, mailer=mailer)
    pool = providers.Singleton(Pool)


def dependency_injector_contender() -> tuple[Callable[[], Any], Callable[[], Any]]:
    wiring = Wiring()
    return wiring.pool, wiring.service


def lagom_contender() -> tuple[Callable[[], Any], Callable[[], Any]]:
    container = lagom.Container()
    container[Pool] = lagom.Singleton(Pool)
    return (lambda: container[Pool]), (lambda: container[Service])


def hand_contender() -> tuple[Callable[[], Any], Callable[[], Any]]:
    shared: dict[str, Pool] = {}

    def pool() -> Pool:
        try:
            return shared["pool"]
        except KeyError:
            return shared.setdefault("pool", Pool())

    def service() -> Service:
        return Service(Repository(Database(Config()), Cache()), Mailer())

    return pool, service


CONTENDERS = {
    "infrakit.di": infrakit_contender,
    "punq (raw)": punq_contender,
    "dependency-injector": dependency_injector_contender,
    "lagom": lagom_contender,
    "hand wiring": hand_contender,
}


def check(singleton: Callable[[], Any], graph: Callable[[], Any]) -> None:
    """Every contender must really build the same thing, or the figures mean nothing."""
    assert isinstance(singleton(), Pool)
    assert singleton() is singleton()
    first, second = graph(), graph()
    assert isinstance(first.repository.database.config, Config)
    assert isinstance(first.repository.cache, Cache)
    assert isinstance(first.mailer, Mailer)
    assert first is not second
    assert first.repository.database is not second.repository.database


def calibrate(call: Callable[[], Any]) -> int:
    """How many calls fill about BUDGET_SECONDS."""
    started, count = time.perf_counter(), 0
    while time.perf_counter() - started < 0.05:
        call()
        count += 1
    return max(10 if QUICK else 100, int(count * BUDGET_SECONDS / 0.05))


def measure(calls: dict[str, Callable[[], Any]]) -> dict[str, list[float]]:
    """Microseconds per call of every repeat, for each library, repeats interleaved."""
    numbers = {name: calibrate(call) for name, call in calls.items()}
    figures: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(REPEATS):
        for name, call in calls.items():
            number = numbers[name]
            started = time.perf_counter()
            for _ in range(number):
                call()
            figures[name].append((time.perf_counter() - started) / number * 1e6)
    return figures


def main() -> None:
    singletons, graphs = {}, {}
    for name, make in CONTENDERS.items():
        singletons[name], graphs[name] = make()
        check(singletons[name], graphs[name])
    results = {"built singleton": measure(singletons), "6-node transient graph": measure(graphs)}
    mode = " (quick mode: smoke run, not figures)" if QUICK else ""
    print(
        f"Median of {REPEATS} interleaved repeats, ~{BUDGET_SECONDS} s each; "
        f"Python {sys.version.split()[0]}{mode}."
    )
    print()
    print("| scenario | library | median us/resolve | spread (min-max) | x infrakit | x hand |")
    print("|---|---|---:|---:|---:|---:|")
    for scenario, figures in results.items():
        medians = {name: statistics.median(values) for name, values in figures.items()}
        ours, hand = medians["infrakit.di"], medians["hand wiring"]
        for name, values in figures.items():
            value = medians[name]
            print(
                f"| {scenario} | {name} | {value:.2f} | {min(values):.2f}-{max(values):.2f} "
                f"| {value / ours:.2f} | {value / hand:.2f} |"
            )


if __name__ == "__main__":
    main()
