"""Masking by value: registered secrets and URL passwords, wherever they sit in a line.

Key-name redaction cannot see a secret quoted inside a message, an exception or a
third-party library's text (libpq quotes the unparsable part of a DSN, psycopg_pool logs
it on every retry). So every rendered line, JSON or pretty, goes through `mask_line`
last: what any part of the record contributed is covered, escaping included (the
registry holds the JSON-escaped forms of each secret too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from infrakit._internal.secrets import (
    MASK,
    known_secrets,
    mask_dsn,
    registry_version,
    secret_pattern,
)

# A URL ends at whitespace or a quote: in a JSON line, the closing `"` of its string.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# Up to this many registered forms, `in` on each (a C substring search, about 40 ns on a
# short line) decides whether the line needs the regular expression; past it, the cost of
# `SecretFilter` no longer grows with their number.
_FEW = 32


class SecretFilter:
    """Says cheaply whether a line may hold one of many secrets, never missing one.

    Every secret of length `L >= 2q - 1` that occurs in a line covers a whole `q`-character
    chunk starting at a multiple of `q`, and that chunk is one of the secret's first `q`
    substrings of length `q`. So the line is cut into aligned chunks (one C `findall`) and
    compared with the set of those substrings (one C `isdisjoint`): the cost follows the
    line's length, not the number of secrets. Secrets too short for `q >= 4` are looked for
    with `in`. A hit only means "run the regular expression"; it is never the mask.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        values = list(secrets)
        long = [value for value in values if len(value) >= 7]
        self._short = tuple(value for value in values if len(value) < 7)
        self._size = min([8, *((len(value) + 1) // 2 for value in long)])
        size = self._size
        self._chunks = re.compile(f".{{{size}}}", re.DOTALL)
        self._grams = frozenset(
            value[offset : offset + size] for value in long for offset in range(size)
        )

    def may_contain(self, line: str) -> bool:
        for secret in self._short:
            if secret in line:
                return True
        return not self._grams.isdisjoint(self._chunks.findall(line))


# The registry as this module uses it, refreshed when its version changes (module
# globals: the cheapest reads on a path every record takes).
_version = -1
_few: tuple[str, ...] | None = ()  # None: too many for `in`, the filter decides
_filter: SecretFilter | None = None
_pattern: re.Pattern[str] | None = None


def mask_line(line: str) -> str:
    """`line` with URL passwords and every registered secret value replaced by `***`.

    With no URL in the line and no registered secret this is one substring search and
    one version check; with a few secrets, one substring search each; with many, one
    `SecretFilter` pass. The regular expression (a prefix tree of every secret) runs only
    on a line that holds, or may hold, one.
    """
    if "://" in line:
        line = _URL.sub(_mask_url, line)
    if _version != registry_version():
        _refresh()
    if _few is not None:
        for secret in _few:
            if secret in line:
                break
        else:  # none of them (or nothing registered)
            return line
    elif _filter is not None and not _filter.may_contain(line):
        return line
    return line if _pattern is None else _pattern.sub(MASK, line)


def _refresh() -> None:
    global _version, _few, _filter, _pattern
    version = registry_version()
    values = known_secrets()
    _pattern = secret_pattern()
    _filter = SecretFilter(values) if len(values) > _FEW else None
    _few = values if len(values) <= _FEW else None
    _version = version


def _mask_url(match: re.Match[str]) -> str:
    url = match.group(0)
    ats = url.count("@")
    if "?" not in url and (ats == 0 or (ats == 1 and f":{MASK}@" in url)):
        return url  # no query, and no user part or one already masked (by the redactor)
    return mask_dsn(url)
