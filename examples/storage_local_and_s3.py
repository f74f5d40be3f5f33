"""Storage: the same calls on the local disk and on S3.

The local part always runs. The S3 part runs when `STORAGE_S3_ENDPOINT` names an
S3-compatible server (with `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, and
`STORAGE_S3_BUCKET`, default `infrakit-example`, created first when
`STORAGE_S3_CREATE_BUCKET=1`); otherwise it says why it is skipped. Needs the `s3` extra.

Run: `python examples/storage_local_and_s3.py`
"""

from __future__ import annotations

import asyncio
import os
import tempfile

from infrakit.storage import FsspecStorage, InvalidPathError, LocalStorage, StorageProvider

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


async def tour(name: str, storage: StorageProvider) -> None:
    """What an application does with files, whatever the backend."""
    saved = await storage.save_file("avatars/ada.png", PNG, metadata={"owner": "ada"})
    print(f"[{name}] saved {saved.path}: {saved.size} bytes, {saved.content_type}")

    async def report_lines():  # an upload streamed in chunks, never held whole
        for day in range(1, 4):
            yield f"2024-01-0{day},ok\n".encode()

    await storage.save_file("reports/january.csv", report_lines())
    stream = await storage.get_file_stream("reports/january.csv", start=0, end=13)
    first_line = b"".join([chunk async for chunk in stream]).decode()
    print(f"[{name}] first bytes of the report: {first_line}")

    metadata = await storage.get_file_metadata("avatars/ada.png")
    print(f"[{name}] metadata: {dict(metadata.metadata)}, modified {metadata.modified:%Y-%m-%d}")
    print(f"[{name}] listing *.png: {await storage.list_files('', '*.png')}")

    url = await storage.get_file_url("avatars/ada.png", expires_in=300)
    print(f"[{name}] URL for 5 minutes: {url.split('?')[0]}?...")

    try:
        await storage.get_file("../etc/passwd")
    except InvalidPathError as error:
        print(f"[{name}] refused a traversal: {error.code} ({error.status_code})")

    deleted = await storage.delete_file("avatars/ada.png")
    print(f"[{name}] deleted: {deleted}; stats: {storage.get_stats()}")


async def local_part() -> None:
    with tempfile.TemporaryDirectory() as root:
        async with LocalStorage(root, signing_keys=["example-signing-key-0123456789"]) as storage:
            await tour("local", storage)
            url = await storage.get_file_url("reports/january.csv")
            print(f"[local] the file route verifies its URL: {storage.verify_signed_url(url)}")
    print("local part done")


async def s3_part() -> None:
    endpoint = os.environ.get("STORAGE_S3_ENDPOINT")
    if not endpoint:
        print("S3 part skipped: no S3 endpoint configured (set STORAGE_S3_ENDPOINT)")
        return
    bucket = os.environ.get("STORAGE_S3_BUCKET", "infrakit-example")
    options = {"endpoint_url": endpoint, "client_kwargs": {"region_name": "us-east-1"}}
    if os.environ.get("STORAGE_S3_CREATE_BUCKET") == "1":
        import s3fs

        # No region here: s3fs would send it as a location constraint, which us-east-1 refuses.
        creator = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
        await asyncio.to_thread(creator.mkdir, bucket)
    async with FsspecStorage(f"s3://{bucket}/example", **options) as storage:
        await tour("s3", storage)
    print("S3 part done")


async def main() -> None:
    await local_part()
    await s3_part()


if __name__ == "__main__":
    asyncio.run(main())
