from __future__ import annotations

import io
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from infrakit.errors import ConfigurationError
from infrakit.log import (
    ConsoleTransport,
    FileTransport,
    LogEntry,
    LogTransport,
    QueuedTransport,
    configure_logging,
    get_logger,
    shutdown_logging,
)
from tests.log.conftest import MemoryTransport


def entry(message: str = "hello", **metadata: object) -> LogEntry:
    return LogEntry(time.time(), "INFO", 20, "app.test", message, {"request_id": "r"}, metadata)


def test_builtins_satisfy_the_transport_protocol(tmp_path: Path) -> None:
    file_transport = FileTransport(tmp_path / "app.log")
    queued = QueuedTransport(MemoryTransport())
    try:
        for transport in (ConsoleTransport(), file_transport, queued, MemoryTransport()):
            assert isinstance(transport, LogTransport)
    finally:
        file_transport.close()
        queued.close()


def test_console_line_is_readable_and_uncoloured_off_a_terminal() -> None:
    stream = io.StringIO()
    ConsoleTransport(stream).log(entry("started", port=8000, note="two words"))
    line = stream.getvalue()
    assert "\x1b[" not in line
    assert "INFO     app.test started  request_id=r port=8000 note='two words'" in line
    assert line.endswith("\n")


def test_console_time_is_local_to_the_millisecond_across_seconds() -> None:
    stream = io.StringIO()
    console = ConsoleTransport(stream)
    moments = [1_700_000_000.25, 1_700_000_000.999, 1_700_000_001.5, 1_600_000_000.0]
    for moment in moments:  # the seconds prefix is cached: each new second must show
        console.log(LogEntry(moment, "INFO", 20, "app.test", "tick", {}, {}))
    stamps = [line[:23] for line in stream.getvalue().splitlines()]
    expected = [
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(moment))}.{int(moment % 1 * 1000):03d}"
        for moment in moments
    ]
    assert stamps == expected


def test_console_colours_when_forced() -> None:
    stream = io.StringIO()
    ConsoleTransport(stream, colour=True).log(entry())
    assert "\x1b[32mINFO" in stream.getvalue()


def test_console_prints_the_traceback_below_the_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", sinks=[ConsoleTransport(stream)])
    try:
        raise RuntimeError("exploded")
    except RuntimeError:
        get_logger("app").exception("failed")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("ERROR    app failed")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: exploded"


def test_file_transport_writes_json_lines_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    transport = FileTransport(path, rotation="300 B", retention=2)
    for number in range(20):
        transport.log(entry("line", number=number))
    transport.close()
    files = sorted(tmp_path.iterdir())
    assert 2 <= len(files) <= 3  # the current file plus at most two kept by retention
    last = [json.loads(line) for line in path.read_text().splitlines()]
    assert last[-1]["number"] == 19
    assert all(record["message"] == "line" for record in last)


def test_file_transport_from_a_path_sink_uses_the_format(tmp_path: Path) -> None:
    path = tmp_path / "pretty.log"
    configure_logging("INFO", format="pretty", sinks=[str(path)])
    get_logger("files").info("to a file", size=1)
    shutdown_logging()
    assert "INFO     files to a file  size=1" in path.read_text()


