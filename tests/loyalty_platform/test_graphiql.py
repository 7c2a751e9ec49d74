"""GraphiQL on /graphql is served whole by this server: its scripts and styles are
vendored static files, so it works offline and behind proxies that block CDNs."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from tenants.partners.models import Partner
from tests.testkit import PROJECT_ROOT, host_client
from tests.testkit.browser import check_page

VENDOR = PROJECT_ROOT / "platform" / "loyalty_platform" / "static" / "vendor"


class _References(HTMLParser):
    """Every URL the page makes the browser load: script src and link href."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def _graphiql_page(client: Client) -> str:
    response = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["localhost", "alpha.localhost"])
def test_graphiql_loads_every_asset_from_this_server(host: str, partner_a: Partner) -> None:
    # given a browser on the coalition host or a partner's host
    client = host_client(host)

    # when it opens /graphql
    page = _graphiql_page(client)

    # then the page names no other host: every script and style is a local static file
    parser = _References()
    parser.feed(page)
    assert len(parser.urls) >= 6, parser.urls  # GraphiQL, React, ReactDOM, explorer, styles
    assert not re.search(r"(?i)(https?:)?//[a-z0-9-]+\.[a-z0-9.-]+", page)
    for url in parser.urls:
        assert url.startswith("/static/"), url
        # and the server actually serves each of them
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert int(asset["Content-Length"]) > 0, url


def test_every_vendored_package_carries_its_licence() -> None:
    # given the vendored browser packages
    packages = [folder for folder in VENDOR.iterdir() if folder.is_dir()]
    assert packages

    # then each folder names its version and keeps its licence next to the files
    for folder in packages:
        assert re.search(r"-\d+\.\d+\.\d+$", folder.name), folder.name
        assert (folder / "LICENSE").is_file(), folder
        assert "Permission is hereby granted" in (folder / "LICENSE").read_text()
    # and the vendor README lists every one of them
    listing = (VENDOR / "README.md").read_text()
    for folder in packages:
        assert f"`{folder.name}/`" in listing


@pytest.mark.slow
def test_graphiql_renders_in_a_browser_with_no_outside_request(
    browser_page: Any, partner_a: Partner
) -> None:
    # given a browser that refuses every request leaving the machine
    page = browser_page.page

    # when it opens GraphiQL on a partner's host
    page.goto(browser_page.url("/graphql", host=f"{partner_a.slug}.localhost"))

    # then the editor is drawn, with its headers editor for the API key
    page.wait_for_selector(".graphiql-container", timeout=20_000)
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("Headers").first.is_visible()
    # and nothing was fetched from outside, and no script failed
    assert not browser_page.outside_requests, browser_page.outside_requests
    assert not browser_page.console_errors, browser_page.console_errors


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_graphiql_passes_the_accessibility_check(
    browser_page: Any, partner_a: Partner, scheme: str
) -> None:
    # given a developer opening GraphiQL on a partner's host, in either theme
    page = browser_page.page
    page.emulate_media(color_scheme=scheme)
    page.goto(browser_page.url("/graphql", host=f"{partner_a.slug}.localhost"))
    page.wait_for_selector(".graphiql-container", timeout=20_000)

    # then each editor has a name a screen reader reads out
    for name in ("GraphQL query", "Variables (JSON)", "Request headers (JSON)", "Result"):
        page.get_by_label(name, exact=True).wait_for(state="attached", timeout=5_000)
    # and the page passes the check every page passes (no serious or critical
    # axe-core finding, nothing fetched from outside), at desktop and phone widths
    check_page(browser_page, f"graphiql-{scheme}")


@pytest.mark.slow
def test_on_a_phone_the_result_shows_below_the_query(browser_page: Any, partner_a: Partner) -> None:
    # given a developer on a 375 px screen with a query in GraphiQL
    page = browser_page.page
    page.set_viewport_size({"width": 375, "height": 812})
    url = browser_page.url("/graphql", host=f"{partner_a.slug}.localhost")
    page.goto(url + "#query=%7B%20__typename%20%7D")
    page.wait_for_selector(".graphiql-container", timeout=20_000)

    # when they run it
    page.click(".graphiql-execute-button")

    # then the answer is on the screen, below the editor rather than squeezed
    # beside it to no width
    answer = page.locator(".result-window").get_by_text("PartnerQuery")
    answer.wait_for(state="visible", timeout=10_000)
    box = answer.bounding_box()
    editor = page.locator(".graphiql-query-editor").bounding_box()
    assert box is not None
    assert editor is not None
    assert box["y"] > editor["y"] + editor["height"] - 1
    assert box["x"] + box["width"] <= 375
