"""REDIS_URL may name a Sentinel set (`redis+sentinel://…`): the URL is read strictly, and when the master
dies and the Sentinel promotes its replica, the running process's next enqueue and rate-limit call reach
the new master, and a worker works the queue there. Proved on a real Sentinel, master and replica started
here, with both Redis builds the platform supports: the machines' Redis 7 and the embedded Redis 6.2."""

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import arq.worker
import pytest
import redis
from arq.worker import Worker, func
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

import routing_worker.worker  # noqa: F401 - points arq's worker at shared.queue.create_redis_pool
import shared.queue
from cli.embedded import redis_server_executable
from shared.queue import DEFAULT_QUEUE, create_redis_pool, enqueue, get_queue, is_redis_unreachable, redis_suspended
from shared.ratelimit import hit
from shared.redis_url import DEFAULT_SENTINEL_PORT, RedisUrlError, SentinelRedisSettings, parse_redis_url
from shared.settings import Settings
from tests.settings import set_setting

pure = pytest.mark.pure
MASTER_NAME = "m"
MASTER_PASSWORD = "master-pw"
SENTINEL_PASSWORD = "sentinel-pw"
# The Redis builds to prove, each with the version it must report. Neither may be skipped: a missing
# binary fails its case.
REDIS_BUILDS = {
    "redis7": (lambda: Path("/usr/bin/redis-server"), "7."),
    "redis6.2-embedded": (redis_server_executable, "6.2."),
}


# ---- the URL ------------------------------------------------------------------------------------


@pure
@pytest.mark.parametrize(
    ("url", "hosts", "master", "database", "username", "password", "sentinel_password"),
    [
        ("redis+sentinel://127.0.0.1:26380/m/0", [("127.0.0.1", 26380)], "m", 0, None, None, None),
        ("redis+sentinel://s1/mymaster", [("s1", DEFAULT_SENTINEL_PORT)], "mymaster", 0, None, None, None),
        (
            "redis+sentinel://:p%40ss@s1:1,s2,[::1]:3/m/7?sentinel_password=x%2By",
            [("s1", 1), ("s2", DEFAULT_SENTINEL_PORT), ("::1", 3)],
            "m",
            7,
            None,
            "p@ss",
            "x+y",
        ),
        ("REDIS+SENTINEL://app:pw@s1:5/m/", [("s1", 5)], "m", 0, "app", "pw", None),
    ],
)
def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database(
    url, hosts, master, database, username, password, sentinel_password
):
    parsed = parse_redis_url(url)
    assert isinstance(parsed, SentinelRedisSettings) and parsed.sentinel
    assert (parsed.host, parsed.sentinel_master, parsed.database) == (hosts, master, database)
    assert (parsed.username, parsed.password, parsed.sentinel_password) == (username, password, sentinel_password)


@pure
@pytest.mark.parametrize(
    ("url", "host", "port", "database", "ssl"),
    [
        ("redis://127.0.0.1:6379/15", "127.0.0.1", 6379, 15, False),
        ("rediss://:pw@cache.example:6380/2", "cache.example", 6380, 2, True),
        ("redis://h", "h", 6379, 0, False),
    ],
)
def test_one_server_urls_are_read_as_arq_reads_them(url, host, port, database, ssl):
    parsed = parse_redis_url(url)
    assert not parsed.sentinel
    assert (parsed.host, parsed.port, parsed.database, parsed.ssl) == (host, port, database, ssl)


@pure
def test_a_unix_socket_url_is_one_server():
    assert parse_redis_url("unix:///run/redis.sock").unix_socket_path == "/run/redis.sock"


