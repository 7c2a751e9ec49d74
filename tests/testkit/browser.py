"""Browser tests as a person would: Debian's Chromium driven by Playwright, an
accessibility check with axe-core on every page, and screenshots at desktop and
phone widths.

Tests take the ``browser_page`` fixture (a fresh page on a live server of the test
database) and call ``check_page`` after each step a person would look at. Every
request that would leave the machine is refused and recorded, so a page that
needs a CDN fails its test. Outside CI a missing Chromium skips these tests with
one line saying how to install it; in CI (CI=true) it is an error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
# axe-core impacts that fail a test; "minor" and "moderate" are reported, not fatal.
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    path = chromium_path()
    if path:
        return path
    message = "Chromium is not installed: apt-get update && apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return url.startswith(("data:", "blob:", "about:")) or (
        host in LOCAL_HOSTS or host.endswith(".localhost")
    )


@dataclass
class PageSession:
    """A Playwright page plus what the checks collected along the journey."""

    page: Any
    base_url: str
    outside_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "localhost") -> str:
        port = urlsplit(self.base_url).port
        return f"http://{host}:{port}{path}"


def start_browser() -> tuple[Any, Any]:
    executable = require_chromium()
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls
    # made by the test itself (set-up, assertions) are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    browser = playwright.chromium.launch(executable_path=executable, args=args)
    return playwright, browser


def open_page(browser: Any, base_url: str) -> Iterator[PageSession]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    session = PageSession(page=page, base_url=base_url)

    def guard(route: Any) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            session.outside_requests.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on(
        "console",
        lambda message: (
            session.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    try:
        yield session
    finally:
        context.close()


def accessibility_violations(page: Any) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def check_page(session: PageSession, name: str, *, screenshots: bool = True) -> None:
    """What every page must pass: no serious or critical axe-core violation, no
    request leaving the machine; and screenshots at desktop and 375 px widths."""
    page = session.page
    page.wait_for_load_state("networkidle")
    violations = accessibility_violations(page)
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    assert not blocking, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in blocking
    )
    assert not session.outside_requests, f"requests left the machine: {session.outside_requests}"
    if screenshots:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
