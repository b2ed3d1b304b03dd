"""What every response of the app carries and every request may not exceed: the security headers
(a Content-Security-Policy that lets only our own script and style run), and the 64 KB cap on a
request body (413 past it, whether the body announces its length or not).

A plain ASGI middleware, not Starlette's BaseHTTPMiddleware: it wraps `receive` and `send` and
adds nothing per request but a dict lookup and a counter.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

MAX_BODY = 64 * 1024

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


def content_security_policy(styles: Iterable[str] = ()) -> str:
    """Our own script and stylesheet only; `styles` adds the hashes of an embedded advice document's
    inline stylesheets (it is shown in a sandboxed frame, which inherits this policy)."""
    style = " ".join(["'self'", *(f"'{s}'" for s in styles)])
    return (
        "default-src 'none'; script-src 'self'; "
        f"style-src {style}; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


# every response's headers unless it sets its own: the security headers, the default policy, and
# whether caches may keep a copy (static files: yes, checked each time; pages: no)
_PAGES = (*_HEADERS, (b"content-security-policy", content_security_policy().encode()), (b"cache-control", b"no-store"))
_STATIC = (*_PAGES[:-1], (b"cache-control", b"no-cache"))
_NAMES = frozenset(name for name, _ in _PAGES)


class _TooLarge(Exception):
    """The body went past MAX_BODY while it was being read."""


class Guard:
    """Security headers on every response; request bodies capped at `max_body` bytes."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        started = False
        static = scope["path"].startswith("/static/")

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        async def secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))  # ASGI allows any iterable: read it once
                names = {key.lower() for key, _ in headers}
                ours = _STATIC if static else _PAGES  # pages carry a district's answers: no copies in caches
                if names.isdisjoint(_NAMES):  # the usual response: it sets none of ours
                    message = dict(message, headers=[*headers, *ours])
                else:
                    message = dict(message, headers=[*headers, *(h for h in ours if h[0] not in names)])
            await send(message)

        for key, value in scope["headers"]:
            if key == b"content-length" and (not value.isdigit() or int(value) > self.max_body):
                await self._refuse(secured)
                return
        try:
            await self.app(scope, limited, secured)
        except _TooLarge:
            if not started:
                await self._refuse(secured)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"errors": [f"request: the body is larger than {self.max_body:,} bytes"]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
