"""Who may use the console: the Host check (DNS rebinding), the per-instance token and the
same-origin check on every state-changing request, and the response headers every page carries.

- Every console request must name, in its ``Host`` header, an address this gateway serves
  (loopback names, the bind address, ``SMLOCAL_CONSOLE_HOSTS``). A page on another site that
  rebinds its own name to 127.0.0.1 sends its own name as Host and is refused.
- Every POST must carry the per-instance token (generated at start, embedded in the pages, sent
  by the console's script as ``X-Smlocal-Token`` or by plain forms as the ``token`` field) and,
  when the browser says where it comes from (``Origin``, ``Sec-Fetch-Site``), come from the
  console's own origin. Another site cannot read a page (no CORS headers, and the Host check
  stops rebinding), so it cannot learn the token.
- GET requests never change anything.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from emulator.config import Settings
from emulator.config import served_names as config_served_names

TOKEN_HEADER = "x-smlocal-token"
TOKEN_FIELD = "token"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def served_names(settings: Settings) -> set[str]:
    """The names and addresses a browser may use to reach the console."""
    return config_served_names(settings, settings.console_hosts + settings.extra_hosts)


@dataclass
class Guard:
    allowed_hosts: frozenset[str]         # "name:port" as browsers send it
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def for_settings(cls, settings: Settings) -> Guard:
        hosts = set()
        for name in served_names(settings):
            hosts.add(f"{name}:{settings.port}")
            if settings.port == 80:
                hosts.add(name)
        return cls(frozenset(hosts))

    def host_allowed(self, host: str | None) -> bool:
        return bool(host) and host.strip().lower() in self.allowed_hosts  # type: ignore[union-attr]

    def refuse_action(self, host: str, origin: str | None, fetch_site: str | None, token: str | None) -> str | None:
        """Why a state-changing request must be refused, or None when it may go ahead."""
        if origin is not None and origin.lower() != f"http://{host.strip().lower()}":
            return (f"This action came from another site ({origin}); the console only accepts actions from its "
                    "own pages.")
        if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
            return f"This action came from another site (Sec-Fetch-Site: {fetch_site}); it was refused."
        if not token or not hmac.compare_digest(token.encode(), self.token.encode()):
            return ("This action needs the console's token, which its pages carry. Reload the page (the gateway "
                    "may have restarted, which changes the token) and try again.")
        return None
