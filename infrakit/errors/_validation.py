"""Field errors for problem bodies: a JSON pointer and a message that never echoes the input."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, TypedDict
from urllib.parse import quote

__all__ = ["FieldError", "field_errors_from", "json_pointer"]

_GENERIC_DETAIL = "Invalid value."
# Error types whose free-text `ctx["error"]` is written by the application (a validator's
# ValueError or assert); pydantic's own parser diagnostics may quote pieces of the input.
_APPLICATION_MESSAGE_TYPES = frozenset({"value_error", "assertion_error"})
# RFC 3986 fragment characters that need no percent-encoding (besides unreserved ones).
_FRAGMENT_SAFE = "!$&'()*+,;=:@/?"
_MAX_INPUT_TEXTS = 200
_MAX_DEPTH = 4


class FieldError(TypedDict):
    """One rejected field: a JSON pointer to it and what was wrong (never the value)."""

    pointer: str
    detail: str


def json_pointer(location: Iterable[int | str]) -> str:
    """Return the RFC 6901 pointer in URI-fragment form (`#/items/0/name`), as RFC 9457 shows."""
    tokens = (str(part).replace("~", "~0").replace("/", "~1") for part in location)
    return "#" + "".join("/" + quote(token, safe=_FRAGMENT_SAFE) for token in tokens)


def field_errors_from(error: Any) -> list[FieldError]:
    """Translate a pydantic-style error (anything with `.errors()`) into safe field errors.

    The `detail` is pydantic's message unless that message could carry the rejected
    input: parser diagnostics are cut to their fixed part, and a validator message that
    contains the input value is cut the same way.
    """
    return [
        FieldError(pointer=json_pointer(item.get("loc", ())), detail=_safe_detail(item))
        for item in _error_items(error)
    ]


def _error_items(error: Any) -> list[Mapping[str, Any]]:
    try:
        return list(error.errors(include_url=False))
    except TypeError:  # FastAPI's RequestValidationError.errors() takes no arguments
        return list(error.errors())


def _safe_detail(item: Mapping[str, Any]) -> str:
    message = str(item.get("msg") or _GENERIC_DETAIL)
    context = item.get("ctx")
    diagnostic = context.get("error") if isinstance(context, Mapping) else None
    if diagnostic is not None and item.get("type") not in _APPLICATION_MESSAGE_TYPES:
        return _fixed_part(message, str(diagnostic))
    if "input" in item and _echoes(message, item["input"]):
        return _fixed_part(message, None if diagnostic is None else str(diagnostic))
    return message


def _fixed_part(message: str, diagnostic: str | None) -> str:
    """The template text before the variable diagnostic (`Value error, {error}`)."""
    if not diagnostic:
        return _GENERIC_DETAIL
    position = message.rfind(diagnostic)
    fixed = message[:position].rstrip(" ,:") if position > 0 else ""
    return fixed or _GENERIC_DETAIL


def _echoes(message: str, value: Any) -> bool:
    folded = message.casefold()
    for text in islice(_input_texts(value, depth=0), _MAX_INPUT_TEXTS):
        needle = text.strip().casefold()
        if not needle:
            continue
        if len(needle) >= 4:
            if needle in folded:
                return True
        elif re.search(rf"(?<![0-9a-z]){re.escape(needle)}(?![0-9a-z])", folded):
            return True
    return False


def _input_texts(value: Any, *, depth: int) -> Iterator[str]:
    """The string forms of an input's leaves, as a message could quote them (lazy: the
    caller takes the first `_MAX_INPUT_TEXTS`)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray):
        yield bytes(value).decode("utf-8", "replace")
    elif isinstance(value, Mapping | list | tuple | set | frozenset):
        if depth >= _MAX_DEPTH:
            return
        children = value.values() if isinstance(value, Mapping) else value
        for child in children:
            yield from _input_texts(child, depth=depth + 1)
    else:
        try:
            yield str(value)
        except Exception:  # an input whose __str__ fails cannot be quoted either
            return
