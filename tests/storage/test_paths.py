"""Traversal corpus: every unsafe path is refused before any backend sees it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infrakit.storage import InvalidPathError, LocalStorage, normalize_key

RESERVED = ".infrakit"  # the rule names the reserved prefix itself
TRAVERSALS = [
    "..",
    "../",
    "../etc/passwd",
    "../../etc/passwd",
    "a/../../b",
    "a/b/../../../c",
    "a/..",
    "./../x",
    "a/./../../x",
    "..//x",
    "a//..//..//x",
    "/etc/passwd",
    "/",
    "//server/share/file",
    "/tmp/../etc/passwd",
    "..\\windows\\win.ini",
    "a\\..\\..\\b",
    "\\\\server\\share",
    "\\etc\\passwd",
    "a\\b",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "c:foo",
    "Z:",
    "file\x00.txt",
    "\x00",
    "a/\x00/b",
    "..\x00/x",
    "line\nbreak",
    "tab\there",
    "carriage\rreturn",
    "escape\x1b[31m",
    "delete\x7f",
    ".infrakit-meta/a.txt.json",
    "a/.infrakit-tmp-0123",
    ".infrakit",
    "",
    ".",
    "./",
    "a/b/",
    "dir/",
    "\udc80",
    "a/\ud800b",
    "x" * 1025,
    "a/" * 600 + "b",
]


def found_anywhere(directory: Path, name: str) -> bool:
    return any(directory.rglob(name))


def test_the_corpus_is_large_enough() -> None:
    assert len(TRAVERSALS) >= 40


@pytest.mark.parametrize("path", TRAVERSALS, ids=range(len(TRAVERSALS)))
def test_unsafe_keys_are_refused(path: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        normalize_key(path)
    error = caught.value
    assert error.status_code == 400
    assert error.code == "STORAGE_INVALID_PATH"
    if len(path) > 3 and path != RESERVED:  # the message never repeats what was refused
        assert path not in error.message


@pytest.mark.parametrize("path", TRAVERSALS, ids=range(len(TRAVERSALS)))
async def test_every_operation_refuses_them(path: str, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    for operation in (
        storage.save_file(path, b"x"),
        storage.get_file(path),
        storage.get_file_stream(path),
        storage.get_file_metadata(path),
        storage.delete_file(path),
        storage.file_exists(path),
        storage.get_file_url(path),
    ):
        with pytest.raises(InvalidPathError):
            await operation
    assert not (tmp_path / "etc").exists()
    assert not found_anywhere(tmp_path, "passwd")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("a.txt", "a.txt"),
        ("a//b", "a/b"),
        ("./a/./b", "a/b"),
        ("a/b/c", "a/b/c"),
        ("..a/b..", "..a/b.."),  # dots inside a name are a name
        ("...", "..."),
        ("%2e%2e/x", "%2e%2e/x"),  # literal: storage never URL-decodes keys
        ("ab:c", "ab:c"),  # only a single letter and a colon is a drive
        ("ü/ñ.txt", "ü/ñ.txt"),
    ],
)
def test_safe_keys_are_normalised(path: str, key: str) -> None:
    assert normalize_key(path) == key


async def test_literal_percent_names_stay_inside_the_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    await storage.save_file("%2e%2e/x", b"1")
    assert (tmp_path / "root" / "%2e%2e" / "x").read_bytes() == b"1"


async def test_a_symlink_leaving_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link")
    os.symlink(outside / "secret.txt", root / "file-link")
    (root / "inner").mkdir()
    os.symlink("../../outside", root / "inner" / "deep-link")  # relative, one level down
    storage = LocalStorage(root)
    for path in ("link/secret.txt", "file-link", "link/new.txt", "inner/deep-link/secret.txt"):
        with pytest.raises(InvalidPathError) as caught:
            await storage.get_file(path)
        assert "outside" in caught.value.message
        with pytest.raises(InvalidPathError):
            await storage.save_file(path, b"overwritten")
        with pytest.raises(InvalidPathError):
            await storage.delete_file(path)
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert not (outside / "new.txt").exists()
    assert await storage.list_files() == []


async def test_a_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.txt").write_bytes(b"a")
    os.symlink(root / "real", root / "alias")
    storage = LocalStorage(root)
    assert await storage.get_file("alias/a.txt") == b"a"


def test_refusals_are_never_remembered() -> None:
    """Accepted keys are cached; an unsafe path is refused every time it is asked."""
    for _ in range(3):
        with pytest.raises(InvalidPathError):
            normalize_key("../escape")
    assert normalize_key("a//b") == normalize_key("a//b") == "a/b"


def test_string_subclasses_are_checked_too() -> None:
    class Text(str):
        pass

    assert normalize_key(Text("a/./b")) == "a/b"
    with pytest.raises(InvalidPathError):
        normalize_key(Text("../x"))
