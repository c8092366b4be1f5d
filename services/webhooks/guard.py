"""Where webhooks may go: URL rules at subscription time and an address guard before every send.

Webhook URLs are chosen by integrations, so an unchecked send could reach the platform's own
network (SSRF). Every address a host resolves to must be public; hosts an operator lists in
`webhook_allowed_hosts` are trusted even when private (a receiver on the internal network).
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import httpx

from shared.settings import get_settings

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that embed an IPv4 address in their last 32 bits (NAT64, RFC 6052 and RFC 8215).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    allowed_hosts: frozenset[str]
    allow_http: bool

    def host_allowed(self, host: str) -> bool:
        return normalize_host(host) in self.allowed_hosts


def webhook_config() -> WebhookConfig:
    """The operator's webhook settings (`webhook_allowed_hosts`, `webhook_allow_http`)."""
    settings: Any = get_settings()
    hosts = getattr(settings, "webhook_allowed_hosts", None) or []
    return WebhookConfig(
        allowed_hosts=frozenset(normalize_host(h) for h in hosts),
        allow_http=bool(getattr(settings, "webhook_allow_http", False)),
    )


def normalize_host(host: str) -> str:
    """Lower case, no brackets around IPv6, no trailing dot: the form the allow-list compares."""
    return host.strip().strip("[]").rstrip(".").lower()


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo client, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a webhook may not be sent to `address`, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = forbidden_reason(embedded)
            return f"{reason} (inside {address})" if reason else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("non-global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{address} is a {name} address"
    return None


def check_addresses(addresses: list[str], *, host: str, config: WebhookConfig) -> str | None:
    """Why the resolved `addresses` of `host` may not be used (every one must pass), or None."""
    if config.host_allowed(host):
        return None
    if not addresses:
        return f"{host} resolves to no address"
    for raw in addresses:
        try:
            address = ipaddress.ip_address(raw.split("%", 1)[0])
        except ValueError:
            return f"{host} resolves to an unreadable address"
        reason = forbidden_reason(address)
        if reason is not None:
            return f"{host} is not allowed: {reason}"
    return None


_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(normalize_host(host))
    except ValueError:
        return None


def check_url(url: str, config: WebhookConfig) -> httpx.URL:
    """Validate a subscription URL; raise ValueError with a reason a caller can act on.

    `https://` only (`http://` when the operator allows it), a host name or IP address, no user
    name or password, a port in 1–65535, no fragment, at most 2000 characters. A host written as
    an IP address must be public unless allow-listed; names are checked against every address
    they resolve to at send time. httpx parses it, as httpx is what sends to it.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in url):
        raise ValueError("must not contain spaces, backslashes or control characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError("not a valid URL") from exc
    schemes = ("https", "http") if config.allow_http else ("https",)
    if parsed.scheme not in schemes:
        raise ValueError("must be an http:// or https:// URL" if config.allow_http else "must be an https:// URL")
    if parsed.userinfo or "@" in url.split("//", 1)[-1].split("/", 1)[0]:
        raise ValueError("must not carry a user name or password")
    host = normalize_host(parsed.raw_host.decode("ascii", "replace"))
    if not host:
        raise ValueError("must name a host")
    literal = _literal_address(host)
    if literal is None and (not _HOSTNAME.match(host) or host.rsplit(".", 1)[-1].isdigit() or host.startswith("0x")):
        raise ValueError("the host is not a valid name or IP address")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError("the port must be 1–65535")
    if parsed.fragment or url.endswith("#"):
        raise ValueError("must not have a #fragment")
    if not config.host_allowed(host):
        if literal is not None and (reason := forbidden_reason(literal)) is not None:
            raise ValueError(f"must be a public address: {reason}")
        if literal is None and host in _LOCAL_NAMES:
            raise ValueError("must not point at this machine")
    return parsed
