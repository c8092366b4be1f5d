"""What a file is, found in its bytes (never its name), and the images made from it: the stored image with
its EXIF (location, camera) removed, a thumbnail, and a public copy. Pure functions, no I/O: CPU work that
the service runs in a thread.

Every image is decoded and encoded again (not just edited in place): a re-encoded image carries no
metadata block of any kind (EXIF, XMP, comments, PNG text chunks), nothing a crafted file hid beside its
pixels, and its orientation applied to the pixels so it still shows the right way up without the EXIF tag.
"""

import hashlib
import io
import re
import struct
import unicodedata
import warnings
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

# Types this code knows how to check; settings choose which of them are allowed.
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
KNOWN_TYPES = (*IMAGE_FORMATS.values(), "application/pdf")
_SAVE_AS = {mime: fmt for fmt, mime in IMAGE_FORMATS.items()}
PUBLIC_TYPE = "image/jpeg"  # thumbnails and public copies
_PDF_MAGIC = b"%PDF-"
_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
MAX_NAME = 255
# What decoding a malformed image raises (Pillow's own errors and the parsers' under them).
_UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    TypeError,
    KeyError,
    IndexError,
    struct.error,
    Image.DecompressionBombWarning,
)


class ContentRefused(ValueError):
    """The file is not what the platform takes: its type (`unsupported`) or its content (`unreadable`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked file and what is stored of it."""

    content_type: str
    data: bytes  # what is stored as the original (metadata stripped unless kept)
    sha256: str  # of `data`
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    public_copy: bytes | None = None


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes say they are (magic numbers), or None when unknown."""
    if data.startswith(_PDF_MAGIC):
        return "application/pdf"
    kind = filetype.guess(data[:8192])
    return str(kind.mime) if kind is not None else None


def safe_filename(name: str | None) -> str:
    """The name as shown to readers: its last path part, without control characters, at most 255 characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = _NAME_UNSAFE.sub("", unicodedata.normalize("NFC", base)).strip().strip(".")
    return cleaned[:MAX_NAME] or "file"


def prepare(
    data: bytes,
    *,
    allowed: frozenset[str] | set[str],
    keep_metadata: bool,
    max_pixels: int,
    thumbnail_px: int,
    public_px: int | None,
) -> Prepared:
    """Check the bytes' type against `allowed` and, for images, decode them and make what is stored.

    `keep_metadata`: store the image exactly as sent (staff who asked); else its metadata is removed.
    `public_px`: also make a public copy at most this size (None: the file may not be public).
    Raises `ContentRefused`.
    """
    found = sniff(data)
    if found is None or found not in allowed:
        shown = found or "an unknown type"
        raise ContentRefused("unsupported", f"{shown} is not accepted; allowed: {', '.join(sorted(allowed))}")
    if found == "application/pdf":
        if b"%%EOF" not in data[-2048:]:
            raise ContentRefused("unreadable", "the PDF is incomplete (no end-of-file marker)")
        return Prepared(found, data, hashlib.sha256(data).hexdigest())
    return _prepare_image(data, found, keep_metadata, max_pixels, thumbnail_px, public_px)


def _prepare_image(
    data: bytes, found: str, keep_metadata: bool, max_pixels: int, thumbnail_px: int, public_px: int | None
) -> Prepared:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if IMAGE_FORMATS.get(image.format or "") != found:
                raise ContentRefused("unreadable", f"the file starts like {found} but is not one")
            width, height = image.size
            if width * height > max_pixels:
                raise ContentRefused("unreadable", f"the image has {width}×{height} pixels; at most {max_pixels}")
            image.load()
            upright = ImageOps.exif_transpose(image)
            stored = data if keep_metadata else strip_metadata(upright, found)
            thumbnail = downscaled(upright, thumbnail_px)
            public_copy = downscaled(upright, public_px) if public_px is not None else None
    except ContentRefused:
        raise
    except Image.DecompressionBombError:
        raise ContentRefused("unreadable", "the image is too large to decode") from None
    except _UNREADABLE as exc:
        raise ContentRefused("unreadable", f"the image cannot be read ({type(exc).__name__})") from None
    return Prepared(
        content_type=found,
        data=stored,
        sha256=hashlib.sha256(stored).hexdigest(),
        width=upright.width,
        height=upright.height,
        thumbnail=thumbnail,
        public_copy=public_copy,
    )


def strip_metadata(image: Image.Image, content_type: str) -> bytes:
    """The image encoded again in its own format with no metadata (the colour profile stays: it is no one's)."""
    icc = image.info.get("icc_profile")
    fmt = _SAVE_AS[content_type]
    clean = image.copy()
    clean.info = {}
    if fmt == "JPEG" and clean.mode not in ("RGB", "L", "CMYK"):
        clean = clean.convert("RGB")
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        options |= {"quality": 92, "optimize": True}
    elif fmt == "WEBP":
        options |= {"quality": 90}
    clean.save(out, fmt, **options)
    return out.getvalue()


def downscaled(image: Image.Image, max_px: int) -> bytes:
    """A JPEG at most `max_px` on its longer side (transparency flattened on white), with no metadata."""
    small = image.copy()
    small.info = {}
    small.thumbnail((max_px, max_px))
    if small.mode in ("RGBA", "LA", "P", "PA"):
        rgba = small.convert("RGBA")
        small = Image.new("RGB", rgba.size, (255, 255, 255))
        small.paste(rgba, mask=rgba.getchannel("A"))
    elif small.mode != "RGB":
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()
