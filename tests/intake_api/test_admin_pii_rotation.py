"""`/v1/admin/pii-rotation`: a city admin starts a rotation (audited), the long-queue worker runs it to the
end, progress is readable by admins and auditors; everyone else is refused, and no key is ever shown."""

from typing import Any

import pytest
from arq.worker import Worker
from sqlalchemy import select

from routing_worker.jobs.rotation_jobs import relay_pii_rotations, rotate_pii
from services.models import AdminAuditEntry, Request
from shared.crypto import field_cipher
from shared.queue import LONG_QUEUE, redis_settings
from tests.factories import bearer, make_staff
from tests.kit import create_request
from tests.services.intake.pii_kit import NEW_KEY, OLD_KEY, use_old_keys, use_rotating_keys

ROTATION = "/v1/admin/pii-rotation"


def long_queue_worker() -> Worker:
    """A burst worker on the long queue, as LongWorkerSettings would run it."""
    return Worker(
        functions=[rotate_pii],  # type: ignore[list-item]
        redis_pool=None,
        redis_settings=redis_settings(),
        queue_name=LONG_QUEUE,
        burst=True,
        poll_delay=0.01,
        keep_result=0,
        handle_signals=False,
        job_timeout=600,
    )


async def test_a_city_admin_starts_a_rotation_the_long_worker_runs_it_and_progress_is_shown(
    session: Any, intake_client: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_old_keys(monkeypatch)
    admin = await make_staff(session, "city_admin", "admin", setup["units"]["3302"])
    auditor = await make_staff(session, "auditor", "auditor", setup["units"]["3302"])
    await session.commit()
    created = [await create_request(intake_client, setup["key"]) for _ in range(3)]
    use_rotating_keys(monkeypatch)

    started = await intake_client.post(ROTATION, json={"hashes": True, "batch": 2}, headers=bearer(admin))
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["state"], run["key_id"], run["hashes"], run["pass_no"]) == ("running", 2, True, 1)
    again = await intake_client.post(ROTATION, json={}, headers=bearer(admin))
    assert again.status_code == 409 and "is running" in again.json()["detail"]

    worker = long_queue_worker()
    await worker.main()
    await worker.close()

    status = await intake_client.get(ROTATION, headers=bearer(auditor))
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["keys"] == {"encryption_key_id": 2, "encryption_key_ids": [1, 2], "hash_rotation": True}
    latest = body["rotations"][0]
    assert latest["state"] == "done" and latest["counts"]["reencrypted"] == 6 and latest["counts"]["recomputed"] == 3
    assert OLD_KEY.split(":")[1] not in status.text and NEW_KEY.split(":")[1] not in status.text
    one = await intake_client.get(f"{ROTATION}/{run['id']}", headers=bearer(admin))
    assert one.json()["state"] == "done"
    assert (await intake_client.get(f"{ROTATION}/999", headers=bearer(admin))).status_code == 404
    cipher = field_cipher()
    for request in await session.scalars(select(Request).where(Request.id.in_([c["id"] for c in created]))):
        assert request.citizen_phone_enc and request.citizen_phone_enc[0] == 2
        assert cipher.decrypt(request.citizen_phone_enc) == "13800001234"
    entry = await session.scalar(select(AdminAuditEntry).where(AdminAuditEntry.action == "pii_rotation.started"))
    assert entry is not None and entry.actor == f"staff:{admin.id}" and entry.target_id == str(run["id"])
    assert entry.after == {"encryption_key_id": 2, "matching_key_rotation": True, "batch": 2}
    assert await relay_pii_rotations({}) == 0  # nothing left running


async def test_only_a_city_admin_may_start_and_only_admins_and_auditors_may_read(
    session: Any, intake_client: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_rotating_keys(monkeypatch, hashes=False)
    district_admin = await make_staff(session, "admin_330205", "admin", setup["units"]["330205"])
    await session.commit()
    refused = [bearer(setup["dispatcher"]), bearer(setup["handlers"]["330203001001001"][0]), setup["key"]]
    for headers in refused:
        for method in ("get", "post"):
            answer = await intake_client.request(method, ROTATION, json={}, headers=headers)
            assert answer.status_code == 403, (method, answer.text)
    assert (await intake_client.post(ROTATION, json={}, headers=bearer(district_admin))).status_code == 403
    assert (await intake_client.post(ROTATION, json={})).status_code == 401
    admin = await make_staff(session, "city_admin", "admin", setup["units"]["3302"])
    await session.commit()
    without_previous = await intake_client.post(ROTATION, json={"hashes": True}, headers=bearer(admin))
    assert without_previous.status_code == 409 and "PII_HASH_KEY_PREVIOUS" in without_previous.json()["detail"]
    assert (await intake_client.post(ROTATION, json={"batch": 0}, headers=bearer(admin))).status_code == 422
