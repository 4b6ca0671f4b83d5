"""The console as an ASGI application, mounted by the gateway at ``/_smlocal`` (``ROOT``).

Pages are server-rendered HTML; live regions poll their own fragment (``?fragment=<name>``) through
htmx, which stops polling when a fragment answers 286 (the job ended). Reads go through
``ConsoleData``, changes through ``ConsoleActions``, and every request through ``ConsoleGuard``:
a Host check on everything, and the token plus same-origin check on every POST.
"""

from __future__ import annotations

import importlib
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from emulator import __version__
from emulator.config import Settings
from emulator.console import nav
from emulator.console.actions import ConsoleActions
from emulator.console.data import ConsoleData
from emulator.console.render import STATIC, asset_version, environment
from emulator.console.security import HEADERS, TOKEN_FIELD, TOKEN_HEADER, Guard

ROOT = "/_smlocal"
STOP_POLLING = 286            # htmx: a polled element stops polling on this status
ENDED_EVENT = "smlocal-ended"  # sent (HX-Trigger) with a job's last summary: its other live regions refresh
MAX_FORM_BYTES = 8 * 1024 * 1024


@dataclass
class Console:
    settings: Settings
    data: ConsoleData
    actions: ConsoleActions
    guard: Guard
    env: Any = field(default_factory=environment)
    version: str = __version__

    def __post_init__(self) -> None:
        self.assets = asset_version()

    @property
    def url(self) -> str:
        """The console's address, as ``smlocal console`` prints it."""
        return f"{self.settings.gateway_url}{ROOT}/"

    def href(self, path: str, **params: Any) -> str:
        kept = {k: v for k, v in params.items() if v not in (None, "", False)}
        return ROOT + path + ("?" + urllib.parse.urlencode(kept) if kept else "")

    # --- responses ------------------------------------------------------------------------------------
    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(console=self, root=ROOT, href=self.href, **context)

    def page(self, request: Request, template: str, *, section: str, title: str,
             fragments: dict[str, str] | None = None, done: bool = False, status_code: int = 200,
             headers: dict[str, str] | None = None, **context: Any) -> Response:
        """The whole page, or the fragment ``?fragment=`` names (286 when ``done``: polling stops)."""
        wanted = request.query_params.get("fragment")
        if wanted and fragments and wanted in fragments:
            html = self.render(fragments[wanted], request=request, **context)
            return HTMLResponse(html, status_code=STOP_POLLING if done else status_code,
                                headers={"cache-control": "no-store", **(headers or {})})
        html = self.render(template, request=request, section=section, title=title, nav=nav.grouped(),
                           token=self.guard.token, done=done, **context)
        return HTMLResponse(html, status_code=status_code, headers={"cache-control": "no-store"})

    def not_found(self, request: Request, section: str, what: str, back: str, back_label: str) -> Response:
        if request.query_params.get("fragment"):  # a live region whose resource went away: stop polling
            return HTMLResponse(self.render("_gone.html", what=what, back=back, back_label=back_label),
                                status_code=STOP_POLLING)
        return self.page(request, "not_found.html", section=section, title="Not found", what=what, back=back,
                         back_label=back_label, status_code=404)

    def refusal(self, request: Request, reason: str) -> Response:
        template = "_refused.html" if request.headers.get("hx-request") else "refused.html"
        return HTMLResponse(self.render(template, reason=reason), status_code=403)

    async def form(self, request: Request) -> dict[str, str]:
        """An urlencoded form (what the console's forms and htmx send); the last value of each field."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                break
        text = body[:MAX_FORM_BYTES].decode("utf-8", "replace")
        return {k: v for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True)}

    async def checked_form(self, request: Request) -> tuple[dict[str, str], Response | None]:
        """The form of a state-changing request, or the refusal to send instead of acting."""
        form = await self.form(request)
        token = request.headers.get(TOKEN_HEADER) or form.get(TOKEN_FIELD)
        reason = self.guard.refuse_action(request.headers.get("host", ""), request.headers.get("origin"),
                                          request.headers.get("sec-fetch-site"), token)
        return form, (self.refusal(request, reason) if reason else None)

    def after_action(self, request: Request, location: str) -> Response:
        """Back to a page: htmx follows ``HX-Redirect``; a plain form follows the 303."""
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)


class ConsoleGuard:
    """ASGI middleware: the Host check on every request, the security headers on every answer."""

    def __init__(self, app: Any, guard: Guard, settings: Settings) -> None:
        self.app, self.guard, self.settings = app, guard, settings

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self.guard.host_allowed(host):
            message = (f"smlocal's console refuses requests for host {host!r}: it answers only at the addresses this "
                       f"gateway serves (such as {self.settings.gateway_url}{ROOT}/). Add other names with "
                       "SMLOCAL_CONSOLE_HOSTS.\n")
            await _plain(403, message)(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD", "POST"):
            await _plain(405, "The console answers GET and POST only.\n")(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, with_headers)


def _plain(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status, headers=HEADERS)


def create_console(settings: Settings, data: ConsoleData, actions: ConsoleActions,
                   guard: Guard | None = None) -> tuple[Any, Console]:
    """The console's ASGI app (to mount at ``ROOT``) and the console it serves."""
    console = Console(settings, data, actions, guard or Guard.for_settings(settings))
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for module in nav.PAGES:
        importlib.import_module(f"emulator.console.pages.{module}").register(app, console)
    return ConsoleGuard(app, console.guard, settings), console


def console_for(emulator: Any) -> tuple[Any, Console]:
    """The console of a built emulator (``emulator.server.build``)."""
    return create_console(emulator.settings, ConsoleData.from_emulator(emulator), ConsoleActions(emulator.services))
