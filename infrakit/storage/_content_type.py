"""Content types: what the bytes say first, then what the name says.

The bytes are sniffed by puremagic (a maintained, pure-Python signature database); the
name is looked up with the standard `mimetypes`. Types a browser would run as a page
(HTML, SVG, XML, JavaScript) are flagged `attachment=True`, so a server that hands
stored files back sends them with `Content-Disposition: attachment` instead of letting
an upload script itself into the site's origin.
"""

from __future__ import annotations

import functools
import importlib
import mimetypes
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["SNIFF_BYTES", "ContentType", "detect_content_type", "is_active_content"]

SNIFF_BYTES = 2048
"""How much of the head of a file `detect_content_type` looks at."""

DEFAULT_TYPE = "application/octet-stream"
_ACTIVE = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/x-shockwave-flash",
    }
)
_TEXT_APPLICATIONS = frozenset({"application/json", "application/x-sh", "application/toml"})


@dataclass(frozen=True, slots=True)
class ContentType:
    """A detected media type.

    Attributes:
        mime_type: e.g. `image/png`; `application/octet-stream` when nothing is known.
        attachment: True for types a browser would render as active content; serve
            them with `Content-Disposition: attachment`.
        source: what decided: the `bytes`, the `extension`, or the `default`.
    """

    mime_type: str
    attachment: bool
    source: Literal["bytes", "extension", "default"]

    def __str__(self) -> str:
        return self.mime_type


def detect_content_type(path: str, head: bytes | None = None) -> ContentType:
    """Detect the media type of a file from its first bytes, then from its name.

    When several signatures match the bytes (a ZIP is also a DOCX), the one the
    extension agrees with wins. Text without a signature takes the extension's type
    if that is a text type, else `text/plain`: a `.png` holding text is not an image.

    Args:
        path: the file name or key (only its extension is used).
        head: the first bytes of the file (`SNIFF_BYTES` are enough), or None.

    Returns:
        The `ContentType`.
    """
    by_name = _type_by_name(path)
    if head:
        sample = head[:SNIFF_BYTES] if len(head) > SNIFF_BYTES else head
        sniffed = _sniff(sample, by_name)
        if sniffed is not None:
            return _typed(sniffed, "bytes")
        if _looks_like_text(sample):
            textual = by_name if by_name and _is_text_type(by_name) else "text/plain"
            return _typed(textual, "extension" if textual == by_name else "bytes")
    if by_name:
        return _typed(by_name, "extension")
    return _typed(DEFAULT_TYPE, "default")


def is_active_content(mime_type: str) -> bool:
    """True when a browser would run `mime_type` as a page or script (serve as attachment)."""
    base = mime_type.partition(";")[0].strip().lower()
    return base in _ACTIVE or base.endswith("+xml")


@functools.lru_cache(maxsize=1024)
def _typed(mime_type: str, source: Literal["bytes", "extension", "default"]) -> ContentType:
    """Cached: the values are frozen and the types seen in practice are few."""
    return ContentType(mime_type, is_active_content(mime_type), source)


@functools.lru_cache(maxsize=4096)
def _type_by_name(path: str) -> str | None:
    """`mimetypes.guess_type(path)`, cached by the last two suffixes of the name.

    Only those decide the answer (`.tar.gz`: an encoding, then a type), so names
    sharing them share the entry and the cache stays small. Names it might read
    otherwise (URLs, dotfiles) go to `mimetypes` directly. The same keys come back
    again and again, so the answer is also remembered per path (a bounded cache).
    """
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    if dot <= 0 or ":" in path or "\\" in path:
        return mimetypes.guess_type(path, strict=False)[0]
    earlier = name.rfind(".", 0, dot)
    return _type_by_suffixes("x" + name[earlier:] if earlier > 0 else "x" + name[dot:])


@functools.lru_cache(maxsize=1024)
def _type_by_suffixes(name: str) -> str | None:
    return mimetypes.guess_type(name, strict=False)[0]


