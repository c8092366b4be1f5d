"""`python -m cli rotate-pii`: re-encrypts and re-hashes in the foreground with progress, resumes a stopped
run after its last batch, refuses what would leave matchers blind, and `--status` shows runs (never a key).

The command runs as a real subprocess against the suite's database, with the keys in its environment."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.intake import pii_rotation
from services.models import Request
from shared.crypto import field_cipher, keyed_hash
from shared.db import unit_of_work
from tests.factories import make_catalog, make_small_city
from tests.services.intake.pii_kit import (
    NEW_HASH_KEY,
    NEW_KEY,
    OLD_HASH_KEY,
    OLD_KEY,
    make_citizen_request,
    phone_of,
    use_new_keys_only,
    use_old_keys,
    use_rotating_keys,
)

ROOT = Path(__file__).resolve().parents[2]
ROTATING_ENV = {"PII_KEYS": f"{NEW_KEY},{OLD_KEY}", "PII_HASH_KEY": NEW_HASH_KEY, "PII_HASH_KEY_PREVIOUS": OLD_HASH_KEY}


def rotate_pii(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "rotate-pii", *args],
        cwd=ROOT,
        env={**os.environ, **(env if env is not None else ROTATING_ENV)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def requests_under_old_keys(session: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    await make_small_city(session)
    await make_catalog(session)
    use_old_keys(monkeypatch)
    ids = [(await make_citizen_request(session, n)).id for n in range(12)]
    await session.commit()
    return ids


async def test_rotate_pii_rewrites_everything_and_the_old_keys_can_go(
    session: Any, requests_under_old_keys: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "no rotation yet" in rotate_pii("--status").stdout
    done = rotate_pii("--batch", "5", "--hashes")
    assert done.returncode == 0, done.stderr
    assert "started rotation 1: every value to key 2" in done.stdout
    assert "done: every value opens under key 2" in done.stdout and "remove PII_HASH_KEY_PREVIOUS" in done.stdout
    assert "re-encrypted 24, hashes recomputed 12" in done.stdout
    for secret in (NEW_KEY, OLD_KEY, NEW_HASH_KEY, OLD_HASH_KEY, phone_of(1), "市民1"):
        assert secret.split(":")[-1] not in done.stdout + done.stderr

    use_new_keys_only(monkeypatch)
    cipher = field_cipher()
    for n, request in enumerate(await session.scalars(select(Request).order_by(Request.id))):
        assert cipher.decrypt(request.citizen_name_enc or b"") == f"市民{n}"
        assert request.citizen_phone_hash == keyed_hash(phone_of(n))
    status = rotate_pii("--status", env={"PII_KEYS": NEW_KEY, "PII_HASH_KEY": NEW_HASH_KEY})
    assert "newest PII key 2 (configured: [2]); previous hash key not set" in status.stdout
    assert "rotation 1 [done]" in status.stdout


async def test_rotate_pii_resumes_a_stopped_run_and_refuses_what_would_blind_the_matchers(
    session: Any, requests_under_old_keys: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_previous = rotate_pii("--hashes", env={"PII_KEYS": ROTATING_ENV["PII_KEYS"], "PII_HASH_KEY": NEW_HASH_KEY})
    assert without_previous.returncode == 1 and "PII_HASH_KEY_PREVIOUS" in without_previous.stderr

    use_rotating_keys(monkeypatch, hashes=False)
    async with unit_of_work() as s:
        rotation = await pii_rotation.start(s, "system:test", hashes=False, batch=3)
    stopped = await pii_rotation.run(unit_of_work, rotation.id, max_batches=2)  # then the process died
    assert stopped.cursor == requests_under_old_keys[5]

    refused = rotate_pii("--hashes")
    assert refused.returncode == 1 and "(without --hashes) is running" in refused.stderr
    resumed = rotate_pii(env={"PII_KEYS": ROTATING_ENV["PII_KEYS"]})
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming rotation {rotation.id} (pass 1, requests)" in resumed.stdout
    assert "re-encrypted 24" in resumed.stdout  # 12 before the stop and 12 after it, none twice
    # A process missing the new key cannot open what is under it: the run fails by table and id, changing nothing.
    wrong_keys = rotate_pii(env={"PII_KEYS": OLD_KEY})
    assert wrong_keys.returncode == 1 and "12 rows hold values no configured key opens (requests:" in wrong_keys.stderr
    use_new_keys_only(monkeypatch)
    assert all(r.citizen_name_enc and r.citizen_name_enc[0] == 2 for r in await session.scalars(select(Request)))
