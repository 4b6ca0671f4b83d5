"""The console ring: real jobs and endpoints in Docker against a real S3 server, looked at through
Debian's Chromium driven by Playwright (never Playwright's own browser download).

Every page a test visits is saved as a screenshot under ``test-artifacts/console/`` (or
``$SMLOCAL_TEST_ARTIFACTS/console``), and checked for the S3 keys, which no page may show.
With ``SMLOCAL_CONSOLE_DOCS_SHOTS=1`` the screenshots the README shows are rewritten under docs/.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# the integration ring's fixtures: SeaweedFS + the Docker bridge relay, the test images
from integration.conftest import (  # noqa: F401 - pytest finds fixtures by name
    bridge_relay,
    framework_image,
    process_image,
    s3,
    s3_server,
    serve_image,
    train_image,
    tune_image,
)
from support import S3_ACCESS, S3_SECRET, live_gateway

from emulator.hosting.fleet import stop_all
from emulator.infra.docker_engine import DockerEngine

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SMLOCAL_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "console"
DOCS = ROOT / "docs" / "console"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 720}


def chromium_path() -> str:
    found = os.environ.get("SMLOCAL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium binary: install Debian's `chromium` package (.ci/run does: apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def playwright_instance():
    """Per module, not per session: Playwright's sync API keeps an event loop running on the main thread
    while it is open, which would break later tests that call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance):
    """One Chromium for the session, with a fresh profile (user data dir) of its own."""
    profile = tempfile.mkdtemp(prefix="smlocal-chromium-")
    context = playwright_instance.chromium.launch_persistent_context(
        profile, executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT,
        accept_downloads=True, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(30_000)
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


class ConsolePage:
    """A browser tab on a console, with screenshots and the secrets check on every page it shows."""

    def __init__(self, page, base: str, name: str) -> None:
        self.page, self.base, self.name = page, base, name
        self.shots = 0
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # "Failed to load resource" is the browser noting a 4xx/5xx answer, which some tests provoke
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" and
                not msg.text.startswith("Failed to load resource") else None)
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def goto(self, path: str):
        response = self.page.goto(self.base + path)
        self.check_secrets()
        return response

    def shot(self, label: str, full_page: bool = True, docs: str | None = None, docs_until: str | None = None) -> Path:
        """Screenshot of what the tab shows now, as a test artifact (and as a docs picture when asked: the
        page from its top down to the bottom of ``docs_until``, or the whole page)."""
        self.check_secrets()
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{self.name}-{self.shots:02d}-{label}")[:120]
        path = ARTIFACTS / f"{safe}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        if docs and os.environ.get("SMLOCAL_CONSOLE_DOCS_SHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            box = self.page.locator(docs_until).bounding_box() if docs_until else None
            scroll = self.page.evaluate("window.scrollY")
            clip = {"x": 0, "y": 0, "width": VIEWPORT["width"],
                    "height": (box["y"] + scroll + box["height"] + 16) if box else
                    self.page.evaluate("document.documentElement.scrollHeight")}
            self.page.screenshot(path=str(DOCS / docs), full_page=True, clip=clip)
        return path

    def check_secrets(self) -> None:
        html = self.page.content()
        assert S3_SECRET not in html and S3_ACCESS not in html, f"{self.page.url} shows the S3 keys"

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.inner_text()


@pytest.fixture
def tab(browser, request):
    """A new tab; ``tab(base_url)`` returns a ConsolePage on that console."""
    pages = []

    def open_(base: str) -> ConsolePage:
        page = browser.new_page()
        console = ConsolePage(page, base, request.node.name)
        pages.append(console)
        return console
    yield open_
    for console in pages:
        try:
            console.check_secrets()
        finally:
            console.page.close()
        assert not console.errors, f"script errors in the console: {console.errors}"
        assert not console.dialogs, f"a page opened a dialog (script injection?): {console.dialogs}"


@pytest.fixture(scope="session")
def console_gateway(tmp_path_factory, s3_server, train_image, serve_image,  # noqa: F811
                    process_image) -> Iterator:  # noqa: F811
    """A gateway that runs jobs and endpoints for real; its console is at ``url + /_smlocal/``."""
    with live_gateway(tmp_path_factory.mktemp("console-gateway"), s3=s3_server, stop_grace_seconds=3,
                      max_concurrent_jobs=4) as gateway:
        yield gateway
    stop_all(DockerEngine(), gateway.settings.data_dir, grace=1)


@pytest.fixture(scope="session")
def console_bucket(s3) -> str:  # noqa: F811
    try:
        s3.create_bucket(Bucket="console")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return "console"
