"""Random dependency graphs: every acyclic one resolves correctly, every cycle is caught."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infrakit.di import CircularDependencyError, Scope, create_container


class Built:
    def __init__(self, index: int, dependencies: dict[str, Any]) -> None:
        self.index = index
        self.dependencies = dependencies


def make_factory(index: int, needs: list[int], keys: list[type]) -> Any:
    def factory(**dependencies: Any) -> Built:
        return Built(index, dependencies)

    parameters = [
        inspect.Parameter(f"d{need}", inspect.Parameter.KEYWORD_ONLY, annotation=keys[need])
        for need in needs
    ]
    factory.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    factory.__annotations__ = {f"d{need}": keys[need] for need in needs}
    return factory


graphs = st.integers(min_value=1, max_value=8).flatmap(
    lambda size: st.tuples(
        st.just(size),
        st.lists(
            st.tuples(st.integers(0, size - 1), st.integers(0, size - 1)),
            max_size=size * 2,
        ),
        st.lists(st.booleans(), min_size=size, max_size=size),
    )
)


def reaches_cycle(start: int, edges: dict[int, list[int]]) -> bool:
    visiting: set[int] = set()

    def visit(node: int) -> bool:
        if node in visiting:
            return True
        visiting.add(node)
        found = any(visit(next_node) for next_node in edges[node])
        visiting.discard(node)
        return found

    return visit(start)


@settings(max_examples=150, deadline=None)
@given(graphs)
def test_random_graphs(graph: tuple[int, list[tuple[int, int]], list[bool]]) -> None:
    size, pairs, singletons = graph
    edges = {index: sorted({b for a, b in pairs if a == index}) for index in range(size)}
    keys = [type(f"K{index}", (), {}) for index in range(size)]
    container = create_container()
    for index in range(size):
        scope = Scope.SINGLETON if singletons[index] else Scope.TRANSIENT
        container.register(keys[index], make_factory(index, edges[index], keys), scope=scope)
    if reaches_cycle(0, edges):
        with pytest.raises(CircularDependencyError, match="circular dependency: K"):
            container.resolve(keys[0])
        return
    built = container.resolve(keys[0])
    check(built, edges, singletons, {})


def check(
    built: Built, edges: dict[int, list[int]], singletons: list[bool], seen: dict[int, Built]
) -> None:
    if singletons[built.index]:
        assert seen.setdefault(built.index, built) is built
    assert sorted(built.dependencies) == [f"d{need}" for need in edges[built.index]]
    for need in edges[built.index]:
        child = built.dependencies[f"d{need}"]
        assert child.index == need
        check(child, edges, singletons, seen)
