"""The documentation pages work on a network that reaches nothing outside the platform: `/docs` and `/redoc`
load their scripts, styles and favicon from the app itself (the pinned `fastapi-offline` wheel), their
Content-Security-Policy lets the browser load nothing from elsewhere, and the scoring service's Swagger UI
"Authorize" has a token URL to post to on its own port."""

import base64
import hashlib
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import PASSWORD, make_small_city, make_staff
from tests.settings import set_setting

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
# Where documentation pages load fonts and bundles from by default: none may appear in what we serve.
CDN_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com")
ABSOLUTE_URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Attributes whose value the browser fetches (or sends the user to).
URL_ATTRIBUTES = {"src", "href", "spec-url", "action", "data", "poster", "srcset"}
EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


class _Page(HTMLParser):
    """The URLs a page's tags reference, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in URL_ATTRIBUTES and value]
        self._in_inline_script = tag == "script" and not dict(attrs).get("src")
        if self._in_inline_script:
            self.inline_scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _policy(answer: Any) -> dict[str, list[str]]:
    directives = [d.split() for d in answer.headers["content-security-policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def _clients(intake_client: Any, scoring_client: Any) -> list[tuple[str, Any]]:
    return [("intake", intake_client), ("scoring", scoring_client)]


async def test_the_pages_reference_nothing_outside_the_platform(intake_client: Any, scoring_client: Any) -> None:
    for name, client in _clients(intake_client, scoring_client):
        for path in PAGES:
            answer = await client.get(path)
            assert answer.status_code == 200, (name, path)
            assert answer.headers["content-type"].startswith("text/html"), (name, path)
            page = _parse(answer.text)
            absolute = [url for url in page.urls if ABSOLUTE_URL.match(url) or ":" in url.split("/")[0]]
            assert absolute == [], (name, path, absolute)
            for script in page.inline_scripts:
                assert ABSOLUTE_URL.findall(script) == [], (name, path, script)
            assert not any(host in answer.text for host in CDN_HOSTS), (name, path)


async def test_the_policy_lets_pages_load_only_from_the_platform(intake_client: Any, scoring_client: Any) -> None:
    allowed = {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}
    for name, client in _clients(intake_client, scoring_client):
        for path in PAGES:
            answer = await client.get(path)
            policy = _policy(answer)
            assert policy["default-src"] == ["'none'"], (name, path)
            assert policy["frame-ancestors"] == ["'none'"], (name, path)
            for directive, sources in policy.items():
                outside = [s for s in sources if s not in allowed and not s.startswith("'sha256-")]
                assert outside == [], (name, path, directive, outside)
            # Scripts: the page's own files, and its inline scripts by their exact hash (never 'unsafe-inline').
            inline = _parse(answer.text).inline_scripts
            hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
            assert set(policy["script-src"]) == {"'self'", *hashes}, (name, path)
            assert (path == "/redoc") == (inline == []), (name, path)
            # The security headers of every answer are still there.
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["x-content-type-options"] == "nosniff"


async def test_every_asset_a_page_references_is_served_by_the_app(intake_client: Any, scoring_client: Any) -> None:
    for name, client in _clients(intake_client, scoring_client):
        referenced: set[str] = set()
        for path in ("/docs", "/redoc"):
            answer = await client.get(path)
            page = _parse(answer.text)
            referenced |= set(page.urls)
            for script in page.inline_scripts:  # Swagger UI's configuration: the document it loads
                referenced |= set(re.findall(r"\burl: '([^']+)'", script))
        assert referenced >= {
            "/openapi.json",
            "/static/docs/swagger-ui-bundle.js",
            "/static/docs/swagger-ui.css",
            "/static/docs/redoc.standalone.js",
            "/static/docs/favicon.png",
        }, referenced
        for url in sorted(referenced):
            assert url.startswith("/"), (name, url)
            asset = await client.get(url)
            assert asset.status_code == 200, (name, url)
            expected = next(kind for suffix, kind in EXPECTED_TYPES.items() if url.endswith(suffix))
            assert expected in asset.headers["content-type"], (name, url, asset.headers["content-type"])
            assert len(asset.content) > 1000, (name, url)
            if url.startswith("/static/docs/"):
                # Revalidated by ETag, not refetched on every page: the files carry no personal data.
                assert asset.headers["cache-control"] == "no-cache"
                again = await client.get(url, headers={"If-None-Match": asset.headers["etag"]})
                assert again.status_code == 304, (name, url)
    assert (await intake_client.get("/static/docs/nothing.js")).status_code == 404
    assert (await intake_client.get("/static/docs/%2E%2E/core.py")).status_code == 404


async def test_the_bundles_load_nothing_from_outside(intake_client: Any) -> None:
    """The scripts and styles name no CDN. Each names one outside address of its own, neither of which a
    browser fetches from these pages: Swagger UI's validator badge is turned off by the page's
    configuration, and ReDoc's sidebar logo (always rendered, hidden on error) is refused by img-src."""
    bundles = {}
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        text = (await intake_client.get(f"/static/docs/{asset}")).text
        assert not any(host in text for host in CDN_HOSTS), asset
        assert "@import" not in text and not re.search(r"url\(\s*['\"]?(?:https?:)?//", text), asset
        bundles[asset] = text
    assert 'validatorUrl:"https://validator.swagger.io/validator"' in bundles["swagger-ui-bundle.js"]
    swagger_page = (await intake_client.get("/docs")).text
    assert '"validatorUrl": null' in swagger_page
    assert 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"' in bundles["redoc.standalone.js"]
    assert _policy(await intake_client.get("/redoc"))["img-src"] == ["'self'", "data:", "blob:"]
    redoc_page = (await intake_client.get("/redoc")).text
    assert "fonts.googleapis.com" not in redoc_page and "<link href" not in redoc_page


