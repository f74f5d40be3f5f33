"""`python -m infrakit.jobs`: worker, stats, pause, resume, retry and cancel from a shell."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infrakit.jobs import JobStatus, sync

APP = """
import os
from infrakit.jobs import JobQueue, SqliteJobStorage

queue = JobQueue(SqliteJobStorage(os.environ["JOBS_TEST_PATH"]), poll_interval=0.05)


async def double(job):
    return job.data * 2


queue.register_processor("double", double)
"""


@pytest.fixture
def app(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "jobs_app.py").write_text(APP, encoding="utf-8")
    environment = {**os.environ, "JOBS_TEST_PATH": str(tmp_path / "jobs.sqlite3")}
    environment["PYTHONPATH"] = os.pathsep.join([str(Path.cwd()), str(tmp_path)])
    return tmp_path, environment


def cli(app: tuple[Path, dict[str, str]], *arguments: str) -> subprocess.CompletedProcess[str]:
    directory, environment = app
    return subprocess.run(
        [sys.executable, "-m", "infrakit.jobs", *arguments],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def blocking_queue(app: tuple[Path, dict[str, str]]) -> sync.JobQueue:
    return sync.JobQueue(sync.SqliteJobStorage(app[1]["JOBS_TEST_PATH"]))


def test_stats_pause_resume_cancel_retry(app: tuple[Path, dict[str, str]]) -> None:
    with blocking_queue(app) as queue:
        job_id = queue.add_job("double", 2)
    paused = cli(app, "pause", "jobs_app:queue", "double")
    assert paused.returncode == 0, paused.stderr
    table = cli(app, "stats", "jobs_app:queue")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["job", "type", "waiting"]
    assert row.split()[0] == "double"
    assert row.endswith("(paused)")
    assert cli(app, "resume", "jobs_app:queue", "double").returncode == 0
    assert cli(app, "cancel", "jobs_app:queue", job_id).returncode == 0
    assert cli(app, "cancel", "jobs_app:queue", job_id).returncode == 1
    assert cli(app, "retry", "jobs_app:queue", job_id).returncode == 0
    with blocking_queue(app) as queue:
        assert queue.get_job(job_id).status == JobStatus.WAITING
        assert not queue.get_stats("double").is_paused


def test_bad_app_reference_is_a_usage_error(app: tuple[Path, dict[str, str]]) -> None:
    result = cli(app, "stats", "jobs_app:nothing_here")
    assert result.returncode == 2
    assert "cannot load" in result.stderr


def test_worker_runs_jobs_and_stops_on_sigterm(app: tuple[Path, dict[str, str]]) -> None:
    directory, environment = app
    with blocking_queue(app) as queue:
        job_id = queue.add_job("double", 21)
    log_file = (directory / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "infrakit.jobs", "worker", "jobs_app:queue"],
        cwd=directory,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        deadline = time.monotonic() + 60
        with blocking_queue(app) as queue:
            while queue.get_job(job_id).status != JobStatus.COMPLETED:
                log = (directory / "worker.log").read_text()
                assert time.monotonic() < deadline, f"the worker did not run the job: {log}"
                time.sleep(0.05)
            assert queue.get_job(job_id).result == 42
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log_file.close()
