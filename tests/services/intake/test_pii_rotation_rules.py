"""The rotation's rules, hammered: a value re-encrypted under the newest key opens to the same text with the
newest key alone, re-encrypting it again changes nothing, and a request's rewrite is final after one step."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.pii_rotation import RequestPii, rewritten_request, rotated
from shared.crypto import FieldCipher, parse_keys

pytestmark = pytest.mark.pure

key_ids = st.lists(st.integers(1, 255), min_size=2, max_size=4, unique=True)
texts = st.text(min_size=0, max_size=60)
contexts = st.sampled_from([b"", b"feedback-token"])


def _keys(ids: list[int]) -> list[tuple[int, bytes]]:
    return [(kid, bytes([kid]) * 32) for kid in ids]


@settings(max_examples=150, deadline=None)
@given(ids=key_ids, plaintext=texts, context=contexts, writer=st.integers(0, 3))
def test_a_rotated_value_opens_under_the_newest_key_alone_and_rotates_once(
    ids: list[int], plaintext: str, context: bytes, writer: int
) -> None:
    keys = _keys(ids)
    old = FieldCipher(keys[writer % len(keys) :])  # written when this key was the newest
    blob = old.encrypt(plaintext, context=context)
    during = FieldCipher(keys)
    new = rotated(during, blob, context=context)
    if writer % len(keys) == 0:
        assert new is None  # already under the newest key
        new = blob
    assert new is not None and FieldCipher.key_id_of(new) == ids[0]
    assert FieldCipher(keys[:1]).decrypt(new, context=context) == plaintext
    assert rotated(during, new, context=context) is None


@settings(max_examples=80, deadline=None)
@given(ids=key_ids, name=st.none() | texts, phone=st.none() | st.text("0123456789", min_size=5, max_size=15))
def test_a_requests_rewrite_is_final_after_one_step(ids: list[int], name: str | None, phone: str | None) -> None:
    keys = _keys(ids)
    old = FieldCipher(keys[1:])
    row = RequestPii(
        old.encrypt(name) if name is not None else None, old.encrypt(phone) if phone is not None else None, None
    )
    during = FieldCipher(keys)
    once = rewritten_request(during, row, rehash=False)
    assert (once is None) == (name is None and phone is None)
    if once is not None:
        assert rewritten_request(during, once, rehash=False) is None
        after = FieldCipher(keys[:1])
        assert (after.decrypt(once.name_enc) if once.name_enc else None) == name
        assert (after.decrypt(once.phone_enc) if once.phone_enc else None) == phone


def test_a_key_list_naming_one_id_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="once"):
        parse_keys("1:" + "A" * 43 + "=,1:" + "B" * 43 + "=")
