"""Signed URLs: HMAC-SHA256 over method, path and expiry, with rotating keys."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from infrakit.errors import ConfigurationError
from infrakit.storage import FsspecStorage, InvalidPathError, SignedUrlError, UrlSigner

KEY = "signing-key-number-one-0123456789"
OLD_KEY = "signing-key-number-zero-012345678"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_round_trip_and_url_shape() -> None:
    signer = UrlSigner([KEY], base_url="https://cdn.example/files/")
    url = signer.sign("a dir/é.png", 60)
    parts = urlsplit(url)
    assert parts.path == "/files/a%20dir/%C3%A9.png"
    assert set(parse_qs(parts.query)) == {"expires", "signature"}
    assert signer.verify(url) == "a dir/é.png"
    assert signer.verify(f"{parts.path}?{parts.query}") == "a dir/é.png"  # what a route sees


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("report.pdf", "secret.pdf"),
        lambda url: url.replace("expires=", "expires=9"),
        lambda url: url[:-2] + ("AA" if not url.endswith("AA") else "BB"),
        lambda url: url.split("&signature=")[0],
        lambda url: url.split("?")[0],
        lambda url: url + "&signature=extra",
        lambda url: url.replace("/files/", "/other/"),
        lambda url: url.replace("expires=", "expires=-"),
    ],
    ids=[
        "path",
        "expiry",
        "signature",
        "no-signature",
        "no-query",
        "two-signatures",
        "base",
        "negative",
    ],
)
def test_tampered_urls_are_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    signer = UrlSigner([KEY])
    url = signer.sign("docs/report.pdf", 60)
    with pytest.raises(SignedUrlError) as caught:
        signer.verify(tamper(url))
    assert caught.value.status_code == 403
    assert caught.value.code == "STORAGE_URL_INVALID"


def test_another_method_is_refused() -> None:
    signer = UrlSigner([KEY])
    url = signer.sign("a.txt", 60, method="PUT")
    assert signer.verify(url, method="put") == "a.txt"
    with pytest.raises(SignedUrlError):
        signer.verify(url)


def test_expired_urls_are_refused() -> None:
    clock = Clock()
    signer = UrlSigner([KEY], clock=clock)
    url = signer.sign("a.txt", 30)
    clock.now += 30
    assert signer.verify(url) == "a.txt"
    clock.now += 1
    with pytest.raises(SignedUrlError) as caught:
        signer.verify(url)
    assert caught.value.code == "STORAGE_URL_EXPIRED"


def test_rotation_accepts_old_keys_and_signs_with_the_new() -> None:
    old = UrlSigner([OLD_KEY])
    rotated = UrlSigner([KEY, OLD_KEY])
    new_only = UrlSigner([KEY])
    from_old = old.sign("a.txt", 60)
    assert rotated.verify(from_old) == "a.txt"
    from_rotated = rotated.sign("a.txt", 60)
    assert new_only.verify(from_rotated) == "a.txt"
    with pytest.raises(SignedUrlError):
        new_only.verify(from_old)


def test_a_foreign_key_is_refused() -> None:
    url = UrlSigner(["someone-elses-key-0123456789"]).sign("a.txt", 60)
    with pytest.raises(SignedUrlError):
        UrlSigner([KEY]).verify(url)


def test_a_signed_traversal_is_still_refused() -> None:
    signer = UrlSigner([KEY])
    url = signer.sign("a.txt", 60).replace("a.txt", "..%2Fetc%2Fpasswd")
    with pytest.raises((SignedUrlError, InvalidPathError)):
        signer.verify(url)


@pytest.mark.parametrize("keys", [[], ["short"]])
def test_weak_key_lists_are_refused(keys: list[str]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        UrlSigner(keys)
    assert "short" not in caught.value.message


def test_repr_hides_the_keys() -> None:
    assert KEY not in repr(UrlSigner([KEY]))


async def test_storage_urls_verify_with_the_storage() -> None:
    storage = FsspecStorage("memory://", signing_keys=[KEY], url_base="/download")
    url = await storage.get_file_url("x/y.bin")
    assert url.startswith("/download/x/y.bin?expires=")
    assert storage.verify_signed_url(url) == "x/y.bin"
    with pytest.raises(SignedUrlError):
        FsspecStorage("memory://").verify_signed_url(url)  # a random key of its own


async def test_expires_in_must_be_positive() -> None:
    from infrakit.errors import ValidationError

    with pytest.raises(ValidationError):
        await FsspecStorage("memory://").get_file_url("a", expires_in=0)
