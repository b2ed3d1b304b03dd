"""The guard's headers on an app of the test's own: every response gets each security header once,
a response's own policy or cache rule is kept, static files may be cached (checked each time) and
nothing else may."""

from __future__ import annotations

from collections import Counter

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from engine.web.guard import Guard, content_security_policy

OURS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


async def plain(request: Request) -> Response:
    return PlainTextResponse("plain")


async def own(request: Request) -> Response:
    return PlainTextResponse("own", headers={"Content-Security-Policy": "default-src 'self'", "Cache-Control": "max-age=60"})


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = Starlette(routes=[Route("/plain", plain), Route("/own", own), Route("/static/x.css", plain)])
    app.add_middleware(Guard)
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "policy", "cache"),
    [
        ("/plain", content_security_policy(), "no-store"),
        ("/static/x.css", content_security_policy(), "no-cache"),
        ("/own", "default-src 'self'", "max-age=60"),
        ("/nowhere", content_security_policy(), "no-store"),  # the router's own 404
    ],
)
def test_each_header_once_and_a_responses_own_kept(client: TestClient, path: str, policy: str, cache: str) -> None:
    response = client.get(path)
    names = Counter(name.lower() for name, _ in response.headers.raw)
    assert all(names[name.encode()] == 1 for name in (*OURS, "content-security-policy", "cache-control"))
    assert {name: response.headers[name] for name in OURS} == OURS
    assert response.headers["content-security-policy"] == policy
    assert response.headers["cache-control"] == cache


async def one_shot_headers(scope: dict, receive: object, send: object) -> None:
    """An ASGI app whose response headers are a generator: ASGI allows any iterable."""
    headers = ((name, value) for name, value in [(b"content-type", b"text/plain"), (b"content-length", b"3")])
    await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"one"})  # type: ignore[operator]


def test_headers_given_as_a_generator_are_all_kept() -> None:
    response = TestClient(Guard(one_shot_headers)).get("/")
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["cache-control"] == "no-store"
    assert {name: response.headers[name] for name in OURS} == OURS
