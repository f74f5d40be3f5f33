"""Backoff policies: the original's doubling, capped and jittered; callables; tenacity."""

from __future__ import annotations

import pytest
import tenacity

from infrakit.jobs import Backoff
from infrakit.jobs._backoff import backoff_seconds


def test_fixed_waits_the_same_every_time() -> None:
    policy = Backoff.fixed(2.5)
    assert [policy.seconds(attempt) for attempt in (1, 2, 10)] == [2.5, 2.5, 2.5]


def test_exponential_doubles_then_caps() -> None:
    policy = Backoff.exponential(1.0, max_delay=10.0, jitter=False)
    assert [policy.seconds(attempt) for attempt in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_stays_between_half_and_all_of_the_delay() -> None:
    policy = Backoff.exponential(4.0, jitter=True)
    waits = {policy.seconds(2) for _ in range(200)}
    assert all(4.0 <= wait <= 8.0 for wait in waits)
    assert len(waits) > 1


def test_stored_form_round_trips() -> None:
    policy = Backoff.exponential(0.5, factor=3.0, max_delay=60.0)
    assert Backoff.from_dict(policy.to_dict()) == policy
    assert Backoff.from_dict({}) == Backoff.exponential()


def test_callables_and_tenacity_waits() -> None:
    assert backoff_seconds(lambda attempt: attempt * 1.5, 2) == 3.0
    assert backoff_seconds(lambda attempt: -1.0, 2) == 0.0
    wait = tenacity.wait_exponential(multiplier=1, max=60)
    assert backoff_seconds(wait, 3) == 4.0
    assert backoff_seconds(tenacity.wait_fixed(7), 1) == 7.0


def test_schedules_without_the_jobs_extra_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    from datetime import UTC, datetime

    from infrakit.errors import MissingDependencyError
    from infrakit.jobs._schedule import next_tick

    monkeypatch.setitem(sys.modules, "cronsim", None)
    with pytest.raises(MissingDependencyError) as caught:
        next_tick("* * * * *", "UTC", datetime.now(UTC))
    assert "infrakit[jobs]" in str(caught.value)
