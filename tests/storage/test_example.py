"""examples/storage_local_and_s3.py: the local part always runs; the S3 part on moto."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.storage.conftest import S3_CREDENTIALS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "storage_local_and_s3.py"


def run(environment: dict[str, str]) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_without_an_endpoint_the_local_part_runs_and_s3_is_skipped_with_a_reason() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STORAGE_S3")}
    output = run(environment)
    assert "[local] saved avatars/ada.png: 72 bytes, image/png" in output
    assert "local part done" in output
    assert "S3 part skipped: no S3 endpoint configured" in output


@pytest.mark.s3
def test_with_moto_both_parts_run(moto_endpoint: str) -> None:
    environment = {
        **os.environ,
        "STORAGE_S3_ENDPOINT": moto_endpoint,
        "STORAGE_S3_BUCKET": f"infrakit-example-{uuid.uuid4().hex[:12]}",
        "STORAGE_S3_CREATE_BUCKET": "1",
        "AWS_ACCESS_KEY_ID": S3_CREDENTIALS["key"],
        "AWS_SECRET_ACCESS_KEY": S3_CREDENTIALS["secret"],
    }
    output = run(environment)
    assert "local part done" in output
    assert "[s3] saved avatars/ada.png: 72 bytes, image/png" in output
    assert "[s3] URL for 5 minutes: http://127.0.0.1" in output
    assert "S3 part done" in output
