"""The gallery demo (examples/gallery/app.py) in a subprocess, for the tests beside this file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
GALLERY_APP = ROOT / "examples" / "gallery" / "app.py"
BANNER = re.compile(r"^gallery: open (http://\S+/)$")
START_SECONDS = 30.0
STOP_SECONDS = 30.0
# Variables of the test's own environment that would change what the demo runs on.
FOREIGN_VARIABLES = {
    "APP_ENV",
    "CI",
    "DEMO_SMOKE",
    "DATABASE_URL",
    "CACHE_URL",
    "CACHE_PREFIX",
    "STORAGE_URL",
    "PUBSUB_BACKPLANE",
    "PUBSUB_REDIS_URL",
    "REDIS_URL",
    "JOBS_SCHEMA",
}


def gallery_environment(data_dir: Path, **variables: str) -> dict[str, str]:
    """The test's environment without FOREIGN_VARIABLES, on port 0 and `data_dir`."""
    environment = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
    return environment | {"SERVER_PORT": "0", "GALLERY_DATA_DIR": str(data_dir)} | variables


def run_smoke(environment: dict[str, str], *, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python examples/gallery/app.py` in smoke mode, to its end."""
    return subprocess.run(
        [sys.executable, str(GALLERY_APP)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class RunningGallery:
    """The demo serving in the background: its URL once it printed it, and a SIGTERM stop."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.stdout: list[str] = []
        self.url = ""
        self._serving = threading.Event()
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(GALLERY_APP)],
                cwd=GALLERY_APP.parent,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def wait_serving(self) -> str:
        self._serving.wait(START_SECONDS)
        assert self.url, f"the gallery printed no 'gallery: open' line\n{self.output()}"
        return self.url

    def stop(self) -> int:
        """SIGTERM, as a process manager stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def output(self) -> str:
        stderr = self.log_path.read_text(encoding="utf-8", errors="replace")
        stdout = "\n".join(self.stdout)
        return f"--- gallery stdout ---\n{stdout}\n--- gallery stderr (tail) ---\n{stderr[-6000:]}"

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.stdout.append(line.rstrip("\n"))
            if (match := BANNER.match(self.stdout[-1])) and not self.url:
                self.url = match.group(1)
                self._serving.set()
        self._serving.set()
