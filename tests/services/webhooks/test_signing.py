"""Pure parts of webhooks: the signature, the address guard, URL rules and the retry schedule."""

import hashlib
import hmac
import ipaddress
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.webhooks.guard import WebhookConfig, check_addresses, check_url, forbidden_reason
from services.webhooks.service import retry_delay
from services.webhooks.signing import encode_body, sign, verify

STRICT = WebhookConfig(allowed_hosts=frozenset(), allow_http=False)


def test_signature_is_hex_hmac_sha256_of_the_body():
    body = b'{"id":"evt_1","type":"alert.raised"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign(body, "s3cret") == f"sha256={expected}"
    assert verify(body, "s3cret", f"sha256={expected}")
    assert not verify(body, "other", f"sha256={expected}")
    assert not verify(body, "s3cret", expected)  # the scheme prefix is part of the header
    assert not verify(body, "s3cret", None)


@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=64), data=st.data())
def test_any_change_of_the_body_breaks_the_signature(body, secret, data):
    header = sign(body, secret)
    assert verify(body, secret, header)
    changed = data.draw(st.binary(max_size=513).filter(lambda other: other != body), label="changed body")
    assert not verify(changed, secret, header)


@given(body=st.binary(min_size=1, max_size=256), position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_flipping_one_bit_breaks_the_signature(body, position, bit):
    header = sign(body, "secret")
    index = position % len(body)
    flipped = body[:index] + bytes([body[index] ^ (1 << bit)]) + body[index + 1 :]
    assert not verify(flipped, "secret", header)


def test_body_is_compact_utf8_with_the_envelope_first():
    body = {"to": "assigned", "from": "received", "type": "request.status_changed", "id": "evt_1", "note": "噪声"}
    encoded = encode_body(body)
    assert encoded.startswith(b'{"id":"evt_1","type":"request.status_changed"')
    assert b" " not in encoded
    assert "噪声".encode() in encoded


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "10.255.255.254",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "127.0.0.1",
        "127.8.8.8",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2001:db8::1",
    ],
)
def test_guard_refuses_non_public_addresses(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is not None
    assert check_addresses([address], host="hooks.example.cn", config=STRICT) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "223.5.5.5", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_guard_allows_public_addresses(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is None
    assert check_addresses([address], host="hooks.example.cn", config=STRICT) is None


def test_every_resolved_address_must_pass():
    reason = check_addresses(["8.8.8.8", "10.0.0.1"], host="mixed.example.cn", config=STRICT)
    assert reason is not None and "10.0.0.1" in reason
    assert check_addresses([], host="nothing.example.cn", config=STRICT) is not None
    assert check_addresses(["not-an-ip"], host="odd.example.cn", config=STRICT) is not None


def test_allow_listed_hosts_may_be_private():
    config = WebhookConfig(allowed_hosts=frozenset({"127.0.0.1", "hooks.internal"}), allow_http=True)
    assert check_addresses(["127.0.0.1"], host="127.0.0.1", config=config) is None
    assert check_addresses(["10.1.2.3"], host="HOOKS.internal.", config=config) is None
    assert check_addresses(["10.1.2.3"], host="other.internal", config=config) is not None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.cn/x", "https"),
        ("ftp://hooks.example.cn/x", "https"),
        ("https://user:pass@hooks.example.cn/x", "user name"),
        ("https://user@hooks.example.cn/x", "user name"),
        ("https://hooks.example.cn\\@evil.example/x", "backslash"),
        ("https://hooks.example.cn:0/x", "port"),
        ("https://hooks.example.cn:70000/x", "port"),
        ("https://hooks.example.cn:abc/x", "valid URL"),
        ("https:///x", "host"),
        ("https://hooks.example.cn/x#frag", "fragment"),
        ("https://hooks example.cn/x", "spaces"),
        ("https://10.0.0.1/x", "public"),
        ("https://[::1]/x", "public"),
        ("https://[::ffff:192.168.0.1]/x", "public"),
        ("https://localhost/x", "this machine"),
        ("https://127.1/x", "valid name"),
        ("https://2130706433/x", "valid name"),
        ("https://0x7f000001/x", "valid name"),
        ("https://hooks.example.cn/" + "a" * 2000, "2000"),
    ],
)
def test_bad_subscription_urls_are_refused(url, reason):
    with pytest.raises(ValueError, match=reason):
        check_url(url, STRICT)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.cn/minqing/events",
        "https://hooks.example.cn:8443/x?token=abc",
        "HTTPS://Hooks.Example.CN/x",
        "https://8.8.8.8/x",
        "https://[2606:4700:4700::1111]/x",
        "https://例子.中国/x",
    ],
)
def test_good_subscription_urls_pass(url):
    check_url(url, STRICT)


def test_http_and_private_hosts_need_the_operator():
    config = WebhookConfig(allowed_hosts=frozenset({"127.0.0.1"}), allow_http=True)
    check_url("http://127.0.0.1:8080/hook", config)
    with pytest.raises(ValueError, match="public"):
        check_url("http://10.0.0.1/hook", config)
    with pytest.raises(ValueError, match="https"):
        check_url("http://127.0.0.1:8080/hook", STRICT)


def test_retry_delays_double_up_to_an_hour_with_jitter():
    assert retry_delay(1, rand=lambda: 0.0) == timedelta(seconds=10)
    assert retry_delay(2, rand=lambda: 0.0) == timedelta(seconds=20)
    assert retry_delay(3, rand=lambda: 0.0) == timedelta(seconds=40)
    assert retry_delay(12, rand=lambda: 0.0) == timedelta(hours=1)
    assert retry_delay(10_000, rand=lambda: 0.0) == timedelta(hours=1)
    assert timedelta(seconds=7.5) <= retry_delay(1, rand=lambda: 1.0) < timedelta(seconds=10)
