from __future__ import annotations

import dataclasses

import pydantic
import pytest

from infrakit.errors import ConfigurationError
from infrakit.log import LogEntry, Logger, configure_logging, get_logger
from tests.log.conftest import MemoryTransport


def test_get_logger_returns_the_same_logger_satisfying_the_protocol() -> None:
    logger = get_logger("infrakit.db")
    assert logger is get_logger("infrakit.db")
    assert isinstance(logger, Logger)
    assert logger.name == "infrakit.db"


def test_child_builds_a_dotted_name(memory: MemoryTransport) -> None:
    child = get_logger("app").child("db").child("pool")
    assert child.name == "app.db.pool"
    child.info("opened")
    assert memory.entries[0].logger == "app.db.pool"


def test_most_specific_prefix_sets_the_level() -> None:
    transport = MemoryTransport()
    configure_logging(
        "INFO", sinks=[transport], levels={"app": "WARNING", "app.db": "DEBUG", "app.dbx": 50}
    )
    get_logger("app").info("app info dropped")
    get_logger("app").warning("app warning kept")
    get_logger("app.db").child("pool").debug("pool debug kept")
    get_logger("app.dbx").error("dbx error dropped")
    get_logger("app.database").info("prefix is not a name boundary: dropped")
    get_logger("other").info("default level kept")
    assert transport.messages == ["app warning kept", "pool debug kept", "default level kept"]


def test_reconfiguring_refreshes_thresholds_of_existing_loggers() -> None:
    transport = MemoryTransport()
    logger = get_logger("refresh.me")
    configure_logging("INFO", sinks=[transport])
    logger.debug("dropped")
    configure_logging("DEBUG", sinks=[transport])
    logger.debug("kept")
    bound = logger.with_context(a=1)
    configure_logging("ERROR", sinks=[transport])
    bound.warning("dropped again")
    assert transport.messages == ["kept"]
    assert not logger.is_enabled_for(30)


def test_every_level_method_writes_its_level(memory: MemoryTransport) -> None:
    logger = get_logger("levels")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    logger.critical("c")
    logger.log("WARNING", "dynamic")
    assert [(entry.level, entry.level_number) for entry in memory.entries] == [
        ("DEBUG", 10),
        ("INFO", 20),
        ("WARNING", 30),
        ("ERROR", 40),
        ("CRITICAL", 50),
        ("WARNING", 30),
    ]


def test_metadata_becomes_fields_and_reserved_names_are_renamed(
    memory: MemoryTransport,
) -> None:
    get_logger("meta").info("placed", order_id=7, message="clash", level="x")
    entry = memory.entries[0]
    assert entry.message == "placed"
    assert dict(entry.metadata) == {"order_id": 7, "message_": "clash", "level_": "x"}


def test_exception_attaches_the_active_exception(memory: MemoryTransport) -> None:
    logger = get_logger("errors")
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("lookup failed", key="k")
    error = ValueError("explicit")
    logger.warning("explicit", exception=error)
    assert isinstance(memory.entries[0].exception, KeyError)
    assert memory.entries[0].level == "ERROR"
    assert memory.entries[1].exception is error
    assert "exception" not in memory.entries[1].metadata


@dataclasses.dataclass
class Order:
    order_id: int
    token: str


class User(pydantic.BaseModel):
    name: str
    password: str


def test_obj_methods_accept_mappings_dataclasses_and_models(memory: MemoryTransport) -> None:
    logger = get_logger("objects")
    logger.debug_obj({"a": 1})
    logger.info_obj(Order(1, "t0k"), "order")
    logger.warn_obj(User(name="ann", password="pw"))
    logger.error_obj({"b": 2}, "bad")
    assert [entry.level for entry in memory.entries] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert dict(memory.entries[1].metadata) == {"order_id": 1, "token": "***"}
    assert dict(memory.entries[2].metadata) == {"name": "ann", "password": "***"}
    assert memory.entries[3].message == "bad"


def test_obj_methods_respect_the_level() -> None:
    transport = MemoryTransport()
    configure_logging("ERROR", sinks=[transport])
    logger = get_logger("objects.quiet")
    logger.debug_obj({"a": 1})
    logger.info_obj({"a": 1})
    logger.warn_obj({"a": 1})
    assert transport.entries == []


def test_unknown_level_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="Unknown log level"):
        configure_logging("LOUD")
    with pytest.raises(ConfigurationError):
        get_logger("x").log("NOPE", "message")


def test_a_failing_transport_is_reported_and_the_others_still_write(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken:
        def log(self, entry: object) -> None:
            raise OSError("disk full")

    transport = MemoryTransport()
    configure_logging("INFO", sinks=[Broken(), transport])
    get_logger("robust").info("still delivered")
    assert transport.messages == ["still delivered"]
    assert "transport Broken failed: OSError: disk full" in capsys.readouterr().err


def test_the_hot_path_builds_the_same_record_as_the_dataclass() -> None:
    from infrakit.log._entry import new_entry

    fields = (1.5, "INFO", 20, "app", "message", {"c": 1}, {"m": 2}, ValueError("x"))
    fast, regular = new_entry(*fields), LogEntry(*fields)
    assert fast == regular
    assert type(fast) is LogEntry
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.level = "ERROR"  # type: ignore[misc]
