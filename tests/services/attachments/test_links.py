"""Signed links hold for their attachment, variant and expiry, under their key, until they expire."""

import pytest

from services.attachments import links

pytestmark = pytest.mark.pure
KEY = links.link_key("test-secret-key-for-minqing-tests-0123456789")


def test_a_link_holds_until_it_expires():
    sig = links.signature(KEY, 41, "original", 1_000)
    assert links.is_valid(KEY, 41, "original", 1_000, sig, now=999)
    assert links.is_valid(KEY, 41, "original", 1_000, sig, now=1_000)
    assert not links.is_valid(KEY, 41, "original", 1_000, sig, now=1_001)


def test_a_link_names_one_attachment_one_variant_and_one_expiry():
    sig = links.signature(KEY, 41, "thumbnail", 1_000)
    assert not links.is_valid(KEY, 42, "thumbnail", 1_000, sig, now=0)
    assert not links.is_valid(KEY, 41, "original", 1_000, sig, now=0)
    assert not links.is_valid(KEY, 41, "thumbnail", 2_000, sig, now=0)
    assert not links.is_valid(KEY, 41, "thumbnail", 1_000, sig[:-1] + ("A" if sig[-1] != "A" else "B"), now=0)
    assert not links.is_valid(KEY, 41, "thumbnail", 1_000, "", now=0)
    assert not links.is_valid(KEY, 41, "thumbnail", 1_000, "ü" * 43, now=0)


def test_another_secret_key_makes_other_signatures():
    other = links.link_key("another-secret-key-0123456789-0123456789")
    assert links.signature(other, 41, "original", 1_000) != links.signature(KEY, 41, "original", 1_000)
    # The link key is derived: it is not the secret key itself (a JWT key never signs a link).
    assert KEY != b"test-secret-key-for-minqing-tests-0123456789"


def test_the_path_carries_what_the_signature_covers():
    path = links.download_path(KEY, 41, "original", 1_000)
    assert path.startswith("/v1/attachments/41/content?variant=original&expires=1000&signature=")
    assert path.endswith(links.signature(KEY, 41, "original", 1_000))
