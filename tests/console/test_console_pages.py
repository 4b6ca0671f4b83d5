"""The rest of the console in a real browser: the overview, the S3 browser with hostile keys,
empty states, keyboard navigation, light and dark themes, and the Host check on reads."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from support import S3_SECRET, live_gateway

pytestmark = pytest.mark.docker

HOSTILE = '<img src=x onerror=alert(1)> été & "quotes".csv'


def test_overview_counts_usage_and_settings(console_gateway, tab, console_bucket, s3):
    s3.put_object(Bucket=console_bucket, Key="overview/one.bin", Body=b"x" * 2048)
    sm = console_gateway.client("sagemaker")
    console = tab(console_gateway.url + "/_smlocal")
    console.goto("/")
    page = console.page
    training = sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    card = page.locator('[data-family="Training jobs"]')
    assert card.locator(".stat").inner_text() == str(len(training))
    for status in {j["TrainingJobStatus"] for j in training}:
        count = sum(j["TrainingJobStatus"] == status for j in training)
        assert card.locator(f'[data-count="{status}"]').inner_text() == f"{count} {status}"
    page.locator("#s3-h").scroll_into_view_if_needed()
    assert console_bucket in page.locator("#s3-h + dl").inner_text()
    settings = page.locator("[data-settings]").inner_text()
    assert str(console_gateway.settings.data_dir) in page.locator("#disk-h ~ p").inner_text()
    assert console_gateway.settings.s3.endpoint in settings and S3_SECRET not in settings
    console.goto("/")
    console.shot("overview", docs="overview.png")


def test_s3_browser_previews_and_downloads_hostile_keys_safely(console_gateway, tab, s3, console_bucket):
    rows = "\n".join(f"{i},{i * i},row {i}" for i in range(80)) + "\n"
    key = f"s3-browser/{HOSTILE}"
    s3.put_object(Bucket=console_bucket, Key=key, Body=("id,square,label\n" + rows).encode(), ContentType="text/csv")
    s3.put_object(Bucket=console_bucket, Key="s3-browser/config.json",
                  Body=json.dumps({"epochs": 3, "lr": 0.1}).encode())
    s3.put_object(Bucket=console_bucket, Key="s3-browser/page.html", Body=b"<script>alert('owned')</script>",
                  ContentType="text/html")
    s3.put_object(Bucket=console_bucket, Key="s3-browser/deeper/weights.bin", Body=bytes(range(256)) * 4)
    console = tab(console_gateway.url + "/_smlocal")
    page = console.page

    console.goto("/s3")
    page.locator("[data-buckets] a", has_text=console_bucket).click()
    page.locator('[data-prefix="s3-browser/"] a').click()
    listing = page.locator("[data-listing]").inner_text()
    assert HOSTILE in listing and "deeper/" in listing and "config.json" in listing
    console.shot("s3-prefix")

    page.get_by_role("link", name=HOSTILE, exact=True).click()
    table = page.locator('[data-preview="csv"] table')
    assert table.locator("tr").first.inner_text().split("\t") == ["id", "square", "label"]
    assert table.locator("tr").nth(3).inner_text().split("\t") == ["2", "4", "row 2"]
    assert table.locator("tr").count() == 50
    assert page.locator("h1").inner_text() == HOSTILE
    console.shot("s3-object-csv")
    with page.expect_download() as info:
        page.locator("[data-download]").click()
    assert info.value.path().read_bytes() == s3.get_object(Bucket=console_bucket, Key=key)["Body"].read()
    # the UTF-8 file name arrives (Chromium itself replaces < > " in file names)
    assert info.value.suggested_filename == re.sub(r'[<>"]', "_", HOSTILE)

    console.goto(f"/s3/{console_bucket}/object?key=s3-browser/config.json")
    assert json.loads(page.locator('[data-preview="json"] pre').inner_text()) == {"epochs": 3, "lr": 0.1}
    console.shot("s3-object-json")
    console.goto(f"/s3/{console_bucket}/object?key=s3-browser/deeper/weights.bin")
    assert page.locator('[data-preview="binary"]').is_visible()
    console.goto(f"/s3/{console_bucket}/object?key=s3-browser/page.html")
    assert "<script>alert('owned')</script>" in page.locator("[data-preview] pre").inner_text()

    # a download is always an attachment of an opaque type: an HTML object never runs as a console page
    response = httpx.get(f"{console_gateway.url}/_smlocal/s3/{console_bucket}/download",
                         params={"key": "s3-browser/page.html"})
    assert response.status_code == 200 and response.content == b"<script>alert('owned')</script>"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_reads_are_refused_for_another_host(console_gateway):
    base = f"{console_gateway.url}/_smlocal"
    for path in ("/", "/training-jobs", "/static/console.js", "/s3/console/download?key=x"):
        response = httpx.get(base + path, headers={"Host": f"rebound.example:{console_gateway.port}"})
        assert response.status_code == 403, path
        assert "rebound.example" in response.text and "SMLOCAL_CONSOLE_HOSTS" in response.text
        assert "access-control-allow-origin" not in response.headers
    ok = httpx.get(base + "/", headers={"Host": f"localhost:{console_gateway.port}"})
    assert ok.status_code == 200 and "access-control-allow-origin" not in ok.headers
    preflight = httpx.request("OPTIONS", base + "/endpoints/x/delete", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers


def test_empty_states_keyboard_and_themes(tab, tmp_path):
    with live_gateway(tmp_path / "empty") as gateway:
        console = tab(gateway.url + "/_smlocal")
        page = console.page
        console.goto("/")
        assert "Nothing has run here yet" in page.locator("[data-empty]").inner_text()
        assert "python examples/timeseries/pipeline.py" in page.locator("[data-empty]").inner_text()
        console.shot("overview-empty")

        # keyboard: the skip link comes first; "g t" goes to training jobs; "/" focuses the filter
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Escape")
        page.locator("main").click(position={"x": 5, "y": 5})
        page.keyboard.press("g")
        page.keyboard.press("t")
        page.wait_for_url("**/_smlocal/training-jobs")
        assert "No training jobs yet" in page.locator("[data-empty]").inner_text()
        console.shot("training-empty")
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "q"
        page.keyboard.type("nothing-like-this")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"q=nothing-like-this"))
        assert page.locator("[data-empty]").is_visible()

        # every nav link is reachable with Tab, and the focused one is outlined
        reached = set()
        for _ in range(30):
            page.keyboard.press("Tab")
            reached.add(page.evaluate("document.activeElement.getAttribute('href') || ''"))
        for path in ("/training-jobs", "/processing-jobs", "/transform-jobs", "/endpoints", "/models", "/s3"):
            assert f"/_smlocal{path}" in reached, path
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"

        # themes: follows the system, and the toggle sticks across pages
        page.emulate_media(color_scheme="light")
        console.goto("/endpoints")
        light = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.get_by_role("button", name="Dark theme").click()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert light != dark
        console.goto("/models")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == dark
        assert "No models yet" in page.locator("[data-empty]").inner_text()
        console.shot("models-empty-dark")
        page.get_by_role("button", name="Light theme").click()
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == light
        page.evaluate("localStorage.clear()")
        page.emulate_media(color_scheme="dark")
        console.goto("/s3")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == dark
        assert "without an S3 server" in page.locator("main").inner_text()
        console.shot("s3-unavailable-dark")
        page.emulate_media(color_scheme="light")
