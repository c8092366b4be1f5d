"""Process settings, read from the environment (and an optional `.env`)."""

import base64
import binascii
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "minqing-dev-secret-change-me-0123456789abcdef"
# Development-only PII key (32 zero-free bytes); production must configure its own.
DEV_PII_KEYS = "1:bWlucWluZy1kZXYtcGlpLWtleS0wMTIzNDU2Nzg5YWI="
DEV_PII_HASH_KEY = "minqing-dev-pii-hash-key"
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("dev", "test", "production")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: str = Field("dev", description="dev | test | production")
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/minqing"
    # A read replica for score computations (SPEC §11); unset: the primary. Writes always go to the primary.
    scoring_database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    db_pool_size: int = 20
    db_max_overflow: int = 5
    # Off by default: a ping per checkout costs three round trips; a dropped connection is instead
    # detected on use (the pool is then invalidated and the caller gets a 503 with Retry-After).
    db_pool_pre_ping: bool = False

    secret_key: SecretStr = SecretStr(DEV_SECRET)
    jwt_ttl_seconds: int = 900
    jwt_issuer: str = "minqing"
    # Citizens' names and phones: AES-GCM keys `id:base64,...` (newest first) and the matching-hash key.
    pii_keys: SecretStr = SecretStr(DEV_PII_KEYS)
    pii_hash_key: SecretStr = SecretStr(DEV_PII_HASH_KEY)
    # Signs the trail seals (services/lifecycle/seals.py); unset: derived from SECRET_KEY. Keep it out of the
    # database's reach: whoever holds it can forge seals.
    trail_seal_key: SecretStr | None = None
    # Retention (services/lifecycle/retention.py, hourly): ages after which processed outbox entries,
    # finished webhook deliveries and idempotency keys are deleted, and closed requests' citizen names and
    # phones erased (0: kept); rows per batch.
    retention_outbox_days: int = Field(7, ge=1)
    retention_webhook_days: int = Field(30, ge=1)
    retention_idempotency_hours: int = Field(24, ge=24)
    retention_pii_days: int = Field(1095, ge=0)
    retention_batch: int = Field(2000, ge=1, le=100_000)

    max_body_bytes: int = 1_000_000
    import_max_body_bytes: int = 64_000_000
    default_page_size: int = 50
    max_page_size: int = 200
    citizen_rate_per_minute: int = 30
    # Calls per integration API key and minute (OWASP API4); generous: hotline systems submit in bursts.
    api_key_rate_per_minute: int = 12_000
    # Login brute force (OWASP API2): failed logins per account and per client address in a window.
    login_failures_per_user: int = 10
    login_failures_per_ip: int = 50
    login_failure_window_seconds: int = 300

    # Webhooks (SPEC §8): hosts a webhook may reach even when private (an internal receiver); plain http:// URLs.
    webhook_allowed_hosts: list[str] = []
    webhook_allow_http: bool = False

    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"
    cors_origins: list[str] = []

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        # A misspelt ENV (`prod`, `Production `) must not quietly run production on development keys.
        normalised = value.strip().lower()
        if normalised not in ENVIRONMENTS:
            raise ValueError(f"ENV must be one of {', '.join(ENVIRONMENTS)}")
        return normalised

    @field_validator("database_url", "scoring_database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        # Accept the plain libpq form operators usually have at hand.
        if not value:
            return None
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        return value

    def check_production(self) -> None:
        """Refuse to run in production with development keys, a short secret or wildcard CORS."""
        if self.env != "production":
            return
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET:
            raise RuntimeError("SECRET_KEY must be set in production")
        # HS256 tokens can be brute-forced offline from any one token when the key is short.
        if len(secret) < MIN_SECRET_LENGTH:
            raise RuntimeError(f"SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production")
        if "*" in self.cors_origins:
            raise RuntimeError("CORS_ORIGINS must list the allowed origins; '*' is refused in production")
        # Not only the default itself: the development key anywhere in a rotation list, or the
        # defaults with stray spaces, would still encrypt or hash real citizens' data with keys
        # published in this repository.
        hash_key = self.pii_hash_key.get_secret_value().strip()
        if not hash_key or hash_key == DEV_PII_HASH_KEY:
            raise RuntimeError("PII_KEYS and PII_HASH_KEY must be set in production")
        keys = [_key_material(part) for part in self.pii_keys.get_secret_value().split(",") if part.strip()]
        if not keys or _key_material(DEV_PII_KEYS) in keys:
            raise RuntimeError("PII_KEYS and PII_HASH_KEY must be set in production (without the development key)")


def _key_material(entry: str) -> bytes:
    """The key bytes of one `id:base64` PII key entry (the text itself when it is not base64)."""
    material = entry.strip().partition(":")[2].strip()
    try:
        return base64.b64decode(material, validate=True)
    except (binascii.Error, ValueError):
        return material.encode()


@lru_cache
def get_settings() -> Settings:
    """The process's settings, checked: every process (apps, workers, CLI) refuses development keys in production."""
    settings = Settings()
    settings.check_production()
    return settings
