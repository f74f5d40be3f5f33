"""The one place that decides what is a secret, and the registry of known secret values.

Three rules shared by every module, so that config, log, db, cache and the modules that
follow mask the same things the same way:

- `is_sensitive_key(name)`: whether a field, header or configuration key names a secret;
- `mask_dsn(text)`: a connection string with every password form libpq, redis-py or an
  AMQP client accepts replaced by `MASK`; it never raises and, in doubt, masks more;
- `register_secret(value)`: a secret value that the log pipeline then masks wherever it
  appears in a rendered line (a third-party message quoting a DSN, a traceback), as CI
  systems mask their secrets. `register_dsn` registers the passwords of a DSN.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote, unquote

__all__ = [
    "MASK",
    "MIN_REGISTERED_LENGTH",
    "dsn_passwords",
    "is_sensitive_key",
    "known_secrets",
    "mask_dsn",
    "mask_known_secrets",
    "register_dsn",
    "register_secret",
    "registry_version",
    "secret_pattern",
]

MASK = "***"

# A key is split into words (on non-alphanumerics and camelCase boundaries). A word that
# contains one of the stems is sensitive (`db_password`, `accessToken`, `cookies`); the
# short words only count whole (`pwd`, `auth`, `sid`), so `author` or `side` stay visible.
_STEMS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "private",
    "apikey",
    "authoriz",
    "cookie",
    "session",
    "bearer",
    "signature",
)
_WORDS = frozenset({"pass", "pwd", "auth", "jwt", "sid", "salt"})
# `key` names a credential when something qualifies it (`api_key`, `SECRET_KEY`,
# `signing-key`), not alone (`key` is the cache key in every cache log line).
_QUALIFIED = frozenset({"key"})
# A key ending in `_FILE` or `_PATH` holds where a secret is, not the secret.
_POINTERS = frozenset({"file", "path"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_decisions: dict[str, bool] = {}


def is_sensitive_key(key: str) -> bool:
    """True when `key` names a secret; cached per key, so the hot path is a dict hit."""
    decision = _decisions.get(key)
    if decision is None:
        decision = _decide(key)
        if len(_decisions) < 10_000:
            _decisions[key] = decision
    return decision


def _decide(key: str) -> bool:
    words = [word.lower() for word in _SPLIT.split(_CAMEL.sub("_", key)) if word]
    if not words or words[-1] in _POINTERS:
        return False
    for position, word in enumerate(words):
        if word in _WORDS or any(stem in word for stem in _STEMS):
            return True
        if word in _QUALIFIED and position > 0:
            return True
    return False


# --- connection strings -------------------------------------------------------------

_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")
# A name starts where a word starts: without the look-behind, a long run of word
# characters with no `=` is retried from every position (quadratic: 30 s for 32 KiB).
_KEY_VALUE = re.compile(
    r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s']*)"
)


def mask_dsn(text: str) -> str:
    """`text` with the password of a URL or key/value DSN replaced by `MASK`.

    Works on what the text says, not on what one parser makes of it: the user part runs
    from after `scheme://` to the last `@` before the path, so a password holding `#`,
    `?`, `/`, `@` or a malformed `%zz` is masked whole; query parameters and key/value
    pairs whose (percent-decoded) name is sensitive are masked too. Never raises.
    """
    try:
        if _SCHEME.match(text):
            return _mask_url(text)
        return _mask_key_values(text)
    except Exception:  # masking must never be the thing that fails
        return MASK


def dsn_passwords(text: str) -> list[str]:
    """Every secret value in `text`, in the raw and decoded forms it may be quoted in."""
    found: list[str] = []
    try:
        if _SCHEME.match(text):
            user_info = _user_info(text)
            if user_info is not None and ":" in user_info[0]:
                found.append(user_info[0].partition(":")[2])
            query = _query_of(text)
            for name, value in _query_pairs(query):
                if _sensitive_parameter(name):
                    found.append(value)
        else:
            for match in _KEY_VALUE.finditer(text):
                if _sensitive_parameter(match.group(1)):
                    found.append(_unquote_libpq(match.group(3)))
        found.extend(_conninfo_passwords(text))
    except Exception:  # what cannot be parsed is masked whole by mask_dsn instead
        pass
    forms: list[str] = []
    for value in found:
        for form in (value, _percent_decoded(value), quote(value, safe="")):
            if form and form not in forms:
                forms.append(form)
    return forms


def _mask_url(text: str) -> str:
    scheme_end = _SCHEME.match(text).end()  # type: ignore[union-attr]
    user_info = _user_info(text)
    if user_info is not None:
        user, at = user_info
        if ":" in user:
            name = user.partition(":")[0]
            text = f"{text[:scheme_end]}{name}:{MASK}{text[at:]}"
    question = text.find("?", scheme_end)
    if question < 0:
        return text
    head, query = text[: question + 1], text[question + 1 :]
    fragment = ""
    if "#" in query:
        query, hash_mark, rest = query.partition("#")
        fragment = hash_mark + rest
    masked = "&".join(_mask_pair(pair) for pair in query.split("&"))
    return head + masked + fragment


def _user_info(text: str) -> tuple[str, int] | None:
    """The user part of a URL and the index of its closing `@`, or None.

    The authority ends at the last `@` that still comes before the path: libpq and
    urllib stop at the first `/`, `?` or `#`, which splits a password holding one.
    """
    start = _SCHEME.match(text).end()  # type: ignore[union-attr]
    rest = text[start:]
    at = rest.rfind("@")
    if at < 0:
        return None
    # An `@` inside the query (`?options=a@b`) is not the end of the user part when the
    # user part would then hold `?...=`; such a URL has no user part before its host.
    candidate = rest[:at]
    if "?" in candidate and "=" in candidate.partition("?")[2] and ":" not in candidate:
        return None
    return candidate, start + at


def _query_of(text: str) -> str:
    user_info = _user_info(text)
    start = user_info[1] if user_info else _SCHEME.match(text).end()  # type: ignore[union-attr]
    question = text.find("?", start)
    if question < 0:
        return ""
    return text[question + 1 :].partition("#")[0]


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if equals:
            pairs.append((_percent_decoded(name), value))
    return pairs


def _mask_pair(pair: str) -> str:
    name, equals, _value = pair.partition("=")
    if equals and _sensitive_parameter(_percent_decoded(name)):
        return f"{name}={MASK}"
    return pair


def _mask_key_values(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if _sensitive_parameter(match.group(1)):
            return f"{match.group(1)}{match.group(2)}{MASK}"
        return match.group(0)

    return _KEY_VALUE.sub(replace, text)


def _sensitive_parameter(name: str) -> bool:
    return is_sensitive_key(name) or name.lower() in {"password", "pass", "sslpassword"}


def _unquote_libpq(value: str) -> str:
    if value.startswith("'"):
        value = value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:]
        return re.sub(r"\\(.)", r"\1", value)
    return value


def _percent_decoded(value: str) -> str:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value


def _conninfo_passwords(text: str) -> list[str]:
    """The password as libpq itself reads it, when psycopg is installed and can parse it."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return []
    try:
        params = conninfo_to_dict(text)
    except Exception:  # an unparsable DSN: the text-based forms above still apply
        return []
    return [str(params[name]) for name in ("password", "sslpassword") if params.get(name)]


