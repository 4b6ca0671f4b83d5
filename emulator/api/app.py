"""The FastAPI application: a health route for the CLI, the web console under ``/_smlocal/`` and one
catch-all route for AWS traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from emulator.api.gateway import Gateway

HEALTH_PATH = "/_smlocal/health"  # bucket names cannot start with "_": no clash with S3 paths
CONSOLE_PATH = "/_smlocal"        # the web console (emulator.console), an ASGI app of its own
_METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]


def create_app(gateway: Gateway, health: Callable[[], dict[str, Any]],
               on_shutdown: Callable[[], Awaitable[None]] | None = None,
               on_startup: Callable[[], Awaitable[None]] | None = None, console: Any = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        yield
        if gateway.s3 is not None:
            await gateway.s3.close()
        if on_shutdown is not None:
            await on_shutdown()

    app = FastAPI(title="smlocal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.get(HEALTH_PATH, include_in_schema=False)
    async def _health() -> JSONResponse:
        return JSONResponse(health())

    if console is not None:  # before the catch-all; not an AWS API: no SigV4, its own guard
        @app.get(CONSOLE_PATH, include_in_schema=False)
        async def _console_root() -> Response:
            return RedirectResponse(CONSOLE_PATH + "/", status_code=307)

        app.mount(CONSOLE_PATH, console)

    @app.api_route("/{path:path}", methods=_METHODS, include_in_schema=False)
    async def _aws(request: Request, path: str) -> Response:
        return await gateway.handle(request)

    return app
