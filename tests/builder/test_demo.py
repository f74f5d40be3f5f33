"""`make demo` shows what it claims: JSON lines with context, secrets masked, memoize, a problem."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def test_the_quickstart_demo_masks_secrets_and_shows_each_feature() -> None:
    environment = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
    completed = subprocess.run(
        [sys.executable, "quickstart.py"],
        cwd=EXAMPLES,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    records = [json.loads(line) for line in completed.stderr.splitlines() if line.startswith("{")]
    messages = {record["message"]: record for record in records}
    payments = messages["calling the payments API with ***"]
    assert (payments["request_id"], payments["user"]) == ("req-42", "ann")
    assert "upstream rejected ***" in messages
    everything = completed.stdout + completed.stderr
    assert re.search(r"tok_[0-9a-f]{24}", everything) is None
    assert "demo-api-token-not-for-production" not in everything
    assert "computed 1 time(s)" in completed.stdout
    assert "hits=2 misses=1" in completed.stdout
    assert '"code": "USER_NOT_FOUND"' in completed.stdout
    assert "infrastructure stopped" in messages
