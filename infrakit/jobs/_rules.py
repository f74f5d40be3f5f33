"""Input checks and the texts every store shares, written once (sans-I/O).

The async `JobQueue` and the blocking `infrakit.jobs.sync.JobQueue` both build their
`NewJob` records here, so a job is validated and serialised the same way whatever
the caller's form.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infrakit.errors import ValidationError, json_pointer
from infrakit.jobs._backoff import Backoff
from infrakit.jobs._models import JobPriority
from infrakit.jobs._protocol import NewJob

__all__ = [
    "JobOptions",
    "build_job",
    "check_job_id",
    "check_job_type",
    "encode_json",
    "invalid",
    "parent_failure_reason",
    "unknown_parents_error",
]

_JOB_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}\Z")
_JOB_ID_LIMIT = 200
_POLICIES = ("fail", "cancel", "ignore")
DEFAULT_BACKOFF = Backoff.exponential()


def invalid(field: str, detail: str, message: str | None = None) -> ValidationError:
    """A `ValidationError` naming `field` (never its value)."""
    pointer = json_pointer([field])
    return ValidationError(
        message or f"Invalid job option {field!r}: {detail}.",
        errors=[{"pointer": pointer, "detail": detail}],
    )


def check_job_type(job_type: object) -> str:
    if not isinstance(job_type, str) or not _JOB_TYPE.match(job_type):
        raise invalid(
            "job_type",
            "must be 1-100 letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
        )
    return job_type


def check_job_id(job_id: object, field: str = "job_id") -> str:
    if not isinstance(job_id, str) or not 0 < len(job_id) <= _JOB_ID_LIMIT:
        raise invalid(field, f"must be a non-empty string of at most {_JOB_ID_LIMIT} characters")
    return job_id


def encode_json(value: Any, field: str = "data") -> str:
    """JSON text of `value` (a pydantic model is dumped first); refuses what cannot round-trip."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and hasattr(type(value), "model_fields"):
        value = dump(mode="json")
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise invalid(
            field, "must be JSON-serialisable (dicts, lists, str, numbers, bool, None)"
        ) from error


@dataclass(frozen=True, slots=True)
class JobOptions:
    """The options of `add_job`, checked once and shared by every job of a bulk add."""

    priority: int = JobPriority.NORMAL
    delay: float | timedelta | None = None
    run_at: datetime | None = None
    attempts: int = 3
    backoff: Backoff | float | Mapping[str, Any] | None = None
    timeout: float | None = None
    depends_on: str | Sequence[str] | None = None
    on_parent_failure: str = "fail"

    def checked(self) -> _Checked:
        return _Checked(
            priority=_priority(self.priority),
            run_at=_run_at(self.delay, self.run_at),
            attempts=_attempts(self.attempts),
            backoff=_backoff(self.backoff),
            timeout=_timeout(self.timeout),
            depends_on=_parents(self.depends_on),
            on_parent_failure=_policy(self.on_parent_failure),
        )


@dataclass(frozen=True, slots=True)
class _Checked:
    priority: int
    run_at: float
    attempts: int
    backoff: dict[str, Any]
    timeout: float | None
    depends_on: tuple[str, ...]
    on_parent_failure: str


def build_job(job_type: str, data: Any, options: JobOptions, job_id: str | None = None) -> NewJob:
    """One validated `NewJob`; raises `ValidationError` naming the first bad field."""
    return build_jobs(job_type, [(data, job_id)], options)[0]


def build_jobs(
    job_type: str, items: Iterable[tuple[Any, str | None]], options: JobOptions
) -> list[NewJob]:
    check_job_type(job_type)
    checked = options.checked()
    jobs = []
    for data, job_id in items:
        chosen = check_job_id(job_id) if job_id is not None else new_job_id()
        jobs.append(
            NewJob(
                id=chosen,
                job_type=job_type,
                data_json=encode_json(data),
                priority=checked.priority,
                run_at=checked.run_at,
                max_attempts=checked.attempts,
                backoff=checked.backoff,
                timeout=checked.timeout,
                depends_on=checked.depends_on,
                on_parent_failure=checked.on_parent_failure,
                idempotent=job_id is not None,
            )
        )
    return jobs


def new_job_id() -> str:
    """32 hex digits: milliseconds first, then 80 random bits.

    Time-ordered ids land next to each other in the primary-key index (cheaper
    inserts than random UUIDs) and still never collide between processes.
    """
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def _priority(priority: object) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not -1000 <= priority <= 1000:
        raise invalid("priority", "must be an integer between -1000 and 1000 (see JobPriority)")
    return int(priority)


def _run_at(delay: float | timedelta | None, run_at: datetime | None) -> float:
    now = time.time()
    if delay is not None and run_at is not None:
        raise invalid("delay", "give delay or run_at, not both")
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    if delay is not None:
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay < 0
        ):
            raise invalid("delay", "must be a finite number of seconds, zero or more")
        return now + float(delay)
    if run_at is not None:
        if not isinstance(run_at, datetime) or run_at.tzinfo is None:
            raise invalid("run_at", "must be a timezone-aware datetime")
        return run_at.timestamp()
    return now


def _attempts(attempts: object) -> int:
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 1000:
        raise invalid("attempts", "must be an integer between 1 and 1000")
    return attempts


def _backoff(backoff: object) -> dict[str, Any]:
    if backoff is None:
        return {}  # the default policy, DEFAULT_BACKOFF, without storing it on every row
    if isinstance(backoff, Backoff):
        policy = backoff
    elif isinstance(backoff, int | float) and not isinstance(backoff, bool):
        policy = Backoff.fixed(float(backoff))
    elif isinstance(backoff, Mapping):
        try:
            policy = Backoff.from_dict(backoff)
        except TypeError as error:
            raise invalid("backoff", "unknown backoff settings") from error
    else:
        raise invalid(
            "backoff",
            "must be a Backoff, a number of seconds or a mapping; "
            "give a callable to register_processor(backoff=...)",
        )
    if policy.kind not in ("fixed", "exponential"):
        raise invalid("backoff", "kind must be 'fixed' or 'exponential'")
    numbers = (policy.delay, policy.factor, policy.max_delay)
    if not all(
        isinstance(value, int | float) and math.isfinite(value) and value >= 0 for value in numbers
    ):
        raise invalid("backoff", "delay, factor and max_delay must be finite and zero or more")
    return policy.to_dict()


def _timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise invalid("timeout", "must be a positive number of seconds")
    return float(timeout)


def _parents(depends_on: object) -> tuple[str, ...]:
    if depends_on is None:
        return ()
    if isinstance(depends_on, str):
        depends_on = [depends_on]
    if not isinstance(depends_on, Sequence):
        raise invalid("depends_on", "must be a job id or a list of job ids")
    parents = tuple(check_job_id(parent, "depends_on") for parent in depends_on)
    return tuple(dict.fromkeys(parents))


def _policy(policy: object) -> str:
    if policy not in _POLICIES:
        raise invalid("on_parent_failure", "must be 'fail', 'cancel' or 'ignore'")
    return str(policy)


def unknown_parents_error(missing: Sequence[str]) -> ValidationError:
    """Parents must exist (so a cycle cannot be built); nothing was stored."""
    return ValidationError(
        f"{len(missing)} parent job(s) in depends_on do not exist.",
        errors=[{"pointer": json_pointer(["depends_on"]), "detail": "unknown parent job id"}],
        details={"missing": list(missing)[:20]},
    )


def parent_failure_reason(parent_id: str) -> str:
    return f"parent job {parent_id} did not complete"