# --- the registry of known secret values --------------------------------------------

# Shorter values would mask ordinary words (`abc` in every line); they are kept out.
MIN_REGISTERED_LENGTH = 4

_lock = threading.Lock()
_registered: set[str] = set()
_version = 0
_pattern: tuple[int, re.Pattern[str] | None] = (0, None)
_known: tuple[int, tuple[str, ...]] = (0, ())


def register_secret(value: str) -> None:
    """Mask `value` wherever it appears in a log line from now on (also JSON-escaped).

    For the life of the process; idempotent. Values shorter than `MIN_REGISTERED_LENGTH`
    (4) are ignored, since they would mask ordinary words, and so are non-strings.

    Args:
        value: the secret text (a password, a token, an API key).
    """
    global _version
    if not isinstance(value, str) or len(value) < MIN_REGISTERED_LENGTH:
        return
    # The raw text, and its escaped forms inside a JSON string (ASCII-escaped or not).
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    with _lock:
        if forms <= _registered:
            return
        _registered.update(forms)
        _version += 1


def register_dsn(text: str) -> str:
    """Register every password of a DSN, and return the DSN masked for display."""
    for password in dsn_passwords(text):
        register_secret(password)
    return mask_dsn(text)


def registry_version() -> int:
    """A number that changes whenever a secret is registered (a cheap staleness check)."""
    return _version


def secret_pattern() -> re.Pattern[str] | None:
    """One compiled pattern matching every registered secret (the longest one where they
    overlap); None if none. Cached per registry version."""
    global _pattern
    version, pattern = _pattern
    if version == _version:
        return pattern
    with _lock:
        values = list(_registered)
        version = _version
    pattern = re.compile(_trie_pattern(values)) if values else None
    _pattern = (version, pattern)
    return pattern


def known_secrets() -> tuple[str, ...]:
    """Every registered form, longest first: a caller with few of them can test each with
    `in` (a C substring search) before paying for the regular expression."""
    global _known
    version, values = _known
    if version == _version:
        return values
    with _lock:
        values = tuple(sorted(_registered, key=len, reverse=True))
        _known = (_version, values)
    return values


def _trie_pattern(values: list[str]) -> str:
    """The values as a prefix tree (`ab(?:c|d)` rather than `abc|abd`): the regex engine
    then checks one branch per distinct next character, not one per secret, which keeps a
    scan linear in the line for hundreds of secrets."""
    trie: dict[str, dict[str, Any]] = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}  # a value ends here
    return _trie_branch(trie)


def _trie_branch(node: dict[str, dict[str, Any]]) -> str:
    branches = []
    for char in sorted(key for key in node if key):
        text, child = char, node[char]
        while len(child) == 1 and "" not in child:  # a chain: one literal, no recursion
            ((next_char, child),) = child.items()
            text += next_char
        branches.append(re.escape(text) + _trie_branch(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body  # greedy: the longer secret first


def mask_known_secrets(text: str) -> str:
    """`text` with every registered secret value replaced by `MASK`."""
    pattern = secret_pattern()
    if pattern is None:
        return text
    return pattern.sub(MASK, text)
