"""Text to typed values.

Conversion failures raise `ConversionError` whose reason never contains the value:
the caller adds the key and the source, and the value stays out of every message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

__all__ = [
    "ConversionError",
    "convert",
    "parse_list",
    "to_bool",
    "to_float",
    "to_int",
    "type_name",
]

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ConversionError(ValueError):
    """A value did not convert; `reason` describes why without quoting the value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def to_str(raw: str) -> str:
    return raw


def to_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConversionError("not a whole number") from None


def to_float(raw: str) -> float:
    try:
        number = float(raw)
    except ValueError:
        raise ConversionError("not a number") from None
    if not math.isfinite(number):
        raise ConversionError("not a finite number")
    return number


def to_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConversionError("not one of true/false, 1/0, yes/no, on/off")


_CONVERTERS: dict[type[Any], Callable[[str], Any]] = {
    str: to_str,
    int: to_int,
    float: to_float,
    bool: to_bool,
}


def convert(raw: str, target: type[Any]) -> Any:
    """Convert one text value to `target`; str, int, float and bool have house rules."""
    converter = _CONVERTERS.get(target)
    if converter is not None:
        return converter(raw)
    return _validate(raw, target)


def _validate(value: object, target: type[Any]) -> Any:
    try:
        return TypeAdapter(target).validate_python(value)
    except PydanticValidationError:
        # The pydantic error quotes the input, so only its absence of detail escapes.
        raise ConversionError(f"not a valid {type_name(target)}") from None


def _convert_item(item: object, target: type[Any]) -> Any:
    if isinstance(item, str):
        return convert(item, target)
    if target not in _CONVERTERS:
        return _validate(item, target)
    if target is str and isinstance(item, int | float | bool):
        return json.dumps(item)
    if target is bool and isinstance(item, bool):
        return item
    if target in (int, float) and isinstance(item, int | float) and not isinstance(item, bool):
        if target is int and not isinstance(item, int):
            raise ConversionError("not a whole number")
        return target(item)
    raise ConversionError(f"a JSON value of the wrong type for {type_name(target)}")


def parse_list(raw: str, item_type: type[Any] = str) -> list[Any]:
    """Split a comma-separated value, or decode a JSON array, converting every item.

    Items of a comma-separated value are stripped and empty ones dropped, so
    `"a, b,"` is `["a", "b"]` and an empty value is `[]`. A value starting with `[`
    must be a JSON array: that is the way to write items containing commas.
    """
    text = raw.strip()
    if text.startswith("["):
        try:
            items: list[Any] = json.loads(text)
        except json.JSONDecodeError:
            raise ConversionError("starts with '[' but is not a valid JSON array") from None
        if not isinstance(items, list):
            raise ConversionError("not a JSON array")
    else:
        items = [part.strip() for part in text.split(",") if part.strip()]
    converted: list[Any] = []
    for position, item in enumerate(items):
        try:
            converted.append(_convert_item(item, item_type))
        except ConversionError as error:
            raise ConversionError(f"item {position} is {error.reason}") from None
    return converted


def type_name(target: object) -> str:
    """A short readable name for a type (`int`, `list[int]`, `SecretStr | None`)."""
    if isinstance(target, type) and not getattr(target, "__args__", None):
        return target.__name__
    return re.sub(r"\b(?:[A-Za-z_][A-Za-z0-9_]*\.)+([A-Za-z_][A-Za-z0-9_]*)", r"\1", str(target))
