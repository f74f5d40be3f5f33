"""Cron schedules: parsing with cronsim, and the missed-tick policy.

Policy: a schedule fires at most once per check. After downtime that spanned several
ticks, it fires once, for the latest tick that passed (the missed ones are coalesced,
as cron itself and most schedulers do), then waits for the next future tick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infrakit.errors import import_optional
from infrakit.jobs._protocol import NewJob, Schedule
from infrakit.jobs._rules import JobOptions, build_job, check_job_type, encode_json, invalid

__all__ = ["Tick", "new_schedule", "next_tick", "tick_job"]


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise invalid("timezone", "unknown IANA time zone name") from error


def next_tick(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick of `cron` strictly after `after`, in UTC."""
    cronsim = import_optional("cronsim", extra="jobs")
    zone = _zone(timezone)
    try:
        iterator = cronsim.CronSim(cron, after.astimezone(zone))
        return next(iterator).astimezone(UTC)  # type: ignore[no-any-return]
    except (cronsim.CronSimError, StopIteration) as error:
        raise invalid("cron", "not a valid cron expression") from error


def new_schedule(
    name: str, job_type: str, data: Any, cron: str, timezone: str, options: dict[str, Any]
) -> Schedule:
    """A validated schedule whose first tick is the next one from now."""
    if not isinstance(name, str) or not name or len(name) > 200:
        raise invalid("name", "must be a non-empty string of at most 200 characters")
    check_job_type(job_type)
    if not isinstance(cron, str):
        raise invalid("cron", "not a valid cron expression")
    JobOptions(**options).checked()
    return Schedule(
        name=name,
        job_type=job_type,
        data_json=encode_json(data),
        cron=cron,
        timezone=timezone,
        next_run_at=next_tick(cron, timezone, datetime.now(UTC)),
        options=options,
    )


@dataclass(frozen=True, slots=True)
class Tick:
    """What firing a due schedule does: the job it adds and the tick after it."""

    job: NewJob
    next_run_at: datetime


def tick_job(schedule: Schedule, now: datetime) -> Tick:
    """The job for the latest passed tick (its id names the tick, so a tick adds one job)."""
    tick = schedule.next_run_at
    following = next_tick(schedule.cron, schedule.timezone, tick)
    while following <= now:
        tick, following = following, next_tick(schedule.cron, schedule.timezone, following)
    job = build_job(
        schedule.job_type,
        json.loads(schedule.data_json),
        JobOptions(**schedule.options),
        job_id=f"schedule:{schedule.name}:{tick.isoformat()}",
    )
    return Tick(job, following)