async def test_the_documentation_routes_are_not_in_the_api_document(intake_client: Any, scoring_client: Any) -> None:
    for _, client in _clients(intake_client, scoring_client):
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert not [p for p in paths if p.startswith(("/static", "/docs", "/redoc", "/openapi"))], paths


async def test_swagger_authorize_works_on_the_scoring_service(
    session: AsyncSession, intake_client: Any, scoring_client: Any
) -> None:
    units = await make_small_city(session)
    await make_staff(session, "scheme_admin", "admin", units["3302"])
    await session.commit()
    spec = (await scoring_client.get("/openapi.json")).json()
    token_url = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"]
    assert token_url == "/v1/auth/token"  # relative: Swagger UI posts it to the port the page came from
    # What Swagger UI's password flow sends: a form, with an (empty) client in Basic auth.
    form = {"grant_type": "password", "username": "scheme_admin", "password": PASSWORD, "scope": ""}
    answer = await scoring_client.post(token_url, data=form, headers={"Authorization": "Basic Og=="})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    token = answer.json()
    assert token["token_type"] == "bearer" and token["expires_in"] > 0
    listed = await scoring_client.get(
        "/v1/admin/scoring-schemes", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert listed.status_code == 200, listed.text
    # The same token serves the intake API, as one from there serves the scoring service.
    me = await intake_client.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200 and me.json()["name"] == "scheme_admin"
    # Hidden from the scoring service's document, documented where the login lives.
    assert "/v1/auth/token" not in spec["paths"]
    assert "post" in (await intake_client.get("/openapi.json")).json()["paths"]["/v1/auth/token"]
    wrong = await scoring_client.post(token_url, data={**form, "password": "wrong"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"


async def test_failed_logins_count_alike_on_both_ports(
    session: AsyncSession, intake_client: Any, scoring_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second login address must not double the guesses an account allows: the counters are shared."""
    set_setting(monkeypatch, "login_failures_per_user", 4)
    units = await make_small_city(session)
    await make_staff(session, "guessed", "admin", units["3302"])
    await session.commit()
    for client in (intake_client, scoring_client, intake_client, scoring_client):
        answer = await client.post("/v1/auth/token", data={"username": "guessed", "password": "guess"})
        assert answer.status_code == 401
    for client in (intake_client, scoring_client):
        locked = await client.post("/v1/auth/token", data={"username": "guessed", "password": PASSWORD})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
