from __future__ import annotations

import atexit
import gc
import io
import json
from pathlib import Path

import pytest

import infrakit.log
from infrakit.errors import ConfigurationError
from infrakit.log import configure_logging, get_logger, shutdown_logging


def test_public_names_are_sorted_and_importable() -> None:
    assert infrakit.log.__all__ == sorted(infrakit.log.__all__)
    for name in infrakit.log.__all__:
        assert getattr(infrakit.log, name) is not None


def test_stream_sinks_use_the_format() -> None:
    json_stream, pretty_stream = io.StringIO(), io.StringIO()
    configure_logging("INFO", format="json", sinks=[json_stream])
    get_logger("fmt").info("as json")
    configure_logging("INFO", format="pretty", sinks=[pretty_stream])
    get_logger("fmt").info("as text")
    assert json.loads(json_stream.getvalue())["message"] == "as json"
    assert pretty_stream.getvalue().rstrip().endswith("INFO     fmt as text")


def test_default_sink_follows_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", format="json")
    get_logger("default").info("to stderr")
    assert json.loads(capsys.readouterr().err)["message"] == "to stderr"


def test_unconfigured_logging_writes_pretty_info_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutdown_logging()
    get_logger("fresh").debug("hidden")
    get_logger("fresh").info("visible")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert "INFO     fresh visible" in err


@pytest.mark.parametrize(
    "options",
    [
        {"format": "xml"},
        {"levels": {"app": "CHATTY"}},
        {"sinks": [42]},
        {"non_blocking": True, "overflow": "spill"},
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        configure_logging("INFO", **options)  # type: ignore[arg-type]


def test_a_failed_configure_keeps_the_previous_pipeline() -> None:
    stream = io.StringIO()
    configure_logging("INFO", format="json", sinks=[stream])
    with pytest.raises(ConfigurationError):
        configure_logging("INFO", sinks=[object()])  # type: ignore[list-item]
    get_logger("kept").info("still configured")
    assert json.loads(stream.getvalue())["message"] == "still configured"


def test_configure_registers_shutdown_at_exit() -> None:
    from infrakit.log import _configure

    configure_logging("INFO", sinks=[io.StringIO()])
    assert _configure._atexit_registered
    assert atexit._ncallbacks() >= 1


def test_a_function_sink_receives_each_line_in_the_format() -> None:
    lines: list[str] = []
    configure_logging("INFO", format="json", sinks=[lines.append])
    get_logger("function").info("to a function", n=1)
    assert [json.loads(line)["n"] for line in lines] == [1]


def test_a_bad_sink_closes_the_files_opened_before_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        configure_logging("INFO", sinks=[tmp_path / "first.log", 42])  # type: ignore[list-item]
    # an unclosed file would raise ResourceWarning (an error here) when collected
    gc.collect()
    assert (tmp_path / "first.log").exists()
