"""Interpolation is bounded: depth, size and cycles are a ConfigurationError naming the key."""

from __future__ import annotations

import pytest

from infrakit.config import load_config
from infrakit.config._cascade import MAX_EXPANDED_CHARS, MAX_REFERENCE_DEPTH
from infrakit.errors import ConfigurationError
from tests.config.conftest import WriteFiles


def _error(write_files: WriteFiles, text: str, **environ: str) -> ConfigurationError:
    directory = write_files({".env": text})
    with pytest.raises(ConfigurationError) as caught:
        load_config("test", directory=directory, environ=environ, secret_providers=())
    error = caught.value
    assert error.__context__ is None or isinstance(error.__context__, ConfigurationError)
    return error


def _chain(length: int, *, reverse: bool = False) -> str:
    """`K0000=${K0001}`, ... up to a literal; `reverse` makes names sort the other way."""
    names = [f"K{index:04d}" for index in range(length + 1)]
    if reverse:
        names.reverse()
    lines = [f"{names[i]}=${{{names[i + 1]}}}" for i in range(length)]
    return "\n".join([*lines, f"{names[-1]}=end"]) + "\n"


@pytest.mark.parametrize("reverse", [False, True], ids=["deepest-first", "shallowest-first"])
def test_a_chain_past_the_depth_limit_is_refused_in_any_resolution_order(
    write_files: WriteFiles, reverse: bool
) -> None:
    error = _error(write_files, _chain(MAX_REFERENCE_DEPTH + 1, reverse=reverse))
    assert f"more than {MAX_REFERENCE_DEPTH}" in str(error)
    assert str(error.details["key"]).startswith("K")


def test_a_chain_of_thousands_is_refused_without_exhausting_the_stack(
    write_files: WriteFiles,
) -> None:
    error = _error(write_files, _chain(5000))
    assert "references deep" in str(error)


def test_a_chain_at_the_limit_loads(write_files: WriteFiles) -> None:
    directory = write_files({".env": _chain(MAX_REFERENCE_DEPTH)})
    config = load_config("test", directory=directory, environ={}, secret_providers=())
    assert config.get_str("K0000") == "end"


def test_exponential_expansion_is_refused_quickly(write_files: WriteFiles) -> None:
    # Each level doubles: 20 levels would be 8 MB, 40 a terabyte, if nothing stopped it.
    lines = [f"A{index:02d}=${{A{index + 1:02d}}}${{A{index + 1:02d}}}" for index in range(20)]
    error = _error(write_files, "\n".join([*lines, "A20=xxxxxxxx"]) + "\n")
    assert f"more than {MAX_EXPANDED_CHARS} characters" in str(error)
    assert str(error.details["key"]).startswith("A")


def test_one_reference_repeated_past_the_size_limit_is_refused(write_files: WriteFiles) -> None:
    repeated = "${BIG}" * 20
    error = _error(write_files, f"WIDE={repeated}\n", BIG="x" * 4096)
    assert error.details["key"] == "WIDE"
    assert "x" * 64 not in str(error) + repr(error.details)


def test_a_large_value_inside_the_limit_loads(write_files: WriteFiles) -> None:
    directory = write_files({".env": "WIDE=${BIG}${BIG}\n"})
    big = "y" * (MAX_EXPANDED_CHARS // 2)
    config = load_config("test", directory=directory, environ={"BIG": big}, secret_providers=())
    assert config.get_str("WIDE") == big * 2


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("A=${B}\nB=${A}\n", "A"),
        ("A=${B}\nB=${C}\nC=${A}\n", "A"),
        ("A=x${B:-d}\nB=${A}\n", "A"),
    ],
    ids=["two", "three", "through-a-default"],
)
def test_cycles_name_the_key(write_files: WriteFiles, text: str, key: str) -> None:
    error = _error(write_files, text)
    assert "cycle" in str(error)
    assert error.details["key"] == key


def test_self_reference_without_a_layer_below_is_an_undefined_name(
    write_files: WriteFiles,
) -> None:
    error = _error(write_files, "LOOP=${LOOP}${LOOP}\n")
    assert error.details["key"] == "LOOP"
    assert "not defined" in str(error)


def test_secret_keys_past_the_limits_are_named_but_not_echoed(write_files: WriteFiles) -> None:
    secret = "Zq9x-never-shown"
    error = _error(write_files, f"API_TOKEN=${{PIECE}}{'${PIECE}' * 30}\n", PIECE=secret * 200)
    assert error.details["key"] == "API_TOKEN"
    assert secret not in str(error) + repr(error.details)
