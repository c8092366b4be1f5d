"""Both backends keep, give back and delete bytes; S3 is proved against a real S3-compatible server (moto's)."""

import asyncio
from pathlib import Path

import pytest

from services.attachments.errors import StorageUnavailable
from services.attachments.storage import LocalStorage, Storage, storage_from_settings
from shared.settings import Settings
from tests.services.attachments.kit import free_port, moto_s3, s3_storage

pytestmark = pytest.mark.pure


async def _round_trip(storage: Storage) -> None:
    await storage.put("7/abc_DEF-1/original", b"\xff\xd8first", "image/jpeg")
    await storage.put("7/abc_DEF-1/original", b"\xff\xd8second", "image/jpeg")  # replaced
    assert await storage.get("7/abc_DEF-1/original") == b"\xff\xd8second"
    assert await storage.get("7/abc_DEF-1/thumbnail") is None
    await storage.delete("7/abc_DEF-1/original")
    await storage.delete("7/abc_DEF-1/original")  # absent: nothing happens
    assert await storage.get("7/abc_DEF-1/original") is None


async def test_local_storage_round_trip(tmp_path: Path):
    await _round_trip(LocalStorage(tmp_path))
    leftovers = await asyncio.to_thread(lambda: list(tmp_path.rglob(".part-*")))
    assert leftovers == []  # no half-written files left behind


async def test_s3_storage_round_trip_on_a_real_s3_server():
    with moto_s3() as (endpoint, client, bucket):
        storage = s3_storage(endpoint, bucket, prefix="city-3302")
        await storage.put("7/key/original", b"%PDF-1.4 ...", "application/pdf")
        head = client.head_object(Bucket=bucket, Key="city-3302/7/key/original")
        assert head["ContentType"] == "application/pdf" and head["ContentLength"] == 12
        await _round_trip(storage)


async def test_an_unreachable_s3_store_is_unavailable_not_a_crash():
    storage = s3_storage(f"http://127.0.0.1:{free_port()}", "minqing-test")
    with pytest.raises(StorageUnavailable):
        await storage.put("1/k/original", b"x", "image/jpeg")
    with pytest.raises(StorageUnavailable):
        await storage.get("1/k/original")


async def test_a_missing_bucket_is_unavailable():
    with moto_s3() as (endpoint, _, _bucket), pytest.raises(StorageUnavailable):
        await s3_storage(endpoint, bucket="no-such-bucket").put("1/k/original", b"x", "image/jpeg")


async def test_keys_that_could_leave_the_folder_are_refused(tmp_path: Path):
    storage = LocalStorage(tmp_path / "store")
    for key in ("../outside", "/etc/passwd", "a//b", "a/./b", ""):
        with pytest.raises(ValueError):
            await storage.put(key, b"x", "image/jpeg")


def test_the_settings_choose_the_backend(tmp_path: Path):
    local = storage_from_settings(Settings(attachment_dir=str(tmp_path)))
    assert isinstance(local, LocalStorage) and local.root == tmp_path
    with pytest.raises(ValueError):
        storage_from_settings(Settings(attachment_storage="ftp"))
