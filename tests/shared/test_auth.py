"""Auth primitives (SPEC §8): staff JWTs are refused unless intact, current and ours; API keys and
passwords hold their properties for any input."""

import base64
import json
import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.identity.service import issue_token, resolve_principal
from services.models import StaffAccount
from shared.auth import (
    API_KEY_PREFIX,
    Credentials,
    api_key_matches,
    decode_access_token,
    generate_api_key,
    hash_password,
    issue_access_token,
    parse_api_key,
    verify_password,
)
from shared.errors import NotAuthenticated
from shared.settings import get_settings
from tests.factories import bearer, make_small_city, make_staff

# Hypothesis tests here take no fixture, but the autouse clean_state fixture is harmless to share.
QUICK = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KEY_SHAPE = re.compile(rf"{API_KEY_PREFIX}_([^_]{{12}})_(.+)", re.DOTALL)


def _secret() -> str:
    return get_settings().secret_key.get_secret_value()


def _issuer() -> str:
    return get_settings().jwt_issuer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _claims(staff_id: int, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(staff_id),
        "role": "admin",
        "iss": _issuer(),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "jti": "test",
        "typ": "access",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(claims: dict[str, Any], secret: str | None = None) -> str:
    return jwt.encode(claims, secret or _secret(), algorithm="HS256")


def _unsigned(claims: dict[str, Any]) -> str:
    """An `alg=none` token: a header, the claims, and an empty signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    return f"{header}.{_b64(json.dumps(body).encode())}."


def _tampered(token: str, **changes: Any) -> str:
    """The same token with its payload edited and its original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _decode(token: str) -> dict[str, Any]:
    return decode_access_token(token, secret=_secret(), issuer=_issuer())


async def _staff(session) -> StaffAccount:
    units = await make_small_city(session)
    staff = await make_staff(session, "gw_auth", "handler", units["330203001001001"])
    await session.commit()
    return staff


async def _assert_refused(client, token: str) -> None:
    # Sent as UTF-8 bytes, so that non-ASCII garbage reaches the app as it would over the wire.
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}".encode()})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["status"] == 401


# ---- JWTs, through the API and directly ------------------------------------------------------


async def test_valid_token_is_accepted(session, intake_client):
    staff = await _staff(session)
    r = await intake_client.get("/v1/me", headers=bearer(staff))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == staff.id
    claims = _decode(bearer(staff)["Authorization"].removeprefix("Bearer "))
    assert claims["sub"] == str(staff.id)
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == get_settings().jwt_ttl_seconds


async def test_expired_token_is_refused(session, intake_client):
    staff = await _staff(session)
    token, _ = issue_access_token(
        secret=_secret(), issuer=_issuer(), ttl_seconds=-60, staff_id=staff.id, role="handler"
    )
    await _assert_refused(intake_client, token)
    with pytest.raises(NotAuthenticated, match="expired"):
        _decode(token)


async def test_token_signed_with_another_secret_is_refused(session, intake_client):
    staff = await _staff(session)
    token = _signed(_claims(staff.id), secret="another-secret-of-sufficient-length-0123456789")
    await _assert_refused(intake_client, token)
    with pytest.raises(NotAuthenticated):
        _decode(token)


async def test_alg_none_token_is_refused(session, intake_client):
    staff = await _staff(session)
    token = _unsigned(_claims(staff.id))
    await _assert_refused(intake_client, token)
    with pytest.raises(NotAuthenticated):
        _decode(token)
    # Even with a signature part attached.
    forged = token + _b64(b"x" * 32)
    await _assert_refused(intake_client, forged)
    with pytest.raises(NotAuthenticated):
        _decode(forged)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_token_signed_with_another_algorithm_is_refused(session, intake_client):
    staff = await _staff(session)
    token = jwt.encode(_claims(staff.id), _secret(), algorithm="HS512")
    await _assert_refused(intake_client, token)
    with pytest.raises(NotAuthenticated):
        _decode(token)


