"""``smlocal console``: print the web console's URL and open it in a browser where there is one."""

from __future__ import annotations

import os
import sys
import webbrowser

from emulator.cli.instance import RuntimeInfo, http_answers

CONSOLE_PATH = "/_smlocal/"


def console_url(info: RuntimeInfo) -> str:
    return info.gateway_url.rstrip("/") + CONSOLE_PATH


def graphical() -> bool:
    """A browser window can open here (not a text browser taking over the terminal of an SSH session)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_console(info: RuntimeInfo, want_browser: bool) -> tuple[str, bool, bool]:
    """(url, whether the console answers, whether a browser was asked to open it)."""
    url = console_url(info)
    answers = http_answers(url)
    opened = False
    if answers and want_browser and graphical():
        try:
            opened = webbrowser.open(url, new=2)
        except webbrowser.Error:
            opened = False
    return url, answers, opened
