"""One suite, every store: memory, SQLite and PostgreSQL must agree on every promise."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from infrakit.errors import ValidationError
from infrakit.jobs import (
    Backoff,
    Job,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobPriority,
    JobQueue,
    JobStatus,
    Lease,
    Outcome,
    Schedule,
)
from infrakit.jobs._rules import JobOptions, build_job
from tests.jobs.conftest import eventually, running_worker


async def noop(job: Job[Any]) -> Any:
    return job.data


# -- adding ------------------------------------------------------------------------------


async def test_setup_is_idempotent_and_keeps_jobs(queue: JobQueue, storage: Any) -> None:
    job_id = await queue.add_job("email")
    await storage.setup()
    await storage.setup()
    assert (await queue.get_job(job_id)).status == JobStatus.WAITING
    assert (await queue.get_stats("email")).waiting == 1


async def test_add_job_is_waiting_and_counted(queue: JobQueue) -> None:
    job_id = await queue.add_job("email", {"to": "a@example.com"})
    job = await queue.get_job(job_id)
    assert job.status == JobStatus.WAITING
    assert job.data == {"to": "a@example.com"}
    assert job.attempts == 0
    stats = await queue.get_stats("email")
    assert (stats.waiting, stats.active, stats.completed) == (1, 0, 0)


async def test_job_id_is_an_idempotency_key(queue: JobQueue) -> None:
    first = await queue.add_job("email", {"n": 1}, job_id="welcome-42")
    second = await queue.add_job("email", {"n": 2}, job_id="welcome-42")
    assert first == second == "welcome-42"
    assert (await queue.get_job("welcome-42")).data == {"n": 1}
    assert (await queue.get_stats("email")).waiting == 1


async def test_job_id_idempotent_under_twenty_concurrent_calls(queue: JobQueue) -> None:
    ids = await asyncio.gather(
        *(queue.add_job("email", {"n": n}, job_id="same") for n in range(20))
    )
    assert set(ids) == {"same"}
    assert (await queue.get_stats("email")).waiting == 1


async def test_finished_job_id_can_be_added_again(queue: JobQueue) -> None:
    queue.register_processor("email", noop)
    await queue.add_job("email", {"n": 1}, job_id="again")
    async with running_worker(queue):
        assert await queue.wait_for("again", timeout=10) == {"n": 1}
        await queue.add_job("email", {"n": 2}, job_id="again")
        assert await queue.wait_for("again", timeout=10) == {"n": 2}
    stats = await queue.get_stats("email")
    assert (stats.waiting, stats.completed) == (0, 1)


async def test_add_jobs_in_bulk(queue: JobQueue) -> None:
    ids = await queue.add_jobs("resize", [{"n": n} for n in range(50)], priority=JobPriority.HIGH)
    assert len(set(ids)) == 50
    assert (await queue.get_stats("resize")).waiting == 50
    job = await queue.get_job(ids[7])
    assert job.priority == JobPriority.HIGH
    assert job.data == {"n": 7}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda q: q.add_job("bad type!", {}), "/job_type"),
        (lambda q: q.add_job("email", {"x": object()}), "/data"),
        (lambda q: q.add_job("email", {}, delay=-1), "/delay"),
        (lambda q: q.add_job("email", {}, attempts=0), "/attempts"),
        (lambda q: q.add_job("email", {}, timeout=0), "/timeout"),
        (lambda q: q.add_job("email", {}, priority=10_000), "/priority"),
        (lambda q: q.add_job("email", {}, on_parent_failure="explode"), "/on_parent_failure"),
        (lambda q: q.add_job("email", {}, depends_on=["no-such-job"]), "/depends_on"),
        (lambda q: q.add_jobs("email", [{}, {"x": {1, 2}}]), "/data"),
        (lambda q: q.add_jobs("email", [{}], colour="red"), "/colour"),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    queue: JobQueue, call: Any, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await call(queue)
    assert caught.value.errors[0]["pointer"] == f"#{field}"
    stats = await queue.get_stats("email")
    assert stats.waiting == stats.blocked == stats.failed == 0


class Thumbnail(pydantic.BaseModel):
    path: str = "a.jpg"
    width: int = 128


async def test_pydantic_payload_is_validated_back_into_its_type(queue: JobQueue) -> None:
    seen: list[Any] = []

    async def make_thumbnail(job: Job[Thumbnail]) -> int:
        seen.append(job.data)
        return job.data.width

    queue.register_processor("thumbnail", make_thumbnail)
    job_id = await queue.add_job("thumbnail", Thumbnail(path="a.jpg", width=64))
    assert (await queue.get_job(job_id)).data == {"path": "a.jpg", "width": 64}
    async with running_worker(queue):
        assert await queue.wait_for(job_id, timeout=10) == 64
    assert seen == [Thumbnail(path="a.jpg", width=64)]


async def test_payload_that_does_not_fit_the_model_fails_without_retry(queue: JobQueue) -> None:
    async def make_thumbnail(job: Job[Thumbnail]) -> None:
        return None

    queue.register_processor("thumbnail", make_thumbnail)
    job_id = await queue.add_job("thumbnail", {"width": "wide"}, attempts=5)
    async with running_worker(queue):
        with pytest.raises(JobFailedError):
            await queue.wait_for(job_id, timeout=10)
    job = await queue.get_job(job_id)
    assert job.attempts == 1
    assert "width" in (job.last_error or "")


# -- running -----------------------------------------------------------------------------


async def test_worker_runs_jobs_and_stores_results(queue: JobQueue) -> None:
    queue.register_processor("double", lambda job: job.data * 2)  # sync: runs in a thread
    ids = await queue.add_jobs("double", [1, 2, 3])
    async with running_worker(queue):
        results = [await queue.wait_for(job_id, timeout=10) for job_id in ids]
    assert results == [2, 4, 6]
    job = await queue.get_job(ids[0])
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 1
    assert job.started_at is not None
    assert job.finished_at is not None
    stats = await queue.get_stats("double")
    assert (stats.waiting, stats.active, stats.completed) == (0, 0, 3)


async def test_sync_processor_runs_outside_the_event_loop_thread(queue: JobQueue) -> None:
    threads: list[int] = []
    queue.register_processor("where", lambda job: threads.append(threading.get_ident()))
    job_id = await queue.add_job("where")
    async with running_worker(queue):
        await queue.wait_for(job_id, timeout=10)
    assert threads
    assert threads[0] != threading.get_ident()


async def test_priority_then_time_decides_the_order(queue: JobQueue, storage: Any) -> None:
    low = await queue.add_job("work", "low", priority=JobPriority.LOW)
    normal_first = await queue.add_job("work", "normal-1")
    urgent = await queue.add_job("work", "urgent", priority=JobPriority.URGENT)
    normal_second = await queue.add_job("work", "normal-2")
    claimed = await storage.claim_jobs(["work"], 10, "test")
    assert [job.id for job in claimed] == [urgent, normal_first, normal_second, low]
    assert all(job.status == JobStatus.ACTIVE and job.attempts == 1 for job in claimed)
    assert (await queue.get_stats("work")).active == 4


async def test_failed_attempts_are_retried_with_backoff(queue: JobQueue) -> None:
    calls: list[int] = []

    async def flaky(job: Job[Any]) -> str:
        calls.append(job.attempts)
        if job.attempts < 3:
            raise RuntimeError("not yet")
        return "done"

    queue.register_processor("flaky", flaky)
    job_id = await queue.add_job("flaky", attempts=3, backoff=Backoff.fixed(0))
    async with running_worker(queue):
        assert await queue.wait_for(job_id, timeout=10) == "done"
    assert calls == [1, 2, 3]
    assert (await queue.get_job(job_id)).last_error == "RuntimeError: not yet"


async def test_job_fails_for_good_after_its_attempts(queue: JobQueue) -> None:
    async def broken(job: Job[Any]) -> None:
        raise ValueError("bad input file")

    queue.register_processor("broken", broken, backoff=lambda attempt: 0.0)
    job_id = await queue.add_job("broken", attempts=2)
    async with running_worker(queue):
        with pytest.raises(JobFailedError) as caught:
            await queue.wait_for(job_id, timeout=10)
    assert "bad input file" in caught.value.message
    job = await queue.get_job(job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    stats = await queue.get_stats("broken")
    assert (stats.failed, stats.waiting, stats.delayed, stats.active) == (1, 0, 0, 0)


async def test_stored_errors_never_hold_a_secret(queue: JobQueue) -> None:
    from infrakit._internal.secrets import register_secret

    register_secret("hunter2-job-secret")

    async def leaky(job: Job[Any]) -> None:
        raise RuntimeError(
            "login failed for postgresql://app:s3cr3t-pw@db/x with hunter2-job-secret"
        )

    queue.register_processor("leaky", leaky)
    job_id = await queue.add_job("leaky", attempts=1)
    async with running_worker(queue):
        with pytest.raises(JobFailedError):
            await queue.wait_for(job_id, timeout=10)
    stored = (await queue.get_job(job_id)).last_error or ""
    assert "login failed" in stored
    assert "s3cr3t-pw" not in stored
    assert "hunter2-job-secret" not in stored


async def test_retry_waits_for_its_backoff(queue: JobQueue) -> None:
    async def broken(job: Job[Any]) -> None:
        raise RuntimeError("down")

    queue.register_processor("broken", broken)
    job_id = await queue.add_job("broken", attempts=3, backoff=Backoff.fixed(3600))
    async with running_worker(queue):
        await eventually(lambda: queue.get_stats("broken"), timeout=10)
        job = await eventually(lambda: _with_status(queue, job_id, JobStatus.DELAYED))
    assert job.attempts == 1
    assert job.run_at is not None
    assert job.run_at > datetime.now(UTC) + timedelta(minutes=50)
    assert (await queue.get_stats("broken")).delayed == 1


async def test_timeout_cancels_the_attempt_and_counts_it(queue: JobQueue) -> None:
    started = asyncio.Event()

    async def slow(job: Job[Any]) -> None:
        started.set()
        await asyncio.sleep(60)

    queue.register_processor("slow", slow)
    job_id = await queue.add_job("slow", timeout=0.1, attempts=1)
    async with running_worker(queue):
        with pytest.raises(JobFailedError):
            await queue.wait_for(job_id, timeout=10)
    job = await queue.get_job(job_id)
    assert "timed out" in (job.last_error or "")
    assert job.attempts == 1


async def test_a_result_that_is_not_json_fails_without_retry(queue: JobQueue) -> None:
    queue.register_processor("odd", lambda job: {1, 2})
    job_id = await queue.add_job("odd", attempts=3)
    async with running_worker(queue):
        with pytest.raises(JobFailedError):
            await queue.wait_for(job_id, timeout=10)
    job = await queue.get_job(job_id)
    assert job.attempts == 1
    assert "not JSON-serialisable" in (job.last_error or "")


async def test_processor_timeout_error_is_an_ordinary_failure(queue: JobQueue) -> None:
    async def calls_a_slow_service(job: Job[Any]) -> None:
        raise TimeoutError("the service did not answer")

    queue.register_processor("remote", calls_a_slow_service)
    job_id = await queue.add_job("remote", attempts=1, timeout=30)
    async with running_worker(queue):
        with pytest.raises(JobFailedError):
            await queue.wait_for(job_id, timeout=10)
    assert "did not answer" in ((await queue.get_job(job_id)).last_error or "")


async def test_wait_for_times_out_and_unknown_ids_raise(queue: JobQueue) -> None:
    job_id = await queue.add_job("nobody-runs-this")
    with pytest.raises(TimeoutError):
        await queue.wait_for(job_id, timeout=0.05)
    with pytest.raises(JobNotFoundError):
        await queue.get_job("missing")


# -- delays ------------------------------------------------------------------------------


async def test_delayed_job_waits_then_runs(queue: JobQueue, storage: Any) -> None:
    queue.register_processor("later", noop)
    job_id = await queue.add_job("later", "x", delay=0.3)
    assert (await queue.get_job(job_id)).status == JobStatus.DELAYED
    assert (await queue.get_stats("later")).delayed == 1
    assert await storage.claim_jobs(["later"], 10, "test") == []
    async with running_worker(queue):
        assert await queue.wait_for(job_id, timeout=10) == "x"
    stats = await queue.get_stats("later")
    assert (stats.delayed, stats.completed) == (0, 1)


async def test_run_at_in_the_future_is_delayed(queue: JobQueue) -> None:
    job_id = await queue.add_job("later", run_at=datetime.now(UTC) + timedelta(hours=1))
    assert (await queue.get_job(job_id)).status == JobStatus.DELAYED


# -- dependencies ------------------------------------------------------------------------


async def test_child_is_blocked_until_every_parent_completes(queue: JobQueue, storage: Any) -> None:
    first = await queue.add_job("step", "a")
    second = await queue.add_job("step", "b")
    child = await queue.add_job("step", "c", depends_on=[first, second])
    job = await queue.get_job(child)
    assert job.status == JobStatus.BLOCKED
    assert job.blocked_reason
    assert (await queue.get_stats("step")).blocked == 1
    claimed = {job.id: job for job in await storage.claim_jobs(["step"], 10, "test")}
    assert set(claimed) == {first, second}
    await storage.complete_jobs([Outcome(Lease(first, claimed[first].lease_token), "1")])
    assert (await queue.get_job(child)).status == JobStatus.BLOCKED
    await storage.complete_jobs([Outcome(Lease(second, claimed[second].lease_token), "2")])
    assert (await queue.get_job(child)).status == JobStatus.WAITING
    stats = await queue.get_stats("step")
    assert (stats.blocked, stats.waiting, stats.completed) == (0, 1, 2)


async def test_chain_job_runs_after_its_parent(queue: JobQueue) -> None:
    order: list[str] = []

    async def record(job: Job[Any]) -> None:
        order.append(job.data)

    queue.register_processor("step", record)
    parent = await queue.add_job("step", "parent")
    child = await queue.chain_job("step", "child", parent)
    async with running_worker(queue):
        await queue.wait_for(child, timeout=10)
    assert order == ["parent", "child"]


@pytest.mark.parametrize(
    ("policy", "status"),
    [("fail", JobStatus.FAILED), ("cancel", JobStatus.CANCELLED), ("ignore", JobStatus.WAITING)],
)
async def test_parent_failure_applies_the_child_policy(
    queue: JobQueue, storage: Any, policy: str, status: JobStatus
) -> None:
    parent = await queue.add_job("step", attempts=1)
    child = await queue.add_job("step", depends_on=parent, on_parent_failure=policy)
    grandchild = await queue.add_job("step", depends_on=child)
    [claimed] = await storage.claim_jobs(["step"], 10, "test")
    assert await storage.fail_job(Lease(parent, claimed.lease_token), "boom", None)
    job = await queue.get_job(child)
    assert job.status == status
    if policy != "ignore":
        assert parent in (job.blocked_reason or "")
        assert (await queue.get_job(grandchild)).status == JobStatus.FAILED
    else:
        assert (await queue.get_job(grandchild)).status == JobStatus.BLOCKED
    stats = await queue.get_stats("step")
    assert stats.failed + stats.cancelled + stats.waiting + stats.blocked == 3


async def test_child_of_an_already_failed_parent_follows_its_policy(
    queue: JobQueue, storage: Any
) -> None:
    parent = await queue.add_job("step", attempts=1)
    [claimed] = await storage.claim_jobs(["step"], 1, "test")
    await storage.fail_job(Lease(parent, claimed.lease_token), "boom", None)
    child = await queue.add_job("step", depends_on=parent, on_parent_failure="cancel")
    assert (await queue.get_job(child)).status == JobStatus.CANCELLED
    with pytest.raises(JobCancelledError):
        await queue.wait_for(child, timeout=1)


# -- leases and fencing ------------------------------------------------------------------


async def test_expired_lease_is_recovered_and_the_old_worker_is_fenced(
    make_storage: Any,
) -> None:
    storage = await make_storage(lease_seconds=0.2)
    queue = JobQueue(storage)
    job_id = await queue.add_job("work", attempts=5)
    [first] = await storage.claim_jobs(["work"], 1, "worker-a")

    async def recovered() -> bool:
        await storage.maintain()
        return (await storage.get_job(job_id)).status == JobStatus.WAITING

    await eventually(recovered)
    [second] = await storage.claim_jobs(["work"], 1, "worker-b")
    assert second.lease_token != first.lease_token
    assert second.attempts == 2
    assert await storage.complete_jobs([Outcome(Lease(job_id, first.lease_token), "1")]) == set()
    assert not await storage.fail_job(Lease(job_id, first.lease_token), "late", None)
    assert await storage.renew_leases([Lease(job_id, first.lease_token)]) == set()
    assert await storage.complete_jobs([Outcome(Lease(job_id, second.lease_token), "2")]) == {
        job_id
    }
    stats = await queue.get_stats("work")
    assert (stats.active, stats.completed, stats.waiting) == (0, 1, 0)


async def test_heartbeat_keeps_a_long_job_leased(make_storage: Any) -> None:
    storage = await make_storage(lease_seconds=0.3)
    queue = JobQueue(storage, poll_interval=0.05)
    release = asyncio.Event()

    async def long(job: Job[Any]) -> str:
        await release.wait()
        return "ok"

    renewed: list[set[str]] = []
    renew = storage.renew_leases

    async def counted_renew(leases: Any) -> set[str]:  # the real call, counted
        held = await renew(leases)
        renewed.append(held)
        return held  # type: ignore[no-any-return]

    storage.renew_leases = counted_renew
    queue.register_processor("long", long)
    job_id = await queue.add_job("long", attempts=1)
    async with running_worker(queue):
        await eventually(lambda: sum(job_id in held for held in renewed) >= 6)
        await storage.maintain()  # six renewals span several leases: none expired
        job = await queue.get_job(job_id)
        assert (job.status, job.attempts) == (JobStatus.ACTIVE, 1)
        release.set()
        assert await queue.wait_for(job_id, timeout=10) == "ok"


async def test_shutdown_releases_unfinished_jobs_without_spending_an_attempt(
    queue: JobQueue,
) -> None:
    async def forever(job: Job[Any]) -> None:
        await asyncio.sleep(3600)

    queue.register_processor("forever", forever)
    job_id = await queue.add_job("forever")
    async with running_worker(queue, shutdown_timeout=0.1):
        await eventually(lambda: _with_status(queue, job_id, JobStatus.ACTIVE))
    job = await queue.get_job(job_id)
    assert (job.status, job.attempts) == (JobStatus.WAITING, 0)
    stats = await queue.get_stats("forever")
    assert (stats.waiting, stats.active) == (1, 0)


async def test_running_jobs_finish_within_the_shutdown_timeout(queue: JobQueue) -> None:
    started = asyncio.Event()

    async def short(job: Job[Any]) -> str:
        started.set()
        await asyncio.sleep(0.2)
        return "finished"

    queue.register_processor("short", short)
    job_id = await queue.add_job("short")
    async with running_worker(queue, shutdown_timeout=10):
        await started.wait()
    assert (await queue.get_job(job_id)).result == "finished"


# -- steering ----------------------------------------------------------------------------


async def test_pause_and_resume_are_honoured(queue: JobQueue, storage: Any) -> None:
    await queue.add_job("mail")
    await queue.pause_queue("mail")
    stats = await queue.get_stats("mail")
    assert (stats.is_paused, stats.paused, stats.waiting) == (True, 1, 0)
    assert await storage.claim_jobs(["mail"], 10, "test") == []
    await queue.resume_queue("mail")
    assert (await queue.get_stats("mail")).waiting == 1
    assert len(await storage.claim_jobs(["mail"], 10, "test")) == 1


async def test_cancel_and_retry(queue: JobQueue) -> None:
    job_id = await queue.add_job("mail")
    assert await queue.cancel_job(job_id)
    assert not await queue.cancel_job(job_id)
    assert (await queue.get_job(job_id)).status == JobStatus.CANCELLED
    assert (await queue.get_stats("mail")).cancelled == 1
    assert await queue.retry_job(job_id)
    assert not await queue.retry_job(job_id)
    job = await queue.get_job(job_id)
    assert (job.status, job.attempts) == (JobStatus.WAITING, 0)
    stats = await queue.get_stats("mail")
    assert (stats.cancelled, stats.waiting) == (0, 1)


async def test_cancelled_active_job_cannot_complete(queue: JobQueue, storage: Any) -> None:
    job_id = await queue.add_job("mail")
    [claimed] = await storage.claim_jobs(["mail"], 1, "test")
    assert await queue.cancel_job(job_id)
    lease = Lease(job_id, claimed.lease_token)
    assert await storage.complete_jobs([Outcome(lease, "1")]) == set()
    stats = await queue.get_stats("mail")
    assert (stats.active, stats.cancelled, stats.completed) == (0, 1, 0)


async def test_retention_removes_old_finished_jobs(queue: JobQueue, storage: Any) -> None:
    keep = await queue.add_job("mail")
    gone = await queue.add_job("mail")
    assert await queue.cancel_job(gone)
    assert await queue.purge(older_than=0) == 1
    assert await storage.get_job(gone) is None
    assert await storage.get_job(keep) is not None
    stats = await queue.get_stats("mail")
    assert (stats.cancelled, stats.waiting) == (0, 1)


async def test_save_job_and_get_jobs_by_status(storage: Any, queue: JobQueue) -> None:
    ids = await queue.add_jobs("mail", ["a", "b", "c"])
    waiting = await storage.get_jobs_by_status("mail", JobStatus.WAITING, limit=2)
    assert [job.id for job in waiting] == ids[:2]
    job = await storage.get_job(ids[0])
    from dataclasses import replace

    await storage.save_job(replace(job, status=JobStatus.FAILED, last_error="by hand"))
    assert (await storage.get_job(ids[0])).last_error == "by hand"
    stats = await queue.get_stats("mail")
    assert (stats.waiting, stats.failed) == (2, 1)


# -- schedules ---------------------------------------------------------------------------


async def test_schedule_validation(queue: JobQueue) -> None:
    with pytest.raises(ValidationError) as caught:
        await queue.schedule("nightly", "report", cron="not a cron")
    assert caught.value.errors[0]["pointer"] == "#/cron"
    with pytest.raises(ValidationError) as caught:
        await queue.schedule("nightly", "report", cron="0 3 * * *", timezone="Mars/Olympus")
    assert caught.value.errors[0]["pointer"] == "#/timezone"


async def test_one_job_per_tick_however_many_try(queue: JobQueue, storage: Any) -> None:
    tick = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    schedule = Schedule("every-minute", "report", "{}", "* * * * *", "UTC", tick, {})
    await storage.save_schedule(schedule)
    [due] = await storage.due_schedules()
    job = build_job("report", {}, JobOptions(), job_id=f"schedule:every-minute:{tick.isoformat()}")
    after = tick + timedelta(minutes=2)
    wins = await asyncio.gather(*(storage.fire_schedule(due, after, job) for _ in range(5)))
    assert sum(wins) == 1
    assert (await queue.get_stats("report")).waiting == 1
    assert await storage.due_schedules() == []


async def test_worker_fires_due_schedules(queue: JobQueue, storage: Any) -> None:
    await queue.schedule("report-every-minute", "report", {"kind": "daily"}, cron="* * * * *")
    assert await storage.due_schedules() == []  # its first tick is in the future
    past = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    await storage.save_schedule(
        Schedule("report-now", "report", '{"kind": "daily"}', "* * * * *", "UTC", past, {})
    )
    queue.register_processor("report", noop)
    async with running_worker(queue):
        await eventually(lambda: _completed(queue, "report", 1))
    stats = await queue.get_stats("report")
    assert stats.completed == 1  # three missed ticks coalesce into one run


async def _completed(queue: JobQueue, job_type: str, count: int) -> bool:
    return (await queue.get_stats(job_type)).completed >= count


async def _with_status(queue: JobQueue, job_id: str, status: JobStatus) -> Job[Any] | None:
    job = await queue.get_job(job_id)
    return job if job.status == status else None
