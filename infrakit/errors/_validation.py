"""Field errors for problem bodies: a JSON pointer and a message that never echoes the input."""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, TypedDict
from urllib.parse import quote

__all__ = ["FieldError", "field_errors_from", "json_pointer", "translate_errors"]

_GENERIC_DETAIL = "Invalid value."
MALFORMED_JSON_DETAIL = "The body is not valid JSON."
# Error types whose free text is written by the application (a validator's ValueError or
# assert, a PydanticCustomError) and so may quote the input in any form.
_APPLICATION_MESSAGE_TYPES = frozenset({"value_error", "assertion_error"})
# The placeholders of pydantic's own templates that are filled from the input rather than
# the schema: a parser diagnostic (`found 'z' at 3`, `line 1 column 7`), a union tag.
_INPUT_PLACEHOLDERS = ("error", "encoding_error")
# RFC 3986 fragment characters that need no percent-encoding (besides unreserved ones).
_FRAGMENT_SAFE = "!$&'()*+,;=:@/?"
_MAX_INPUT_TEXTS = 200
_MAX_DEPTH = 4
_TOKEN = re.compile(r"[^\W_]+")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"|`([^`]+)`")


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
    quotes the input, or any part of it, becomes its fixed prefix (`Value error`).
    """
    return translate_errors(error)[0]


def translate_errors(error: Any) -> tuple[list[FieldError], bool]:
    """`field_errors_from`, and whether an item said the body is not JSON at all.

    A malformed-JSON item gets no field error: its location is a character offset
    (FastAPI's `("body", 12)`), not a field, and its message quotes the text.
    """
    fields: list[FieldError] = []
    malformed = False
    for item in _error_items(error):
        if item.get("type") == "json_invalid":
            malformed = True
            continue
        pointer = json_pointer(item.get("loc", ()))
        fields.append(FieldError(pointer=pointer, detail=_safe_detail(item)))
    return fields, malformed


def _error_items(error: Any) -> list[Mapping[str, Any]]:
    try:
        return list(error.errors(include_url=False))
    except TypeError:  # FastAPI's RequestValidationError.errors() takes no arguments
        return list(error.errors())


def _safe_detail(item: Mapping[str, Any]) -> str:
    message = str(item.get("msg") or _GENERIC_DETAIL)
    context = item.get("ctx")
    context = context if isinstance(context, Mapping) else {}
    if _is_application_message(item.get("type")):
        written = _diagnostic(context, "error")  # the application's own text, if wrapped
        if "input" not in item or _echoes(written or message, item["input"]):
            return _fixed_part(message, written)
        return message
    for name in _INPUT_PLACEHOLDERS:
        diagnostic = _diagnostic(context, name)
        if diagnostic is not None:
            message = _fixed_part(message, diagnostic)
    tag = _diagnostic(context, "tag")
    if tag is not None:  # union_tag_invalid: "Input tag 'x' found using ..."
        message = message.replace(f" '{tag}'", "", 1)
    return message


def _is_application_message(error_type: object) -> bool:
    """True for validator messages and for custom error types pydantic does not know."""
    return error_type in _APPLICATION_MESSAGE_TYPES or error_type not in _known_types()


@functools.cache
def _known_types() -> frozenset[str]:
    from pydantic_core.core_schema import ErrorType

    return frozenset(typing.get_args(ErrorType)) - _APPLICATION_MESSAGE_TYPES


def _diagnostic(context: Mapping[str, Any], name: str) -> str | None:
    value = context.get(name)
    return None if value is None else str(value)


def _fixed_part(message: str, diagnostic: str | None) -> str:
    """The template text before the variable diagnostic (`Value error, {error}`)."""
    if not diagnostic:
        return _application_prefix(message)
    position = message.rfind(diagnostic)
    fixed = message[:position].rstrip(" ,:") if position > 0 else ""
    return fixed or _GENERIC_DETAIL


def _application_prefix(message: str) -> str:
    """`Value error` / `Assertion failed` for pydantic's wrappers, else the generic text."""
    for prefix in ("Value error", "Assertion failed"):
        if message.startswith(prefix):
            return prefix
    return _GENERIC_DETAIL


def _echoes(message: str, value: Any) -> bool:
    """Whether `message` quotes `value` or a part of it (a word, a quoted fragment).

    Errs towards cutting, case-insensitively: a message is kept only when it contains no
    leaf of the input, no short leaf as a whole word, no word of three or more
    characters that is part of a leaf (`value[:5]`, the domain of an address) and no
    quoted fragment that is part of a leaf (`'#'`).
    """
    folded = message.casefold()
    quoted = [next(part for part in match if part) for match in _QUOTED.findall(folded)]
    words = [word for word in set(_TOKEN.findall(folded)) if len(word) >= 3]
    for text in islice(_input_texts(value, depth=0), _MAX_INPUT_TEXTS):
        needle = text.strip().casefold()
        if needle and _quotes(folded, [*quoted, *words], needle):
            return True
    return False


def _quotes(folded: str, fragments: list[str], needle: str) -> bool:
    if any(fragment in needle for fragment in fragments):
        return True
    if len(needle) < 4:  # as a whole word only: "1" must not match "must be at least 18"
        return re.search(rf"(?<![^\W_]){re.escape(needle)}(?![^\W_])", folded) is not None
    return needle in folded


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