async def test_token_with_tampered_payload_is_refused(session, intake_client):
    units = await make_small_city(session)
    handler = await make_staff(session, "gw_auth", "handler", units["330203001001001"])
    admin = await make_staff(session, "city_admin", "admin", units["3302"])
    await session.commit()
    token = bearer(handler)["Authorization"].removeprefix("Bearer ")
    for changes in ({"sub": str(admin.id)}, {"role": "admin"}, {"exp": int(datetime.now(UTC).timestamp()) + 10**6}):
        forged = _tampered(token, **changes)
        assert forged != token
        await _assert_refused(intake_client, forged)
        with pytest.raises(NotAuthenticated):
            _decode(forged)


async def test_token_for_a_staff_account_that_no_longer_exists_is_refused(session, intake_client):
    staff = await _staff(session)
    token = bearer(staff)["Authorization"].removeprefix("Bearer ")
    assert (await intake_client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    await session.delete(staff)
    await session.commit()
    await _assert_refused(intake_client, token)
    # The token itself is still intact: it is the account lookup that refuses it.
    assert _decode(token)["sub"] == str(staff.id)
    with pytest.raises(NotAuthenticated):
        await resolve_principal(session, Credentials(bearer=token, api_key=None))


async def test_token_for_a_never_existing_staff_id_is_refused(session, intake_client):
    await _staff(session)
    for sub in ("999999", str(2**62), "0", "-1"):
        token = _signed(_claims(0, sub=sub))
        await _assert_refused(intake_client, token)
        with pytest.raises(NotAuthenticated):
            await resolve_principal(session, Credentials(bearer=token, api_key=None))


async def test_token_with_a_malformed_subject_is_refused(session, intake_client):
    await _staff(session)
    for sub in ("abc", "", "1.5", " 1x"):
        token = _signed(_claims(0, sub=sub))
        await _assert_refused(intake_client, token)


async def test_token_with_a_subject_beyond_the_id_range_is_refused_not_a_500(session, intake_client):
    """Never a 500: a subject no account can have (beyond BIGINT) is just an unknown account."""
    await _staff(session)
    for sub in (str(2**63), "9" * 40, str(-(2**63) - 1)):
        token = _signed(_claims(0, sub=sub))
        await _assert_refused(intake_client, token)


async def test_token_missing_required_claims_or_foreign_is_refused(session, intake_client):
    staff = await _staff(session)
    bad = [
        _signed(_claims(staff.id, exp=None)),
        _signed(_claims(staff.id, iat=None)),
        _signed(_claims(staff.id, iss=None)),
        _signed(_claims(staff.id, iss="someone-else")),
        _signed(_claims(staff.id, typ=None)),
        _signed(_claims(staff.id, typ="refresh")),
        _signed(_claims(staff.id, nbf=datetime.now(UTC) + timedelta(hours=1))),
    ]
    for token in bad:
        await _assert_refused(intake_client, token)
        with pytest.raises(NotAuthenticated):
            _decode(token)
    # The same claims, complete, are accepted: the refusals above are about what was changed.
    assert (
        await intake_client.get("/v1/me", headers={"Authorization": f"Bearer {_signed(_claims(staff.id))}"})
    ).status_code == 200


async def test_garbage_bearer_tokens_are_refused(session, intake_client):
    staff = await _staff(session)
    token, _ = issue_token(staff)
    for garbage in ("x", "a.b.c", "...", token.split(".", 1)[1], token + ".x", "é" * 10):
        await _assert_refused(intake_client, garbage)
        with pytest.raises(NotAuthenticated):
            _decode(garbage)


# ---- API keys --------------------------------------------------------------------------------


# Arbitrary text, and text close to the key shape (where the boundary cases are).
NEAR_KEYS = st.builds(
    "{}_{}_{}".format,
    st.sampled_from(["mq", "MQ", "m", "mq_", ""]),
    st.one_of(st.text(max_size=14), st.text(min_size=11, max_size=13)),
    st.text(max_size=6),
)


@QUICK
@given(st.one_of(st.text(), NEAR_KEYS))
def test_parse_api_key_never_raises_and_answers_only_for_the_key_shape(text):
    prefix = parse_api_key(text)
    match = KEY_SHAPE.fullmatch(text)
    if match is None:
        assert prefix is None
    else:
        assert prefix == match.group(1)


@QUICK
@given(
    prefix=st.text(alphabet=st.characters(exclude_characters="_"), min_size=12, max_size=12),
    secret=st.text(min_size=1),
)
def test_parse_api_key_returns_the_prefix_of_well_shaped_text(prefix, secret):
    assert parse_api_key(f"{API_KEY_PREFIX}_{prefix}_{secret}") == prefix


@QUICK
@given(
    head=st.sampled_from(["mq", "MQ", "mk", "", "mqq"]),
    prefix=st.text(alphabet=string.hexdigits, min_size=0, max_size=20),
    secret=st.text(max_size=40),
)
def test_parse_api_key_refuses_a_wrong_head_or_prefix_length(head, prefix, secret):
    text = f"{head}_{prefix}_{secret}"
    if head != "mq" or len(prefix) != 12:
        assert parse_api_key(text) is None


def test_parse_api_key_refuses_an_empty_secret():
    assert parse_api_key(f"{API_KEY_PREFIX}_{'a' * 12}_") is None


@QUICK
@given(other=st.text())
def test_generated_keys_parse_back_and_match_only_themselves(other):
    new = generate_api_key()
    assert re.fullmatch(r"[0-9a-f]{12}", new.prefix)
    assert parse_api_key(new.key) == new.prefix
    assert api_key_matches(new.key, new.secret_hash)
    assert new.secret_hash != new.key
    assert new.key.split("_", 2)[2] not in new.secret_hash
    if other != new.key:
        assert not api_key_matches(other, new.secret_hash)


@QUICK
@given(cut=st.integers(min_value=0, max_value=60), extra=st.text(min_size=1, max_size=5))
def test_near_miss_keys_do_not_match(cut, extra):
    new = generate_api_key()
    truncated = new.key[: len(new.key) - 1 - cut % len(new.key)]
    assert not api_key_matches(truncated, new.secret_hash)
    assert not api_key_matches(new.key + extra, new.secret_hash)
    assert not api_key_matches(extra + new.key, new.secret_hash)
    if new.key.upper() != new.key:
        assert not api_key_matches(new.key.upper(), new.secret_hash)


def test_generated_keys_are_distinct():
    keys = [generate_api_key() for _ in range(200)]
    assert len({k.key for k in keys}) == len({k.prefix for k in keys}) == 200


# ---- passwords -------------------------------------------------------------------------------

KNOWN_PASSWORD = "correct-horse-battery-staple"
KNOWN_HASH = hash_password(KNOWN_PASSWORD)


@SLOW
@given(st.text(max_size=64))
def test_verify_password_is_false_for_any_wrong_password(wrong):
    if wrong != KNOWN_PASSWORD:
        assert verify_password(KNOWN_HASH, wrong) is False
    assert verify_password(None, wrong) is False


@SLOW
@given(st.text(min_size=1, max_size=64))
def test_hashed_password_verifies_and_nothing_else_does(password):
    hashed = hash_password(password)
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, password) is True
    assert verify_password(hashed, password + "x") is False


def test_verify_password_is_false_for_a_broken_hash():
    assert verify_password("not-an-argon2-hash", KNOWN_PASSWORD) is False
    assert verify_password("", KNOWN_PASSWORD) is False
    assert verify_password(KNOWN_HASH, KNOWN_PASSWORD) is True
    # No account: the dummy hash is verified (for timing) but never grants access.
    assert verify_password(None, "not-a-real-password") is False
