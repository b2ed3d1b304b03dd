"""`rostering-advisor serve`: check the folders, then run the app under uvicorn, one engine per
worker process (the engine is not thread-safe; several cores mean several processes)."""

from __future__ import annotations

import ipaddress
import os

from engine.errors import InputError, SourceLocation
from engine.web.workspace import CONFIG_VARIABLE, ServeConfig, Workspace

APP_FACTORY = "engine.web.app:create_app"


def check(config: ServeConfig, port: int, workers: int) -> None:
    """Load the rules, templates and examples once before listening: a problem is exit 2 with
    its `file:line:col`, not a worker that dies at start."""
    if not 0 <= port <= 65535:
        raise InputError.at(SourceLocation("--port"), f"expected a port from 0 to 65535, got {port}")
    if workers < 1:
        raise InputError.at(SourceLocation("--workers"), f"expected at least 1 worker, got {workers}")
    Workspace(config)


def loopback(host: str) -> bool:
    """Whether only this machine can reach `host`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def run(config: ServeConfig, host: str, port: int, workers: int) -> None:
    """Serve until interrupted. The worker processes read `config` from the environment."""
    import uvicorn

    os.environ[CONFIG_VARIABLE] = config.to_env()
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        server_header=False,
        log_level="warning",
    )