@pure
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("127.0.0.1:6379", "must start with"),
        ("http://h/0", "the scheme 'http'"),
        ("redis+sentinel://s1", "names no master"),
        ("redis+sentinel://s1/", "names no master"),
        ("redis+sentinel:///m", "sentinel 1 without a host"),
        ("redis+sentinel://s1,/m", "sentinel 2 without a host"),
        ("redis+sentinel://s1:0/m", "sentinel 1 with a port"),
        ("redis+sentinel://s1:65536/m", "sentinel 1 with a port"),
        ("redis+sentinel://s1:x/m", "sentinel 1 with a port"),
        ("redis+sentinel://::1/m", "IPv6 address without brackets"),
        ("redis+sentinel://[::1]x/m", "not written as [IPv6 address]:port"),
        ("redis+sentinel://[::1/m", "malformed [IPv6 address]"),
        ("redis+sentinel://s1/m/zero", "database that is not a number"),
        ("redis+sentinel://s1/m/0/1", "more than /<master name>/<db>"),
        ("redis+sentinel://s1/m?db=1", "unknown parameters (db)"),
        ("redis+sentinel://s1/m?sentinel_password=a&sentinel_password=b", "a parameter twice"),
        ("redis+sentinel://:pa#ss@s1/m", "has a '#'"),
        ("redis://h:port/0", "the port and the database must be numbers"),
        ("redis://h/db0", "the port and the database must be numbers"),
    ],
)
def test_a_bad_url_is_refused_saying_what_is_wrong(url, says):
    with pytest.raises(RedisUrlError) as refused:
        parse_redis_url(url)
    assert says in str(refused.value)


@pure
@pytest.mark.parametrize(
    "url", ["redis+sentinel://:secret-pw@s1:99999/m", "redis://:secret-pw/x@h/0", "redis+sentinel://:secret-pw@/m"]
)
def test_settings_refuse_a_bad_redis_url_at_load_naming_redis_url_and_not_the_password(url):
    with pytest.raises(ValidationError) as refused:
        Settings(redis_url=url)
    assert "REDIS_URL" in str(refused.value)
    assert "secret" not in str(refused.value)


@pure
def test_the_settings_repr_hides_the_passwords():
    shown = repr(parse_redis_url("redis+sentinel://:master-secret@s1/m?sentinel_password=sentinel-secret"))
    assert "secret" not in shown and "password=***" in shown


_text = st.text(st.characters(codec="utf-8"), max_size=12)
_hostname = st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z0-9-]{1,8}){0,2}", fullmatch=True)
_host = st.one_of(_hostname, st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))


@pure
@settings(max_examples=300, deadline=None)
@given(
    sentinels=st.lists(st.tuples(_host, st.none() | st.integers(1, 65535)), min_size=1, max_size=4),
    master=_text.filter(bool),
    database=st.none() | st.integers(0, 10_000),
    username=_text,
    password=_text,
    sentinel_password=_text,
)
def test_any_sentinel_url_reads_back_what_it_was_built_from(
    sentinels, master, database, username, password, sentinel_password
):
    def address(host: str, port: int | None) -> str:
        shown = f"[{host}]" if ":" in host else host
        return shown if port is None else f"{shown}:{port}"

    userinfo = f"{quote(username, safe='')}:{quote(password, safe='')}@" if username or password else ""
    path = quote(master, safe="") + ("" if database is None else f"/{database}")
    query = f"?sentinel_password={quote(sentinel_password, safe='')}" if sentinel_password else ""
    url = f"redis+sentinel://{userinfo}{','.join(address(h, p) for h, p in sentinels)}/{path}{query}"
    parsed = parse_redis_url(url)
    assert isinstance(parsed, SentinelRedisSettings)
    assert parsed.host == [(h, DEFAULT_SENTINEL_PORT if p is None else p) for h, p in sentinels]
    assert (parsed.sentinel_master, parsed.database) == (master, database or 0)
    assert (parsed.username, parsed.password) == (username or None, password or None)
    assert parsed.sentinel_password == (sentinel_password or None)


@pure
@settings(max_examples=500, deadline=None)
@given(rest=st.text(), scheme=st.sampled_from(["redis+sentinel://", "redis://", "rediss://", "unix://", ""]))
def test_any_text_is_read_or_refused_as_a_bad_url_never_anything_else(rest, scheme):
    with contextlib.suppress(RedisUrlError):
        parse_redis_url(scheme + rest)


