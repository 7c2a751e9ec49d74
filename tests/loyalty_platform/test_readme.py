"""The README as the front door: its links lead somewhere, its tables name every
setting and command there is, and every code block in it is either the two
commands or an example that tests/loyalty_platform/test_readme_examples.py runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands

from tests.testkit import PROJECT_ROOT
from tests.testkit.readme import (
    API_GUIDE,
    README,
    TWO_COMMANDS,
    fenced_blocks,
    graphql_example,
)

DOCS = [
    README,
    API_GUIDE,
    *sorted((PROJECT_ROOT / "docs").glob("*.md")),
    PROJECT_ROOT / "CONTRIBUTING.md",
]
OWN_COMMAND_APPS = ("loyalty_platform", "loyalty_graphql", "loyalty_web", "coalition.", "tenants.")


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("document", DOCS, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_relative_links_lead_to_files_that_exist(document: Path) -> None:
    path = document
    # given every markdown link that is not a web address
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        # then it names a file or folder of the repository
        assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: {target}"


def test_the_readme_links_the_design_documents() -> None:
    text = README.read_text()
    for document in ("docs/architecture.md", "docs/adr/", "CONTRIBUTING.md", "CHANGELOG.md"):
        assert f"({document}" in text, document


def test_the_configuration_table_names_every_setting_read_from_the_environment() -> None:
    # given every environment variable the settings and the embedded database read
    sources = [
        PROJECT_ROOT / "platform" / "loyalty_platform" / name
        for name in ("settings.py", "embedded_db.py", "cli.py")
    ] + [PROJECT_ROOT / "platform" / "loyalty_platform" / "management" / "commands" / "serve.py"]
    read = set()
    for source in sources:
        read |= set(re.findall(r"""env_\w+\(\s*["']([A-Z][A-Z0-9_]+)["']""", source.read_text()))
        read |= set(
            re.findall(r"""environ\.get\(\s*["']([A-Z][A-Z0-9_]+)["']""", source.read_text())
        )
    internal = {"DJANGO_SETTINGS_MODULE", "LOYALTY_EMBEDDED_DB"}
    assert {"DATABASE_URL", "SECRET_KEY", "STATIC_ROOT", "BIND"} <= read

    # then the README's configuration table names each of them
    table = _section("Configuration")
    missing = sorted(name for name in read - internal if f"`{name}`" not in table)
    assert not missing, missing


@pytest.mark.django_db
def test_the_command_table_lists_every_command_of_the_project() -> None:
    # given the project's own management commands, plus ours outside Django
    own = {
        name.replace("_", "-")
        for name, app in get_commands().items()
        if app.startswith(OWN_COMMAND_APPS)
    }
    own = (own - {"migrate-platform"}) | {"migrate", "test", "bench"}

    # then the README's command table has a row for each
    table = _section("Commands")
    missing = sorted(word for word in own if f"`loyalty {word}" not in table)
    assert not missing, missing


@pytest.mark.parametrize("document", [README, API_GUIDE], ids=["README.md", "docs/api.md"])
def test_every_code_block_is_an_example_that_runs(document: Path) -> None:
    # given the fenced code blocks of the document
    blocks = fenced_blocks(document)
    assert blocks

    # then each is a runnable example: a shell session or a GraphQL document that says
    # where it goes (the README's first block, the two commands, is the one exception)
    for block in blocks:
        if document == README and block.text == TWO_COMMANDS:
            continue
        assert block.language in {"sh", "graphql"}, f"{block.where}: ```{block.language}"
        if block.language == "graphql":
            example = graphql_example(block)
            assert example.host.endswith("localhost"), block.where
    if document == README:
        assert blocks[0].text == TWO_COMMANDS
        assert sum(block.language == "graphql" for block in blocks) >= 2
