"""The order contestants take their turns in: shuffled anew each time, the same in every run."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")
SEED = int(os.environ.get("BENCH_SEED", "0"))
"""`BENCH_SEED=N` draws other orders: a run with another seed tells whether a ratio owes
anything to the orders drawn."""


def turn_orders(items: Iterable[Item], turns: int, seed: int = SEED) -> Iterator[list[Item]]:
    """`turns` orders of `items`, each shuffled anew from a fixed seed (`BENCH_SEED`).

    A rotation (`items[r:] + items[:r]`) keeps the cyclic order, so each contestant would
    always follow the same one: in `storage.py` a blocking write made the thread hop of
    the call after it 20% slower, and that call was always infrakit's. Shuffled, each
    follows every other about equally often, and every run sees the same orders.
    """
    order = list(items)
    shuffle = random.Random(seed).shuffle
    for _ in range(turns):
        shuffle(order)
        yield list(order)
