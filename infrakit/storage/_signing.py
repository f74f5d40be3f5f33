"""Signed URLs for backends that cannot sign their own (local disk, memory).

A URL is `{base_url}/{quoted key}?expires={unix seconds}&signature={base64url}` where
the signature is HMAC-SHA256 over `METHOD\\npath\\nexpires`. Signing uses the first key;
verifying accepts any key of the list, so keys rotate without breaking URLs already
handed out: put the new key first, drop the old one once its URLs have expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs, quote, unquote, urlsplit

from infrakit._internal.secrets import register_secret
from infrakit.errors import ConfigurationError
from infrakit.storage._errors import SignedUrlError
from infrakit.storage._paths import normalize_key

__all__ = ["MIN_KEY_BYTES", "UrlSigner"]

MIN_KEY_BYTES = 16


class UrlSigner:
    """Signs and verifies storage URLs with HMAC-SHA256 and a list of rotating keys.

    Args:
        keys: secrets, newest first; each at least `MIN_KEY_BYTES` long. None makes a
            random key for this process (URLs then verify only in this process).
        base_url: what the URLs start with, e.g. `/files` or `https://cdn.example/files`.
        clock: seconds since the epoch (tests pass their own).

    Raises:
        ConfigurationError: a key is too short, or the list is empty.
    """

    def __init__(
        self,
        keys: Sequence[str | bytes] | None = None,
        *,
        base_url: str = "/files",
        clock: Callable[[], float] = time.time,
    ) -> None:
        chosen = list(keys) if keys is not None else [secrets.token_bytes(32)]
        self._keys = [_as_bytes(key) for key in chosen]
        if not self._keys:
            raise ConfigurationError("signing_keys may not be empty", details={"field": "keys"})
        for key in keys or ():
            register_secret(key if isinstance(key, str) else key.decode("utf-8", "replace"))
        self.base_url = base_url.rstrip("/")
        self._path_prefix = urlsplit(self.base_url).path + "/"
        self._clock = clock

    def __repr__(self) -> str:
        return f"UrlSigner(base_url={self.base_url!r}, keys={len(self._keys)})"

    def sign(self, key: str, expires_in: float, *, method: str = "GET") -> str:
        """Return a URL for `key` that verifies until `expires_in` seconds from now."""
        expires = math.ceil(self._clock() + expires_in)
        quoted = quote(normalize_key(key), safe="/")
        signature = _signature(self._keys[0], method, self._path_prefix + quoted, expires)
        return f"{self.base_url}/{quoted}?expires={expires}&signature={signature}"

    def verify(self, url: str, *, method: str = "GET") -> str:
        """Return the key a signed URL grants, or refuse it.

        Accepts the full URL or only its path and query (what a server route sees).

        Raises:
            SignedUrlError: `STORAGE_URL_INVALID` (missing, altered or foreign
                signature) or `STORAGE_URL_EXPIRED`.
            InvalidPathError: the URL names an unsafe path.
        """
        parts = urlsplit(url)
        if not parts.path.startswith(self._path_prefix):
            raise SignedUrlError("the URL is not a signed storage URL")
        expires, signature = _query_fields(parts.query)
        if not any(
            hmac.compare_digest(_signature(key, method, parts.path, expires), signature)
            for key in self._keys
        ):
            raise SignedUrlError("the URL signature does not match")
        if expires < self._clock():
            raise SignedUrlError("the signed URL has expired", code="STORAGE_URL_EXPIRED")
        return normalize_key(unquote(parts.path[len(self._path_prefix) :]))


def _query_fields(query: str) -> tuple[int, str]:
    fields = parse_qs(query, keep_blank_values=True)
    expires, signature = fields.get("expires", []), fields.get("signature", [])
    if len(expires) != 1 or len(signature) != 1 or not expires[0].isdigit():
        raise SignedUrlError("the URL is not a signed storage URL")
    return int(expires[0]), signature[0]


def _signature(key: bytes, method: str, path: str, expires: int) -> str:
    message = f"{method.upper()}\n{path}\n{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _as_bytes(key: str | bytes) -> bytes:
    data = key.encode() if isinstance(key, str) else bytes(key)
    if len(data) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"each signing key must be at least {MIN_KEY_BYTES} bytes", details={"field": "keys"}
        )
    return data
