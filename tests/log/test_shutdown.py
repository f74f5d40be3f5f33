"""Bounded shutdown and reconfiguration: a sink that never returns cannot hold anyone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infrakit.log import LogEntry, QueuedTransport, configure_logging, get_logger, shutdown_logging
from tests.log.conftest import MemoryTransport

ROOT = Path(__file__).resolve().parents[2]
# Generous bounds for the calls under test: reaching one would fail the test, not time it.
NEVER = 60.0


class HungSink(MemoryTransport):
    """A sink whose `log` (and `flush`) block on an Event nobody sets until the test ends."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def log(self, entry: LogEntry) -> None:
        self.entered.set()
        self.release.wait()
        super().log(entry)

    def flush(self) -> None:
        self.release.wait()


@pytest.fixture
def hung() -> Iterator[HungSink]:
    sink = HungSink()
    yield sink
    sink.release.set()  # let the stuck daemon threads finish


def entry(number: int) -> LogEntry:
    return LogEntry(0.0, "INFO", 20, "app", str(number))


def run_bounded(function: Callable[..., object], *args: object, **kwargs: object) -> list[object]:
    """Run `function` in a thread and wait for it: it must return while the sink is stuck."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(function(*args, **kwargs)), daemon=True)
    thread.start()
    thread.join(NEVER)
    assert not thread.is_alive(), "the call waited for a sink that never returns"
    return result


def test_close_gives_up_on_a_hung_sink_and_says_how_many(
    hung: HungSink, capsys: pytest.CaptureFixture[str]
) -> None:
    queued = QueuedTransport(hung, max_size=100)
    for number in range(5):
        queued.log(entry(number))
    assert hung.entered.wait(NEVER)
    [unwritten] = run_bounded(queued.close, 0.05)
    assert unwritten == 5  # the one stuck in the sink and the four behind it
    assert not hung.release.is_set()
    assert "5 record(s) not written: QueuedTransport(HungSink)" in capsys.readouterr().err


def test_records_after_a_given_up_close_never_reach_the_stuck_sink(hung: HungSink) -> None:
    queued = QueuedTransport(hung, max_size=10, overflow="block")
    queued.log(entry(0))
    assert hung.entered.wait(NEVER)
    run_bounded(queued.close, 0.05)
    run_bounded(queued.log, entry(1))  # would block forever if written through
    assert queued.dropped == 1


def test_a_blocked_producer_is_freed_by_close(hung: HungSink) -> None:
    queued = QueuedTransport(hung, max_size=2, overflow="block")
    producer = threading.Thread(target=lambda: [queued.log(entry(n)) for n in range(10)])
    producer.start()
    assert hung.entered.wait(NEVER)
    run_bounded(queued.close, 0.05)
    producer.join(NEVER)
    assert not producer.is_alive()


def test_shutdown_logging_is_bounded_and_returns_the_count(
    hung: HungSink, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", sinks=[hung], non_blocking=True, close_timeout=0.05)
    for number in range(3):
        get_logger("app").info("record", number=number)
    assert hung.entered.wait(NEVER)
    [unwritten] = run_bounded(shutdown_logging)
    assert unwritten == 3
    assert "3 record(s) not written" in capsys.readouterr().err


def test_shutdown_is_bounded_for_a_direct_sink_whose_flush_hangs(
    hung: HungSink, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", sinks=[hung], close_timeout=0.05)
    run_bounded(shutdown_logging)
    assert "HungSink did not finish" in capsys.readouterr().err


def test_reconfiguring_never_waits_for_a_slow_sink(hung: HungSink) -> None:
    configure_logging("INFO", sinks=[hung], non_blocking=True, close_timeout=0.05)
    get_logger("app").info("stuck")
    assert hung.entered.wait(NEVER)
    memory = MemoryTransport()
    run_bounded(configure_logging, "INFO")  # the old queue retires in the background
    configure_logging("INFO", sinks=[memory])
    get_logger("app").info("after")
    assert memory.messages == ["after"]
    assert not hung.release.is_set()  # the old sink is still stuck, nobody waited for it


def test_reconfiguring_a_direct_sink_whose_flush_hangs_does_not_wait(hung: HungSink) -> None:
    configure_logging("INFO", sinks=[hung], close_timeout=0.05)
    run_bounded(configure_logging, "INFO", sinks=[MemoryTransport()])
    assert not hung.release.is_set()


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "5", True, None])
def test_a_bad_close_timeout_is_a_configuration_error(bad: object) -> None:
    from infrakit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="close_timeout"):
        configure_logging("INFO", close_timeout=bad)  # type: ignore[arg-type]


@pytest.mark.slow
def test_the_interpreter_exits_with_a_hung_sink(tmp_path: Path) -> None:
    script = tmp_path / "hung.py"
    script.write_text(
        textwrap.dedent(
            """
            import threading
            from infrakit.log import configure_logging, get_logger

            never = threading.Event()

            class Hung:
                def log(self, entry):
                    never.wait()

            configure_logging("INFO", sinks=[Hung()], non_blocking=True, close_timeout=0.2)
            for number in range(10):
                get_logger("app").info("record", number=number)
            print("main done", flush=True)
            """
        )
    )
    finished = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=NEVER,  # a safety net: reaching it means the interpreter hung
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "main done\n"
    assert "10 record(s) not written: QueuedTransport(Hung) did not finish" in finished.stderr


def test_shutdown_reports_a_stuck_queue_of_an_earlier_configuration(
    hung: HungSink, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", sinks=[hung], non_blocking=True, close_timeout=30)
    get_logger("app").info("stuck")
    assert hung.entered.wait(NEVER)
    configure_logging("INFO", sinks=[MemoryTransport()], close_timeout=0.05)
    run_bounded(shutdown_logging)
    assert "an earlier configuration's transport did not finish" in capsys.readouterr().err


def test_flush_is_bounded_too(hung: HungSink) -> None:
    queued = QueuedTransport(hung, max_size=10)
    queued.log(entry(0))
    assert hung.entered.wait(NEVER)
    assert run_bounded(queued.flush, 0.05) == [False]
    assert queued.pending == 1
    run_bounded(queued.close, 0.05)
    assert run_bounded(queued.flush) == [False]  # given up: never waits on the stuck sink
