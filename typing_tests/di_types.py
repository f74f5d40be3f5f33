"""Type-checked by `mypy --strict` (see the Makefile's typecheck), never run.

What a caller of the container sees statically: `resolve(Class) -> Class`, the async
twin, the frozen stats, and punq's chaining `register` in the compatibility module.
"""

from __future__ import annotations

from typing import Any, assert_type

from infrakit.di import Container, ContainerStats, create_container, punq


class Pool:
    pass


async def check_resolution(container: Container) -> None:
    assert_type(container.resolve(Pool), Pool)
    assert_type(await container.aresolve(Pool), Pool)
    assert_type(container.resolve("connection_string"), Any)
    assert_type(container.register(Pool), None)
    assert_type(container.get_stats(), ContainerStats)
    assert_type(container.get_stats().closed, bool)
    assert_type(create_container(), Container)


def check_punq_compatibility() -> None:
    container = punq.Container()
    assert_type(container.register(Pool, scope=punq.Scope.singleton), punq.Container)
    assert_type(container.resolve(Pool), Pool)