def _sniff(head: bytes, by_name: str | None) -> str | None:
    candidates = _signatures().mime_types(head)
    if not candidates:
        return None
    if by_name in candidates:
        return by_name
    if by_name == "application/zip" or "application/zip" in candidates:
        return "application/zip"
    return candidates[0]


class _Signatures:
    """puremagic's signature database, indexed by offset and first byte.

    `puremagic.magic_string` compares the head with each of its ~1,400 signatures in
    turn (about 1.5 ms a call); the same signatures looked up by offset and first byte
    give the same matches, ranked the same way (longer signatures first), in a few
    microseconds. Should puremagic's internals change, its public call is used.
    """

    def __init__(self) -> None:
        tables = importlib.import_module("puremagic.main")
        self._fallback = not all(
            hasattr(tables, name)
            for name in ("magic_header_array", "magic_footer_array", "multi_part_dict")
        )
        self._by_offset: dict[int, dict[int, list[tuple[int, Any]]]] = {}
        self._footers: list[tuple[int, int | None, bytes, Any]] = []
        if self._fallback:
            return
        for position, row in enumerate(tables.magic_header_array):
            if row.byte_match:
                first = self._by_offset.setdefault(row.offset, {})
                first.setdefault(row.byte_match[0], []).append((position, row))
        self._offsets = sorted(self._by_offset.items())  # nearest first: stop past the head
        self._footers = [  # (offset, end or None for "to the end", signature, row)
            (row.offset, row.offset + len(row.byte_match) or None, row.byte_match, row)
            for row in tables.magic_footer_array
        ]
        self._parts: dict[bytes, list[Any]] = dict(tables.multi_part_dict)

    def mime_types(self, head: bytes) -> list[str]:
        """Media types whose signature matches `head`, most specific first."""
        if self._fallback:
            return _public_sniff(head)
        matches = self._header_matches(head)
        foot = head[-516:]
        first = len(matches) + 10_000
        for index, (offset, end, signature, row) in enumerate(self._footers):
            if foot[offset:end] == signature:
                matches.append((first + index, signature, row))
        if not matches:
            return []
        matches.extend(self._part_matches(head, foot, matches))
        matches.sort(key=lambda match: (-_rank(match[1]), -len(match[1]), match[0]))
        return [str(row.mime_type) for _, _, row in matches if row.mime_type]

    def _header_matches(self, head: bytes) -> list[tuple[int, bytes, Any]]:
        found: list[tuple[int, bytes, Any]] = []
        size = len(head)
        for offset, by_first in self._offsets:
            if offset >= size:
                break
            rows = by_first.get(head[offset])
            if rows is None:
                continue
            for position, row in rows:
                if head.startswith(row.byte_match, offset):
                    found.append((position, row.byte_match, row))
        return found

    def _part_matches(
        self, head: bytes, foot: bytes, matches: list[tuple[int, bytes, Any]]
    ) -> list[tuple[int, bytes, Any]]:
        found: list[tuple[int, bytes, Any]] = []
        for position, signature, matched in list(matches):
            for row in self._parts.get(signature, ()):
                end = row.offset + len(row.byte_match)
                if row.offset < 0:
                    area = foot[row.offset : end] if end else foot[row.offset :]
                    combined = signature + row.byte_match
                else:
                    area = head[row.offset : end]
                    combined = head[matched.offset : end]
                if area == row.byte_match:
                    found.append((position + 20_000, combined, row))
        return found


def _rank(signature: bytes) -> float:
    """puremagic's confidence: 0.1 per byte of signature, 0.8 from nine bytes on."""
    return 0.8 if len(signature) >= 9 else len(signature) / 10


def _public_sniff(head: bytes) -> list[str]:
    import puremagic

    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return [str(match.mime_type) for match in matches if match.mime_type]


@functools.cache
def _signatures() -> _Signatures:
    return _Signatures()


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        return error.start >= len(head) - 3
    return True


def _is_text_type(mime_type: str) -> bool:
    return (
        mime_type.startswith("text/")
        or mime_type in _TEXT_APPLICATIONS
        or is_active_content(mime_type)
    )
