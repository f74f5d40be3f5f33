"""Masking by value: registered secrets and URL passwords, wherever they sit in a line.

Key-name redaction cannot see a secret quoted inside a message, an exception or a
third-party library's text (libpq quotes the unparsable part of a DSN, psycopg_pool logs
it on every retry). So every rendered line, JSON or pretty, goes through `mask_line`
last: what any part of the record contributed is covered, escaping included (the
registry holds the JSON-escaped forms of each secret too).
"""

from __future__ import annotations

import re

from infrakit._internal.secrets import (
    MASK,
    known_secrets,
    mask_dsn,
    registry_version,
    secret_pattern,
)

# A URL ends at whitespace or a quote: in a JSON line, the closing `"` of its string.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# Up to this many registered forms, `in` on each (a C substring search, tens of ns) decides
# whether the line needs the regular expression at all; past it, the pattern scans alone.
_FEW = 64


# The registry as this module uses it, refreshed when its version changes (module
# globals: the cheapest reads on a path every record takes).
_version = -1
_few: tuple[str, ...] | None = ()  # None: too many for `in`, the pattern decides
_pattern: re.Pattern[str] | None = None


def mask_line(line: str) -> str:
    """`line` with URL passwords and every registered secret value replaced by `***`.

    With no URL in the line and no registered secret this is one substring search and
    one version check; with a few secrets, one substring search each; the regular
    expression (a prefix tree of every secret) runs only on a line holding one, or when
    many are registered.
    """
    if "://" in line:
        line = _URL.sub(_mask_url, line)
    if _version != registry_version():
        _refresh()
    if _few:
        for secret in _few:
            if secret in line:
                break
        else:
            return line
    elif _few is not None:  # nothing registered
        return line
    return line if _pattern is None else _pattern.sub(MASK, line)


def _refresh() -> None:
    global _version, _few, _pattern
    version = registry_version()
    values = known_secrets()
    _pattern = secret_pattern()
    _few = values if len(values) <= _FEW else None
    _version = version


def _mask_url(match: re.Match[str]) -> str:
    url = match.group(0)
    if "@" not in url and "?" not in url:  # no user part, no query: no password to mask
        return url
    return mask_dsn(url)
