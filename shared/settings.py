"""Process settings, read from the environment (and an optional `.env`)."""

import base64
import binascii
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.redis_url import RedisUrlError, parse_redis_url

DEV_SECRET = "minqing-dev-secret-change-me-0123456789abcdef"
# Development-only PII key (32 zero-free bytes); production must configure its own.
DEV_PII_KEYS = "1:bWlucWluZy1kZXYtcGlpLWtleS0wMTIzNDU2Nzg5YWI="
DEV_PII_HASH_KEY = "minqing-dev-pii-hash-key"
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("dev", "test", "production")


class Settings(BaseSettings):
    # Errors name the variable, not its value: a mistyped REDIS_URL or DATABASE_URL often holds a password.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    env: str = Field("dev", description="dev | test | production")
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/minqing"
    # A read replica for score computations (SPEC §11); unset: the primary. Writes always go to the primary.
    scoring_database_url: str | None = None
    # One server (redis://, rediss://, unix://) or a Sentinel set (redis+sentinel://…): shared/redis_url.py.
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
    # PII key rotation (docs/operations.md): the matching-hash key being replaced, set only while the stored
    # hashes are recomputed under PII_HASH_KEY (matchers accept either meanwhile); rows per rotation batch.
    pii_hash_key_previous: SecretStr | None = None
    pii_rotation_batch: int = Field(500, ge=1, le=10_000)
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

    # The web console (console/, served by the intake API at /console/): an optional map tile URL template
    # ({z}/{x}/{y}; empty: the maps draw the platform's own boundaries only, no tiles) and its attribution;
    # the scoring service's base URL, which the console's same-origin proxy (/console/scoring/...) calls.
    console_tile_url: str = ""
    console_tile_attribution: str = ""
    console_scoring_url: str = "http://127.0.0.1:8001"

    # Attachments (services/attachments, docs/attachments.md): per-file and per-upload limits, the types
    # allowed (checked by content), the thumbnail size, where the files are kept (`local`: a folder, by
    # default under `.data/`; `s3`: any S3-compatible store) and how long a signed download link lasts.
    attachment_max_bytes: int = 10_000_000
    attachment_max_files: int = 5
    attachment_max_per_request: int = 30
    attachment_allowed_types: list[str] = ["image/jpeg", "image/png", "image/webp", "application/pdf"]
    attachment_max_pixels: int = 50_000_000
    attachment_thumbnail_px: int = 320
    attachment_public_px: int = 1600
    attachment_storage: str = Field("local", description="local | s3")
    attachment_dir: str = ".data/attachments"
    attachment_s3_endpoint_url: str | None = None
    attachment_s3_bucket: str = "minqing-attachments"
    attachment_s3_region: str = "us-east-1"
    attachment_s3_access_key_id: str | None = None
    attachment_s3_secret_access_key: SecretStr | None = None
    attachment_s3_prefix: str = ""
    attachment_link_ttl_seconds: int = 300

    # Messages to citizens (services/messages, docs/messages.md): the SMS gateway adapter (empty URL: no SMS
    # is queued), the secret that signs what we send it and what it sends us (replies), the sign name (签名),
    # its timeout and extra provider error codes (`{"CODE": "retry" | "failed"}`); at most N SMS per phone
    # in a rolling window (more wait, none is dropped); a folder of templates overriding the built-in ones;
    # the feedback link (`{token}` is replaced); the retry schedule (seconds after each failed attempt, the
    # last repeating) and how long a message is retried before it is `failed`.
    sms_gateway_url: str = ""
    sms_gateway_secret: SecretStr = SecretStr("")
    sms_sign_name: str = "民情"
    sms_gateway_timeout_seconds: float = 5.0
    sms_error_codes: dict[str, str] = {}
    sms_per_phone_limit: int = 5
    sms_per_phone_window_seconds: int = 3600
    messages_templates_dir: str = ""
    messages_feedback_url: str = "http://127.0.0.1:8000/v1/track/invitations/{token}"
    messages_retry_seconds: list[int] = [10, 30, 60, 300, 900, 3600]
    messages_retry_hours: int = 24

    # The workers' Prometheus metrics (docs/operations.md, "Metrics"): the port each worker kind serves
    # `/metrics` on (0: none; several workers on one host each need their own) and the interface it binds.
    worker_metrics_port: int = Field(0, ge=0, le=65535)
    long_worker_metrics_port: int = Field(0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"

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

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        # Refused at start-up, not at the first enqueue (which fails open and would only log).
        try:
            parse_redis_url(value)
        except RedisUrlError as exc:
            raise ValueError(f"REDIS_URL {exc}") from None
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
