"""Content types: the bytes first (puremagic), then the name; active types flagged."""

from __future__ import annotations

import io
import zipfile

import pytest

from infrakit.storage import detect_content_type, is_active_content


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("path", "head", "expected", "source"),
    [
        ("photo", b"\x89PNG\r\n\x1a\n" + bytes(32), "image/png", "bytes"),
        ("photo.jpg", b"\x89PNG\r\n\x1a\n" + bytes(32), "image/png", "bytes"),  # bytes win
        ("a.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg", "bytes"),
        ("a", b"GIF89a" + bytes(20), "image/gif", "bytes"),
        ("doc", b"%PDF-1.7\n", "application/pdf", "bytes"),
        ("clip", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "video/mp4", "bytes"),
        ("sound", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wave", "bytes"),
        ("a.zip", zip_bytes(), "application/zip", "bytes"),
        ("unknown.bin", zip_bytes(), "application/zip", "bytes"),
        ("notes", b"just some text", "text/plain", "bytes"),
        ("style.css", b"body { color: red }", "text/css", "extension"),
        ("fake.png", b"plain text, not an image", "text/plain", "bytes"),
        ("data.json", None, "application/json", "extension"),
        ("noext", None, "application/octet-stream", "default"),
        ("noext", bytes(range(256)), "application/octet-stream", "default"),
    ],
)
def test_detection(path: str, head: bytes | None, expected: str, source: str) -> None:
    detected = detect_content_type(path, head)
    assert (detected.mime_type, detected.source) == (expected, source)
    assert str(detected) == expected


@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("page", b"<!DOCTYPE html><html><body>hi</body></html>"),
        ("page.txt", b"<html><head><script>alert(1)</script>"),
        ("x.svg", None),
        ("x", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        ("x", b'<?xml version="1.0"?><root/>'),
        ("a.html", None),
        ("a.xhtml", None),
        ("a.js", None),
    ],
)
def test_active_content_is_flagged_as_attachment(path: str, head: bytes | None) -> None:
    detected = detect_content_type(path, head)
    assert detected.attachment, detected
    assert is_active_content(detected.mime_type)


@pytest.mark.parametrize(
    "mime_type", ["image/png", "text/plain", "application/pdf", "video/mp4", "application/json"]
)
def test_passive_types_are_not_flagged(mime_type: str) -> None:
    assert not is_active_content(mime_type)


def test_parameters_and_case_do_not_hide_active_types() -> None:
    assert is_active_content("Text/HTML; charset=utf-8")
    assert is_active_content("application/atom+xml")


def test_a_cut_utf8_character_is_still_text() -> None:
    head = ("é" * 1024).encode()[:2047]
    assert detect_content_type("x", head).mime_type == "text/plain"


async def test_saves_detect_from_the_first_bytes_of_a_stream() -> None:
    from infrakit.storage import FsspecStorage

    async def tiny_chunks():  # type: ignore[no-untyped-def]
        for byte in b"\x89PNG\r\n\x1a\n" + bytes(100):
            yield bytes([byte])

    storage = FsspecStorage("memory://")
    result = await storage.save_file("upload", tiny_chunks())
    assert result.content_type == "image/png"


def test_the_signature_index_agrees_with_puremagic() -> None:
    """The fast index gives what `puremagic.magic_string` gives, signature by signature."""
    import os

    import puremagic.main

    from infrakit.storage._content_type import _public_sniff, _signatures

    samples = [b"<!DOCTYPE html><html>", b'<svg xmlns="x">', b"%PDF-1.4", zip_bytes()]
    for row in puremagic.main.magic_header_array[::7]:
        head = bytearray(os.urandom(2048))
        if row.offset + len(row.byte_match) <= len(head):
            head[row.offset : row.offset + len(row.byte_match)] = row.byte_match
            samples.append(bytes(head))
    for head in samples:
        fast, public = _signatures().mime_types(head), _public_sniff(head)
        assert set(fast) == set(public)
        assert fast[:1] == public[:1]


def test_the_name_cache_agrees_with_mimetypes() -> None:
    """Types by name are cached by the last two suffixes: the same answers as `mimetypes`."""
    import itertools
    import mimetypes

    from infrakit.storage._content_type import _type_by_name

    suffixes = ["", *list(mimetypes.types_map)[::5], *mimetypes.encodings_map]
    suffixes += list(mimetypes.suffix_map)
    names = ["README", ".bashrc", "dir/.hidden.png", "a.", "x/y.z/w", "data:text/plain,x"]
    for first, second in itertools.product(suffixes, suffixes):
        names += [f"report{first}{second}", f"dir.d/file{first.upper()}{second}"]
    for name in names:
        assert _type_by_name(name) == mimetypes.guess_type(name, strict=False)[0], name
