"""What the attachment tests share: images made on the spot (with EXIF location and camera data), a small
PDF, and a real S3-compatible server (moto's, in a thread on a free 127.0.0.1 port)."""

import io
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

from services.attachments.storage import S3Storage

CAMERA = "TestMaker"
GPS = {1: "N", 2: (29.0, 52.0, 10.0), 3: "E", 4: (121.0, 33.0, 5.0)}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def jpeg_with_exif(width: int = 64, height: int = 32, *, orientation: int = 6) -> bytes:
    """A JPEG whose EXIF names a camera and a GPS position, and rotates it (6: 90° clockwise)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = CAMERA, "Cam 1", orientation
    exif.get_ifd(0x8825).update(GPS)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(width: int = 40, height: int = 40, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def has_location_or_camera(data: bytes) -> bool:
    """Whether the image still carries an EXIF camera name or GPS block (or the camera's name anywhere)."""
    exif = opened(data).getexif()
    return CAMERA.encode() in data or 0x010F in exif or 0x8825 in exif or bool(exif.get_ifd(0x8825))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_s3() -> Iterator[tuple[str, Any, str]]:
    """moto's S3 server on a free port, with a new bucket: (endpoint URL, a boto3 client on it, the bucket).
    moto keeps its state per process, so each server gets a bucket of its own."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    bucket = f"minqing-test-{uuid.uuid4().hex[:12]}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test-access-key",
            aws_secret_access_key="test-secret-key",
        )
        client.create_bucket(Bucket=bucket)
        yield endpoint, client, bucket
    finally:
        server.stop()


def s3_storage(endpoint: str, bucket: str, prefix: str = "") -> S3Storage:
    """Our S3 backend on that server, built the way production builds it (from settings)."""
    from shared.settings import Settings

    settings = Settings(
        attachment_storage="s3",
        attachment_s3_endpoint_url=endpoint,
        attachment_s3_bucket=bucket,
        attachment_s3_access_key_id="test-access-key",
        attachment_s3_secret_access_key="test-secret-key",
        attachment_s3_prefix=prefix,
    )
    return S3Storage.from_settings(settings)


def noisy_png(side: int = 100) -> bytes:
    """A PNG of random pixels: it does not compress, so it is about 3 bytes a pixel."""
    import os

    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()
