"""Every script in examples/ runs to completion (exit 0) against the real services it uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Scripts that talk to a server get its URL through the variable they read.
NEEDS_DATABASE = {"db_basics.py", "db_transactions.py", "flask_app.py"}
NEEDS_REDIS: set[str] = set()


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.name)
def test_example_runs(script: Path, request: pytest.FixtureRequest) -> None:
    environment = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
    if script.name in NEEDS_DATABASE:
        environment["DATABASE_URL"] = request.getfixturevalue("database_url")
    if script.name in NEEDS_REDIS:
        environment["CACHE_URL"] = request.getfixturevalue("redis_url")
    completed = subprocess.run(
        [sys.executable, script.name],
        cwd=EXAMPLES,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
