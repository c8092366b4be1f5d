"""`REDIS_URL` read into arq's connection settings: one server, or a Sentinel set that names the master.

* `redis://[[user]:password@]host[:port][/db]`, `rediss://…` (TLS), `unix:///path/to/socket`: one
  server, read by arq's own `RedisSettings.from_dsn`.
* `redis+sentinel://[[user]:password@]host1[:port1][,host2[:port2]…]/<master>[/<db>][?sentinel_password=…]`:
  the Sentinels to ask (port 26379 unless given) for the current master of `<master>`; the credentials
  before `@` are the master's, the Sentinels' own go in `sentinel_username` / `sentinel_password`.

Pure: no I/O, so settings can check the URL at load and hypothesis can hammer the parser. Error messages
never repeat the URL's text: a mistyped URL often carries a password.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from arq.connections import RedisSettings

SENTINEL_SCHEME = "redis+sentinel"
SERVER_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_PARAMETERS = ("sentinel_username", "sentinel_password")
_SCHEMES_TEXT = "redis://, rediss://, unix:// or redis+sentinel://"
# Only text shaped like a scheme or a parameter name is repeated in an error (never a stray password).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+.-]{0,31}")


class RedisUrlError(ValueError):
    """A Redis URL that names neither a Redis server nor a Sentinel set."""


@dataclass(repr=False)
class SentinelRedisSettings(RedisSettings):
    """arq's settings for a Sentinel set, plus the Sentinels' own credentials (often not the master's)."""

    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def __repr__(self) -> str:
        secret = ("password", "sentinel_password")
        shown = (f"{k}={'***' if k in secret and v else repr(v)}" for k, v in self.__dict__.items())
        return f"SentinelRedisSettings({', '.join(shown)})"


def parse_redis_url(url: str) -> RedisSettings:
    """The arq connection settings `url` names; `RedisUrlError` saying what is wrong when it names none."""
    scheme, separator, _ = url.partition("://")
    scheme = scheme.strip().lower()
    if not separator:
        raise RedisUrlError(f"must start with {_SCHEMES_TEXT}")
    if scheme == SENTINEL_SCHEME:
        return _parse_sentinel_url(url)
    if scheme not in SERVER_SCHEMES:
        named = f"the scheme {scheme!r}" if _NAME.fullmatch(scheme) else "an unknown scheme"
        raise RedisUrlError(f"has {named}; expected {_SCHEMES_TEXT}")
    try:
        return RedisSettings.from_dsn(url)
    except ValueError:
        # urllib's and int()'s messages quote the URL's text, which may hold part of a password.
        raise RedisUrlError(
            "is not a valid Redis URL: the port and the database must be numbers "
            "(percent-encode '/', '?', '#' and '@' in a password)"
        ) from None


def _parse_sentinel_url(url: str) -> SentinelRedisSettings:
    try:
        parts = urlsplit(url)
    except ValueError:  # urllib refuses an unclosed bracket or a bracketed host that is no IPv6 address
        raise RedisUrlError("has a malformed [IPv6 address]") from None
    if parts.fragment:
        raise RedisUrlError("has a '#': percent-encode it (%23) in a password")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    master, database = _master_and_database(parts.path)
    sentinel_username, sentinel_password = _sentinel_credentials(parts.query)
    return SentinelRedisSettings(
        host=[_address(entry, number) for number, entry in enumerate(hosts.split(","), start=1)],
        sentinel=True,
        sentinel_master=master,
        database=database,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_username=sentinel_username,
        sentinel_password=sentinel_password,
    )


def _address(entry: str, number: int) -> tuple[str, int]:
    """One Sentinel's `host[:port]` (`[v6 address][:port]`); the Sentinel's number names it in errors."""
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise RedisUrlError(f"has sentinel {number} not written as [IPv6 address]:port")
        port_text = rest[1:] if rest else None
    elif entry.count(":") > 1:
        raise RedisUrlError(f"has sentinel {number} as an IPv6 address without brackets: write [address]:port")
    else:
        host, colon, port_text_or_empty = entry.partition(":")
        port_text = port_text_or_empty if colon else None
    if not host:
        raise RedisUrlError(f"has sentinel {number} without a host (list them as host1:port1,host2:port2)")
    if port_text is None:
        return host, DEFAULT_SENTINEL_PORT
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise RedisUrlError(f"has sentinel {number} with a port that is not a number from 1 to 65535")
    return host, int(port_text)


def _master_and_database(path: str) -> tuple[str, int]:
    """`/<master>[/<db>]`: the master's name as the Sentinels know it and the database number (0)."""
    segments = path.removeprefix("/").split("/")
    master = unquote(segments[0])
    if not master:
        raise RedisUrlError("names no master: redis+sentinel://host:26379/<master name>[/<db>]")
    if len(segments) > 2:
        raise RedisUrlError("has more than /<master name>/<db> in its path")
    database_text = segments[1] if len(segments) == 2 else ""
    if not database_text:
        return master, 0
    if not (database_text.isascii() and database_text.isdigit()):
        raise RedisUrlError("has a database that is not a number: /<master name>/<db>")
    return master, int(database_text)


def _sentinel_credentials(query: str) -> tuple[str | None, str | None]:
    values = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(values) - set(SENTINEL_PARAMETERS))
    if unknown:
        names = ", ".join(name if _NAME.fullmatch(name) else "…" for name in unknown)
        raise RedisUrlError(f"has unknown parameters ({names}); a Sentinel URL takes {', '.join(SENTINEL_PARAMETERS)}")
    if any(len(given) > 1 for given in values.values()):
        raise RedisUrlError("gives a parameter twice")
    username, password = (values.get(name, [""])[0] or None for name in SENTINEL_PARAMETERS)
    return username, password
