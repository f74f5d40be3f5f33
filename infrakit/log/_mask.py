"""Masking by value: registered secrets and URL passwords, wherever they sit in a line.

Key-name redaction cannot see a secret quoted inside a message, an exception or a
third-party library's text (libpq quotes the unparsable part of a DSN, psycopg_pool logs
it on every retry). So every rendered line, JSON or pretty, goes through `mask_line`
last: what any part of the record contributed is covered, escaping included (the
registry holds the JSON-escaped form of each secret too).
"""

from __future__ import annotations

import re

from infrakit._internal.secrets import MASK, mask_dsn, secret_pattern

# A URL ends at whitespace or a quote: in a JSON line the closing `"` of the string.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def mask_line(line: str) -> str:
    """`line` with URL passwords and every registered secret value replaced by `***`.

    With no URL in the line and no registered secret this is one substring search and
    one version check; the alternation of registered secrets is compiled once per
    registry version (`secret_pattern` caches it).
    """
    if "://" in line:
        line = _URL.sub(_mask_url, line)
    pattern = secret_pattern()
    if pattern is not None:
        line = pattern.sub(MASK, line)
    return line


def _mask_url(match: re.Match[str]) -> str:
    return mask_dsn(match.group(0))
