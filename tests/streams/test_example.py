"""examples/stream_copy_with_progress.py runs to the end and prints its progress lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stream_copy_with_progress.py"


def test_the_stream_example_runs() -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "stream example done" in completed.stdout
    assert "compress: 3.8 MiB of 3.8 MiB (100%)" in completed.stderr  # plain lines: no terminal