def test_file_transport_rejects_bad_rotation(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Invalid file log options"):
        FileTransport(tmp_path / "bad.log", rotation="every full moon")


class SlowTransport(MemoryTransport):
    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()

    def log(self, entry: LogEntry) -> None:
        self.gate.wait()
        time.sleep(self.delay)
        super().log(entry)


def test_queued_flush_loses_nothing() -> None:
    slow = SlowTransport(delay=0.0005)
    queued = QueuedTransport(slow, max_size=1_000, overflow="block")
    for number in range(300):
        queued.log(entry(str(number)))
    queued.flush()
    assert slow.messages == [str(number) for number in range(300)]
    assert queued.pending == 0
    assert queued.dropped == 0
    queued.close()


def test_shutdown_logging_drains_the_non_blocking_queue() -> None:
    slow = SlowTransport(delay=0.001)
    slow.gate.clear()  # the sink is held: everything logged below is still queued
    configure_logging("INFO", sinks=[slow], non_blocking=True, queue_size=500)
    logger = get_logger("queued")
    for number in range(200):
        logger.info("record", number=number)
    assert slow.entries == []  # the caller did not wait for the sink
    slow.gate.set()
    shutdown_logging()
    assert [item.metadata["number"] for item in slow.entries] == list(range(200))


def test_drop_policy_counts_what_it_discards() -> None:
    slow = SlowTransport()
    slow.gate.clear()  # the sink is stuck: the queue fills up
    queued = QueuedTransport(slow, max_size=10, overflow="drop")
    for number in range(50):
        queued.log(entry(str(number)))
    assert queued.dropped >= 39  # one may already be held by the worker
    slow.gate.set()
    queued.close()
    assert len(slow.entries) + queued.dropped == 50
    assert slow.messages == sorted(slow.messages, key=int)


def test_block_policy_waits_for_room_and_keeps_everything() -> None:
    slow = SlowTransport()
    slow.gate.clear()
    queued = QueuedTransport(slow, max_size=5, overflow="block")

    def produce() -> None:
        for number in range(30):
            queued.log(entry(str(number)))

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(timeout=0.2)
    assert producer.is_alive()  # blocked on the full queue
    slow.gate.set()
    producer.join()
    queued.close()
    assert slow.messages == [str(number) for number in range(30)]
    assert queued.dropped == 0


def test_records_after_close_are_written_through() -> None:
    memory = MemoryTransport()
    queued = QueuedTransport(memory)
    queued.close()
    queued.close()
    queued.log(entry("late"))
    assert memory.messages == ["late"]


def test_queued_transport_validates_its_options() -> None:
    with pytest.raises(ConfigurationError):
        QueuedTransport(MemoryTransport(), max_size=0)
    with pytest.raises(ConfigurationError):
        QueuedTransport(MemoryTransport(), overflow="spill")  # type: ignore[arg-type]


def test_a_transport_passed_again_survives_reconfiguration(tmp_path: Path) -> None:
    path = tmp_path / "kept.log"
    transport = FileTransport(path)
    configure_logging("INFO", sinks=[transport])
    get_logger("kept").info("first")
    configure_logging("DEBUG", sinks=[transport], non_blocking=True)
    get_logger("kept").debug("second")
    configure_logging("DEBUG", sinks=[transport], non_blocking=True)  # keeps its queue
    get_logger("kept").debug("third")
    configure_logging("DEBUG", sinks=[transport])  # the queue retires in the background
    get_logger("kept").debug("fourth")
    shutdown_logging()
    messages = [json.loads(line)["message"] for line in path.read_text().splitlines()]
    # nothing is lost and the queue keeps its order; the retiring queue may finish after
    # the direct write of "fourth" (reconfiguring does not wait for the sink)
    assert messages[0] == "first"
    assert sorted(messages[1:]) == ["fourth", "second", "third"]
    assert messages.index("second") < messages.index("third")


def test_file_transport_rejects_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Unknown log format 'xml'"):
        FileTransport(tmp_path / "app.log", format="xml")  # type: ignore[arg-type]
    assert not (tmp_path / "app.log").exists()


def test_an_unwritable_file_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match="Cannot open log file"):
        FileTransport(blocker / "app.log")


def test_records_racing_with_close_are_all_written() -> None:
    memory = MemoryTransport()
    queued = QueuedTransport(memory, max_size=50, overflow="block")
    start = threading.Barrier(5)

    def produce(worker: int) -> None:
        start.wait()
        for number in range(2_000):
            queued.log(entry(f"{worker}-{number}"))

    producers = [threading.Thread(target=produce, args=(worker,)) for worker in range(4)]
    for producer in producers:
        producer.start()
    start.wait()
    queued.close()  # while the producers are still writing
    for producer in producers:
        producer.join()
    assert len(memory.entries) == 8_000
    assert len(set(memory.messages)) == 8_000


def test_pretty_shows_a_key_once_metadata_over_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", sinks=[ConsoleTransport(stream)])
    logger = get_logger("app").with_context(user="from-context", request_id="r")
    logger.info("twice", user="from-metadata")
    line = stream.getvalue()
    assert line.count("user=") == 1
    assert "user=from-metadata" in line
    assert "request_id=r" in line


class _Terminal(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def isatty(self) -> bool:
        self.asked += 1
        return True


def test_console_colour_is_decided_once_per_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    first, second = _Terminal(), _Terminal()
    transport = ConsoleTransport()  # follows sys.stderr
    for stream in (first, first, first, second):
        monkeypatch.setattr(sys, "stderr", stream)
        transport.log(entry())
    assert (first.asked, second.asked) == (1, 1)
    assert first.getvalue().count("\x1b[32mINFO") == 3
    monkeypatch.setenv("NO_COLOR", "1")
    third = _Terminal()
    monkeypatch.setattr(sys, "stderr", third)
    transport.log(entry())
    assert "\x1b[" not in third.getvalue()