@pure
async def test_no_sentinel_answering_is_redis_unreachable_after_the_connect_retries(caplog):
    dead = parse_redis_url(f"redis+sentinel://127.0.0.1:{_free_ports(1)[0]}/m")
    dead.conn_timeout, dead.conn_retries, dead.conn_retry_delay = 1, 1, 0
    with caplog.at_level(logging.WARNING, logger="minqing.queue"), pytest.raises(RedisConnectionError) as failed:
        await create_redis_pool(dead)
    assert is_redis_unreachable(failed.value)  # so the optional calls back off, as with one server
    assert [r.getMessage() for r in caplog.records] == ["Redis Sentinel: no master yet; retrying"]


# ---- a real Sentinel set -------------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _info(server: redis.Redis, section: str) -> dict[str, Any]:
    return cast(dict[str, Any], server.info(section))


def _wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except redis.RedisError:
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class SentinelSet:
    """A Redis master, its replica and one Sentinel watching them, all on 127.0.0.1, with passwords."""

    executable: Path
    folder: Path
    master_port: int = 0
    replica_port: int = 0
    sentinel_port: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    clients: dict[int, redis.Redis] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis+sentinel://:{MASTER_PASSWORD}@127.0.0.1:{self.sentinel_port}/{MASTER_NAME}/0?sentinel_password={SENTINEL_PASSWORD}"

    def start(self) -> None:
        self.master_port, self.replica_port, self.sentinel_port = _free_ports(3)
        self._spawn("master", self.master_port)
        self._spawn("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        _wait_for(
            "the replica to sync",
            lambda: _info(self.server(self.replica_port), "replication")["master_link_status"] == "up",
        )
        conf = self.folder / "sentinel.conf"
        conf.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.folder}\nrequirepass {SENTINEL_PASSWORD}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel auth-pass {MASTER_NAME} {MASTER_PASSWORD}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 3000\n"
        )
        self.processes["sentinel"] = self._popen("sentinel", [str(conf), "--sentinel"])
        _wait_for("the Sentinel to see the replica", self._replica_seen)

    def _spawn(self, name: str, port: int, *extra: str) -> None:
        arguments = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", ""]
        arguments += ["--appendonly", "no", "--dbfilename", f"{name}.rdb", "--repl-diskless-sync", "yes"]
        arguments += [
            "--repl-diskless-sync-delay",
            "0",
            "--requirepass",
            MASTER_PASSWORD,
            "--masterauth",
            MASTER_PASSWORD,
        ]
        self.processes[name] = self._popen(name, [*arguments, *extra])
        _wait_for(f"the {name} to answer", lambda: self.server(port).ping(), timeout=10)

    def _popen(self, name: str, arguments: list[str]) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                [str(self.executable), *arguments], stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
            )

    def server(self, port: int) -> redis.Redis:
        """A plain client of the server on `port` (the Sentinel's included), to look at what it holds."""
        password = SENTINEL_PASSWORD if port == self.sentinel_port else MASTER_PASSWORD
        if port not in self.clients:
            self.clients[port] = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2)
        return self.clients[port]

    def sentinel(self) -> redis.Redis:
        return self.server(self.sentinel_port)

    def _replica_seen(self) -> bool:
        replicas = self.sentinel().sentinel_slaves(MASTER_NAME)
        return any(r["port"] == self.replica_port and not r["is_sdown"] for r in replicas)

    def replica_promoted(self) -> bool:
        """The Sentinel names the replica as master, and its table (`SENTINEL MASTERS`, what redis-py asks)
        shows it up: that table follows `get-master-addr-by-name` by a moment, and calls fail meanwhile."""
        _, port = self.sentinel().sentinel_get_master_addr_by_name(MASTER_NAME)
        state = self.sentinel().sentinel_masters()[MASTER_NAME]
        named = int(port) == state["port"] == self.replica_port
        return named and state["is_master"] and not (state["is_sdown"] or state["is_odown"])

    def kill_master(self) -> None:
        process = self.processes["master"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for client in self.clients.values():
            client.close()
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture(params=list(REDIS_BUILDS))
def sentinel_set(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SentinelSet]:
    find, version = REDIS_BUILDS[request.param]
    executable = find()
    assert executable.is_file(), f"{request.param}: no redis-server at {executable}"
    servers = SentinelSet(executable, tmp_path)
    try:
        servers.start()
        assert str(_info(servers.server(servers.master_port), "server")["redis_version"]).startswith(version)
        yield servers
    finally:
        servers.stop()


@pytest.fixture
async def on_sentinel(sentinel_set: SentinelSet, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SentinelSet]:
    """The process's settings and queue pool pointed at the Sentinel set, for this test only."""
    await shared.queue.close_queue()
    set_setting(monkeypatch, "redis_url", sentinel_set.url)
    shared.queue.redis_settings.cache_clear()
    try:
        yield sentinel_set
    finally:
        await shared.queue.close_queue()
        shared.queue.redis_settings.cache_clear()


def _queued(server: redis.Redis) -> list[str]:
    return [job_id.decode() for job_id in server.zrange(DEFAULT_QUEUE, 0, -1)]


@pytest.mark.parametrize("called_during_the_outage", [True, False], ids=["called-meanwhile", "first-call-after"])
async def test_after_a_failover_the_next_calls_reach_the_new_master_without_a_restart(
    on_sentinel, called_during_the_outage, caplog
):
    servers = on_sentinel
    master, replica = servers.server(servers.master_port), servers.server(servers.replica_port)
    pool = await get_queue()
    assert pool.connection_pool.connection_kwargs["socket_connect_timeout"] == 2  # REDIS_URL's short timeouts hold
    assert await enqueue("sentinel_probe", "before", job_id="probe:before")
    await hit("test:sentinel", 10, 60)
    assert _queued(master) == ["probe:before"]
    assert master.wait(1, 5000) == 1  # replicated: what the new master will hold

    servers.kill_master()
    if called_during_the_outage:
        with caplog.at_level(logging.WARNING, logger="minqing.ratelimit"):
            await hit("test:sentinel", 10, 60)  # no master yet: fails open and backs off, as with one server down
        assert "rate limit not counted: Redis unavailable" in [r.getMessage() for r in caplog.records]
        assert redis_suspended()
    await asyncio.to_thread(_wait_for, "the promotion", servers.replica_promoted)
    await asyncio.to_thread(_wait_for, "the backoff (REDIS_BACKOFF_SECONDS) to end", lambda: not redis_suspended())

    # The same pool: its connection to the dead master is not reused, the Sentinel is asked again.
    assert await get_queue() is pool
    assert await enqueue("sentinel_probe", "after", job_id="probe:after")
    await hit("test:sentinel", 10, 60)
    assert not redis_suspended()
    assert _info(replica, "replication")["role"] == "master"
    assert sorted(_queued(replica)) == ["probe:after", "probe:before"]
    # The one call before the failover (replicated) and the one after; a minute may have turned in between.
    assert sum(int(replica.get(key)) for key in replica.keys("minqing:rate:test:sentinel:*")) == 2

    ran: list[str] = []

    async def sentinel_probe(ctx: dict[str, Any], label: str) -> None:
        ran.append(label)

    # arq's worker connects the way the apps do (routing_worker/worker.py): through the Sentinel.
    assert vars(arq.worker)["create_pool"] is create_redis_pool
    worker = Worker(
        functions=[func(sentinel_probe, name="sentinel_probe")],
        redis_settings=shared.queue.redis_settings(),
        queue_name=DEFAULT_QUEUE,
        burst=True,
        poll_delay=0.01,
        keep_result=0,
        handle_signals=False,
    )
    await worker.main()
    await worker.close()
    assert sorted(ran) == ["after", "before"]
    assert _queued(replica) == []
