"""The SMS gateway adapter: one signed HTTP POST per message, the provider's answer mapped to sent / retry / failed.

The contract (docs/messages.md) is ours and small, so any provider fits behind a thin shim:

* we POST JSON `{message_id, to, sign_name, text}` to `sms_gateway_url` with `Idempotency-Key: <message_id>`
  (a retry after a timeout must not send twice), `X-Minqing-Sms-Timestamp` (Unix seconds) and
  `X-Minqing-Sms-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>` under `sms_gateway_secret`;
* it answers JSON `{code, message, provider_message_id}`; `code` is the provider's: `OK` (or `0`,
  `SUCCESS`) is sent, the others are looked up in `DEFAULT_CODES` and `sms_error_codes`;
* replies come back to `POST /v1/messages/sms/replies`, signed the same way.

Only a code that says the number or the text can never be delivered fails a message; everything else
(timeouts, 5xx, 429, unknown codes, a signature the gateway refused) is retried, so nothing is lost to a
misconfiguration that an operator then fixes.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson

from shared.settings import get_settings

SIGNATURE_HEADER = "X-Minqing-Sms-Signature"
TIMESTAMP_HEADER = "X-Minqing-Sms-Timestamp"
SIGNATURE_SCHEME = "sha256="
# A signed reply older (or newer) than this is refused: a captured one cannot be replayed later.
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_ANSWER_BYTES = 64_000
ERROR_LENGTH = 200
USER_AGENT = "Minqing-SMS/1"

Verdict = Literal["sent", "retry", "failed"]
SENT_CODES = frozenset({"OK", "0", "SUCCESS"})
# Provider codes we know (generic names, and a few of the large Chinese providers' own); `sms_error_codes`
# adds or overrides entries. `failed` only when the message can never go through as it is.
DEFAULT_CODES: dict[str, Verdict] = {
    "THROTTLED": "retry",
    "RATE_LIMITED": "retry",
    "BUSY": "retry",
    "SYSTEM_ERROR": "retry",
    "INSUFFICIENT_BALANCE": "retry",
    "SIGNATURE_INVALID": "retry",
    "INVALID_NUMBER": "failed",
    "BLACKLISTED": "failed",
    "UNSUBSCRIBED": "failed",
    "CONTENT_REJECTED": "failed",
    "isp.SYSTEM_ERROR": "retry",
    "isv.BUSINESS_LIMIT_CONTROL": "retry",
    "isv.DAY_LIMIT_CONTROL": "retry",
    "isv.AMOUNT_NOT_ENOUGH": "retry",
    "isv.OUT_OF_SERVICE": "retry",
    "isv.MOBILE_NUMBER_ILLEGAL": "failed",
    "isv.BLACK_KEY_CONTROL_LIMIT": "failed",
}


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    url: str
    secret: str
    sign_name: str
    timeout: float
    codes: dict[str, Verdict]

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def gateway_config() -> GatewayConfig:
    """The operator's SMS gateway settings (`sms_gateway_*`, `sms_error_codes` over `DEFAULT_CODES`)."""
    settings = get_settings()
    extra: dict[str, Verdict] = {
        code: "failed" if verdict == "failed" else "retry" for code, verdict in settings.sms_error_codes.items()
    }
    return GatewayConfig(
        url=settings.sms_gateway_url,
        secret=settings.sms_gateway_secret.get_secret_value(),
        sign_name=settings.sms_sign_name,
        timeout=settings.sms_gateway_timeout_seconds,
        codes=DEFAULT_CODES | extra,
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.` + body under `secret`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_SCHEME + digest


def verify(secret: str, timestamp: str | None, body: bytes, header: str | None, *, now: float | None = None) -> bool:
    """Whether a gateway request is signed with `secret` and fresh (constant-time comparison)."""
    if not secret or not header or not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), header.strip().encode())


@dataclass(frozen=True, slots=True)
class GatewayResult:
    verdict: Verdict
    code: str | None = None
    error: str | None = None
    provider_message_id: str | None = None


def _short(text: str) -> str:
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def classify(status: int, answer: dict[str, Any] | None, codes: dict[str, Verdict]) -> GatewayResult:
    """The verdict on one answer of the gateway (pure): its HTTP status and its JSON body, if any."""
    raw_code = answer.get("code") if answer else None
    code = None if raw_code is None else _short(str(raw_code))
    message = _short(str(answer.get("message") or "")) if answer else ""
    provider_id = answer.get("provider_message_id") if answer else None
    provider_id = _short(str(provider_id)) if provider_id is not None else None
    if 200 <= status < 300 and code in SENT_CODES:
        return GatewayResult("sent", code, None, provider_id)
    if code is not None and code in codes:
        verdict = codes[code]
        return GatewayResult(verdict, code, _short(f"HTTP {status}, {code}: {message}".rstrip(": ")))
    if code is not None:
        return GatewayResult("retry", code, _short(f"HTTP {status}, unknown code {code}: {message}".rstrip(": ")))
    return GatewayResult("retry", None, f"HTTP {status} without a code")


def make_client(config: GatewayConfig) -> httpx.AsyncClient:
    """The client the sender uses: the gateway's timeout, no redirects, no proxies from the environment."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(config.timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


def request_body(message_id: str, phone: str, text: str, sign_name: str) -> bytes:
    return orjson.dumps({"message_id": message_id, "to": phone, "sign_name": sign_name, "text": text})


async def send_sms(
    client: httpx.AsyncClient, config: GatewayConfig, *, message_id: str, phone: str, text: str
) -> GatewayResult:
    """POST one message to the gateway and map its answer; never raises for the gateway's failures."""
    body = request_body(message_id, phone, text, config.sign_name)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": message_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(config.secret, timestamp, body),
    }
    try:
        request = client.build_request("POST", config.url, content=body, headers=headers)
        response = await client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    break
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        return GatewayResult("retry", None, "no answer from the SMS gateway in time")
    except (httpx.HTTPError, OSError) as exc:
        return GatewayResult("retry", None, f"sending to the SMS gateway failed: {type(exc).__name__}")
    answer: dict[str, Any] | None = None
    if size <= MAX_ANSWER_BYTES:
        try:
            parsed = orjson.loads(b"".join(chunks))
            answer = parsed if isinstance(parsed, dict) else None
        except orjson.JSONDecodeError:
            answer = None
    return classify(response.status_code, answer, config.codes)
