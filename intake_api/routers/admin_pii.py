"""Admin: PII key rotation (issue 17; docs/operations.md): start a run on the long-queue worker and follow it."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path

from intake_api.deps import AdminPrincipal, current_principal
from services.audit.auth import READERS
from services.intake import pii_rotation
from services.intake.pii_rotation_schemas import KeysOut, PiiRotationOut, PiiRotationStart, PiiRotationStatus
from shared.auth import Principal, require_city_admin
from shared.deps import SessionDep, require_roles
from shared.web.errors import problem_responses

router = APIRouter(prefix="/v1/admin/pii-rotation", tags=["admin: configuration"])
Reader = Annotated[Principal, Depends(require_roles(current_principal, *sorted(READERS)))]
RotationId = Annotated[int, Path(ge=1, le=2**62, description="The rotation run's id")]


@router.post(
    "",
    status_code=202,
    response_model=PiiRotationOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Start a PII key rotation",
)
async def start_rotation(
    session: SessionDep,
    principal: AdminPrincipal,
    body: Annotated[
        PiiRotationStart, Body(openapi_examples={"keys": {"value": {}}, "and hashes": {"value": {"hashes": True}}})
    ],
) -> PiiRotationOut:
    """Re-encrypt every citizen's name and phone (and feedback link tokens) under the newest of `PII_KEYS`,
    and with `hashes` recompute the phones' matching hashes under `PII_HASH_KEY`, in batches on the long-queue
    worker while the platform keeps running (`202`; follow it with `GET`). City administrators only; audited
    as `pii_rotation.started`. `409` while another run is running, or for `hashes` without
    `PII_HASH_KEY_PREVIOUS`. Every process must have the same keys first (docs/operations.md)."""
    require_city_admin(principal)
    rotation = await pii_rotation.start(session, principal, hashes=body.hashes, batch=body.batch)
    pii_rotation.schedule(session, rotation)
    return PiiRotationOut.model_validate(rotation)


@router.get("", response_model=PiiRotationStatus, responses=problem_responses(401, 403), summary="PII key rotations")
async def rotation_status(session: SessionDep, principal: Reader) -> PiiRotationStatus:
    """The key ids this process holds (never a key) and the latest rotation runs with their progress: pass,
    table, cursor, counts; admins and auditors."""
    keys = pii_rotation.keys_in_force()
    return PiiRotationStatus(
        keys=KeysOut(
            encryption_key_id=keys.encryption_key_id,
            encryption_key_ids=keys.encryption_key_ids,
            hash_rotation=keys.hash_rotation,
        ),
        rotations=[PiiRotationOut.model_validate(r) for r in await pii_rotation.recent(session)],
    )


@router.get(
    "/{rotation_id}",
    response_model=PiiRotationOut,
    responses=problem_responses(401, 403, 404),
    summary="One PII key rotation",
)
async def rotation(session: SessionDep, principal: Reader, rotation_id: RotationId) -> PiiRotationOut:
    """One rotation run and its progress; admins and auditors."""
    return PiiRotationOut.model_validate(await pii_rotation.get(session, rotation_id))
