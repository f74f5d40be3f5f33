"""`with_storage()`: STORAGE_URL (default file://./data), health, the DI container."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrakit import Infra
from infrakit.storage import FsspecStorage, StorageProvider

KEY = "builder-signing-key-0123456789ab"


def write_env(directory: Path, text: str) -> None:
    (directory / ".env").write_text(text, encoding="utf-8")


async def test_storage_url_from_the_config(tmp_path: Path) -> None:
    root = tmp_path / "files"
    write_env(tmp_path, f"STORAGE_URL=file://{root}\nSTORAGE_SIGNING_KEY={KEY}\n")
    infra = Infra.builder(env="test", directory=tmp_path).with_storage().build()
    async with infra:
        await infra.storage.save_file("a.txt", b"1")
        assert (root / "a.txt").read_bytes() == b"1"
        assert infra.container.resolve(StorageProvider) is infra.storage
        health = await infra.health()
        assert health["storage"].healthy
        url = await infra.storage.get_file_url("a.txt")
        assert FsspecStorage("memory://", signing_keys=[KEY]).verify_signed_url(url) == "a.txt"


async def test_default_is_file_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    infra = Infra.builder(env="test", directory=tmp_path).with_storage().build()
    async with infra:
        await infra.storage.save_file("x/y.txt", b"2")
    assert (tmp_path / "data" / "x" / "y.txt").read_bytes() == b"2"


async def test_an_explicit_instance_or_url(tmp_path: Path) -> None:
    mine = FsspecStorage("memory://")
    infra = Infra.builder(env="test", directory=tmp_path).with_storage(mine).build()
    async with infra:
        assert infra.storage is mine
    by_url = Infra.builder(env="test", directory=tmp_path).with_storage(url="memory://").build()
    async with by_url:
        await by_url.storage.save_file("m", b"3")
        assert not (tmp_path / "data").exists()
