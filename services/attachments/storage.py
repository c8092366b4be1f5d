"""The object store behind attachments: one small interface, two backends.

* `LocalStorage`: files under a folder (by default `.data/attachments`, the embedded default of `make run`).
* `S3Storage`: any S3-compatible store (AWS S3, MinIO, Ceph, OSS/COS in S3 mode) through boto3, whose
  blocking calls run in a worker thread.

Keys are made by the service (`<request id>/<random>/<variant>`), never from what a caller sent. A failure
of the store is `StorageUnavailable` (503, retry), a missing object `None`.
"""

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from services.attachments.errors import StorageUnavailable
from shared.settings import Settings, get_settings

_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key) or len(key) > 400:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    """Where attachment bytes live."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` (replacing what was there)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes under `key`, or None when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key` (nothing when it is absent)."""
        ...


class LocalStorage:
    """Files in a folder, written whole (a temporary file renamed into place: a reader never sees half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            await asyncio.to_thread(self._put, key, data)
        except OSError as exc:
            raise StorageUnavailable(
                f"The file store refused the write ({exc.strerror or type(exc).__name__})"
            ) from exc

    async def get(self, key: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._get, key)
        except OSError as exc:
            raise StorageUnavailable() from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class S3Storage:
    """Objects in one bucket of an S3-compatible store, under an optional prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3Storage":
        import boto3
        from botocore.config import Config

        secret = settings.attachment_s3_secret_access_key
        client = boto3.client(
            "s3",
            endpoint_url=settings.attachment_s3_endpoint_url,
            region_name=settings.attachment_s3_region,
            aws_access_key_id=settings.attachment_s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
            # Path-style addressing: MinIO and most on-premises stores have no per-bucket host names.
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        return cls(client, settings.attachment_s3_bucket, settings.attachment_s3_prefix)

    def _key(self, key: str) -> str:
        return self.prefix + _checked(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            await asyncio.to_thread(
                self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable() from exc

    async def get(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        def read() -> bytes | None:
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            body: bytes = answer["Body"].read()
            return body

        try:
            return await asyncio.to_thread(read)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable() from exc

    async def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable() from exc


_configured: list[Storage] = []


def storage_from_settings(settings: Settings) -> Storage:
    """The backend the settings name (`ATTACHMENT_STORAGE`: `local` or `s3`)."""
    if settings.attachment_storage == "s3":
        return S3Storage.from_settings(settings)
    if settings.attachment_storage != "local":
        raise ValueError(f"ATTACHMENT_STORAGE must be local or s3, not {settings.attachment_storage!r}")
    return LocalStorage(Path(settings.attachment_dir))


def get_storage() -> Storage:
    """The process's object store, made from the settings on first use (or the one `use_storage` set)."""
    if not _configured:
        _configured.append(storage_from_settings(get_settings()))
    return _configured[0]


def use_storage(storage: Storage | None) -> None:
    """Use `storage` from now on (None: the settings' backend again, made on next use)."""
    _configured.clear()
    if storage is not None:
        _configured.append(storage)
