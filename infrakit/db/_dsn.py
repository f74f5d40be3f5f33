"""Connection strings: checked with libpq's own parser, shown only through `mask_dsn`.

A DSN is checked once, when a `Database` is constructed, so a typo fails at start-up
with a `ConfigurationError` instead of as a retry loop of pool warnings. libpq's parser
quotes the part it could not read, which may be the password, so its message is never
passed on as it is: quoted values are masked, only parameter names stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from infrakit._internal.secrets import MASK, mask_known_secrets, register_dsn
from infrakit.errors import ConfigurationError

__all__ = ["checked_dsn"]

_QUOTED = re.compile(r'"([^"]*)"')
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PORTS = re.compile(r"\d*(,\d*)*")


def checked_dsn(dsn: str) -> str:
    """Register the passwords of `dsn` and check it as libpq reads it.

    Returns:
        The DSN with its passwords masked, for `repr`, messages and logs.

    Raises:
        ConfigurationError: libpq cannot parse it, or it reads the URL differently
            from what it says (an unencoded `@` or `/` in the password).
    """
    if not isinstance(dsn, str):
        raise _malformed("the URL must be a string")
    masked = register_dsn(dsn)
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # open() reports the missing extra
        return masked
    try:
        parameters = conninfo_to_dict(dsn)
    except psycopg.Error as error:
        # Not chained: libpq's message quotes the unparsable text, perhaps the password.
        raise _malformed(_safe_reason(error, dsn)) from None
    _check_parsed(parameters)
    return masked


def _check_parsed(parameters: Mapping[str, object]) -> None:
    """Refuse what libpq accepts but surely misreads: a password split at `/` or `@`.

    `postgresql://app:pa/ss@db/app` reads as host `app`, port `pa`; `app:p@ss@db`
    as password `p`, host `ss@db`. A port is digits, and a host never holds `@`.
    """
    if not _PORTS.fullmatch(str(parameters.get("port") or "")):
        raise _malformed("the port is not a number (a '/' in the password must be written %2F)")
    if "@" in str(parameters.get("host") or ""):
        raise _malformed("the host holds '@' (an '@' in the password must be written %40)")


def _safe_reason(error: Exception, dsn: str) -> str:
    """libpq's reason with every quoted value masked; a quoted parameter name stays."""
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else "libpq cannot parse it"

    def mask(match: re.Match[str]) -> str:
        token = match.group(1)
        named = _PARAMETER_NAME.fullmatch(token) and re.search(
            rf"(?:^|[\s?&]){re.escape(token)}\s*=", dsn
        )
        return match.group(0) if named or token == "=" else f'"{MASK}"'

    return mask_known_secrets(_QUOTED.sub(mask, reason))


def _malformed(reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"The database URL is malformed: {reason}.", details={"field": "url", "reason": reason}
    )
