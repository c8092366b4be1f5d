"""Files are what their bytes say; images lose their EXIF (unless kept) and get thumbnails and public copies."""

import io
import zipfile

import pytest
from PIL import Image

from services.attachments import content
from tests.services.attachments.kit import PDF, has_location_or_camera, jpeg_with_exif, opened, png

pytestmark = pytest.mark.pure
ALLOWED = frozenset(content.KNOWN_TYPES)


def prepare(data: bytes, **options: object) -> content.Prepared:
    values: dict[str, object] = {
        "allowed": ALLOWED,
        "keep_metadata": False,
        "max_pixels": 10_000_000,
        "thumbnail_px": 16,
        "public_px": 48,
    }
    return content.prepare(data, **(values | options))  # type: ignore[arg-type]


def test_a_jpeg_loses_its_location_and_camera_and_is_turned_upright():
    original = jpeg_with_exif(64, 32, orientation=6)
    assert has_location_or_camera(original)
    ready = prepare(original)
    assert ready.content_type == "image/jpeg"
    assert not has_location_or_camera(ready.data)
    assert opened(ready.data).getexif().get(0x0112) is None  # no orientation tag: the pixels are turned
    assert opened(ready.data).size == (32, 64) == (ready.width, ready.height)


def test_kept_metadata_stores_the_bytes_as_sent():
    original = jpeg_with_exif()
    ready = prepare(original, keep_metadata=True)
    assert ready.data == original
    assert has_location_or_camera(ready.data)


def test_thumbnail_and_public_copy_are_small_jpegs_without_metadata():
    ready = prepare(jpeg_with_exif(64, 32), keep_metadata=True)
    assert ready.thumbnail is not None and ready.public_copy is not None
    for data, bound in ((ready.thumbnail, 16), (ready.public_copy, 48)):
        image = opened(data)
        assert image.format == "JPEG" and max(image.size) <= bound
        assert not has_location_or_camera(data)


def test_a_transparent_png_stays_png_and_its_thumbnail_is_flattened():
    ready = prepare(png(), public_px=None)
    assert ready.content_type == "image/png" and opened(ready.data).format == "PNG"
    assert ready.public_copy is None
    assert opened(ready.thumbnail or b"").mode == "RGB"


def test_png_text_chunks_are_dropped():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "张三 13800001234")
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=info)
    ready = prepare(out.getvalue())
    assert b"13800001234" not in ready.data and "Author" not in opened(ready.data).info


def test_the_type_comes_from_the_content_not_the_name():
    assert content.sniff(png()) == "image/png"
    assert content.sniff(PDF) == "application/pdf"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "x")
    for data in (archive.getvalue(), b"<html><script>alert(1)</script>", b"MZ\x90\x00" + b"\x00" * 64):
        with pytest.raises(content.ContentRefused) as refused:
            prepare(data)
        assert refused.value.reason == "unsupported"


def test_a_type_the_settings_leave_out_is_refused():
    with pytest.raises(content.ContentRefused) as refused:
        prepare(PDF, allowed=frozenset({"image/jpeg"}))
    assert refused.value.reason == "unsupported" and "application/pdf" in refused.value.message


def test_a_file_that_only_starts_like_an_image_is_unreadable():
    with pytest.raises(content.ContentRefused) as refused:
        prepare(b"\xff\xd8\xff\xe0" + b"\x00" * 200)
    assert refused.value.reason == "unreadable"
    truncated = jpeg_with_exif()[:300]
    with pytest.raises(content.ContentRefused):
        prepare(truncated)


def test_too_many_pixels_are_refused_before_decoding():
    with pytest.raises(content.ContentRefused) as refused:
        prepare(png(400, 400), max_pixels=100_000)
    assert "pixels" in refused.value.message


def test_a_pdf_is_stored_as_sent_and_an_unfinished_one_is_refused():
    ready = prepare(PDF)
    assert (ready.content_type, ready.data, ready.thumbnail) == ("application/pdf", PDF, None)
    with pytest.raises(content.ContentRefused):
        prepare(b"%PDF-1.4\n1 0 obj<<>>")


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("C:\\Users\\张三\\整改后.jpg", "整改后.jpg"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b\nc.png", "abc.png"),
        ("", "file"),
        (None, "file"),
        ("x" * 300, "x" * 255),
    ],
)
def test_filenames_keep_only_their_last_part_without_control_characters(given, shown):
    assert content.safe_filename(given) == shown
