"""Auth primitives: password hashing, JWTs for staff, API keys for integrations, the principal."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.errors import CityAdminOnly, NotAuthenticated

StaffRole = Literal["admin", "dispatcher", "handler", "clerk", "supervisor", "auditor"]
STAFF_ROLES: tuple[StaffRole, ...] = get_args(StaffRole)  # one list of roles: the type

# What an integration's API key may be allowed to do.
API_KEY_RIGHTS = (
    "requests:create",
    "requests:read",
    "feedback:create",
    "webhooks:manage",
)
CHANNELS = ("hotline", "web", "app", "window", "station", "visit")

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal account names.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "mq"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_access_token(*, secret: str, issuer: str, ttl_seconds: int, staff_id: int, role: str) -> tuple[str, int]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(staff_id),
        "role": role,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM), ttl_seconds


def decode_access_token(token: str, *, secret: str, issuer: str) -> dict[str, Any]:
    """Decode and verify a staff JWT; only HS256 is accepted (no `alg=none`, no key confusion)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("The access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("The access token is invalid") from exc
    if claims.get("typ") != "access":
        raise NotAuthenticated("The access token is invalid")
    return claims


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str  # shown once, never stored
    prefix: str
    secret_hash: str


def generate_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    return NewApiKey(key=key, prefix=prefix, secret_hash=hash_api_key(key))


def hash_api_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no brute-force risk).
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_key(key: str) -> str | None:
    """The key's public prefix (its lookup id), or None when the key is malformed."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def api_key_matches(key: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), secret_hash)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a staff member (role + org-unit subtree) or an integration (rights)."""

    kind: Literal["staff", "integration"]
    id: int
    name: str
    role: str | None = None
    scope_path: str = "/"
    scope_code: str | None = None
    rights: frozenset[str] = field(default_factory=frozenset)
    channels: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def covers(self, path: str) -> bool:
        """Whether an object at org-unit `path` lies inside this principal's subtree."""
        return path.startswith(self.scope_path)


def actor_of(principal: Principal) -> str:
    """The principal as an actor, the way events and rows store who did something: `key:<id>` for an
    integration, `staff:<id>` for staff (jobs act as `system:<what>`, the citizen as `citizen`)."""
    return f"{'key' if principal.kind == 'integration' else 'staff'}:{principal.id}"


def key_id_of(actor: str) -> int | None:
    """The API key id of an integration's actor (`key:<id>`); None for any other actor."""
    kind, _, raw = actor.partition(":")
    return int(raw) if kind == "key" and raw.isdigit() else None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the caller presented: a bearer token, an API key, or neither."""

    bearer: str | None
    api_key: str | None


def require_city_admin(principal: Principal) -> None:
    """City-wide configuration (catalog, SLA, keys) belongs to admins scoped to the whole city."""
    if principal.scope_path.count("/") != 2:
        raise CityAdminOnly("Only an administrator scoped to the whole city may change city-wide configuration")
