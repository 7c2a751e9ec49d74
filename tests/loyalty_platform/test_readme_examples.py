"""Every example in the README and in docs/api.md, run as written against a
freshly started `./loyalty demo` (nothing configured, a data folder of its own),
in the order a reader meets them, plus what a newcomer does next to the demo in a
second terminal. The examples cannot rot: a changed API, seed or command fails
here."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from tests.testkit import PROJECT_ROOT
from tests.testkit.demo import Demo, running_demo
from tests.testkit.readme import (
    API_GUIDE,
    README,
    TWO_COMMANDS,
    Block,
    fenced_blocks,
    graphql_example,
)

pytestmark = pytest.mark.slow

README_PORT = ":8000"


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with running_demo() as started:
        yield started


class Credentials:
    """The keys and tokens the examples name, made the way the docs say."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.known: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self.known:
            self.known[name] = self._make(name)
        return self.known[name]

    def _make(self, name: str) -> str:
        if match := re.fullmatch(r"member token of (\d+)", name):
            reply = self.demo.fetch(
                "/graphql", host="freshmart.localhost", accept="application/json",
                headers={"Authorization": f"Bearer {self('freshmart key')}"},
                query='mutation($n: String!) { issueMemberToken(idempotencyKey: "examples", '
                "memberNumber: $n) { token errors { code message } } }",
                variables={"n": match.group(1)},
            )  # fmt: skip
            token = reply.json()["data"]["issueMemberToken"]["token"]
            assert token, reply.body
            return str(token)
        match = re.fullmatch(r"(operator|[a-z][a-z0-9-]+) key", name)
        assert match, f"unknown credential <{name}>"
        who = match.group(1)
        scope = ["--operator"] if who == "operator" else ["--partner", who]
        made = self.demo.loyalty("create-api-key", f"examples-{who}", *scope)
        assert made.returncode == 0, made.stdout + made.stderr
        return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def credentials(demo: Demo) -> Credentials:
    return Credentials(demo)


def _payload_errors(value: Any, path: str = "") -> list[str]:
    """Every non-empty `errors` list in an answer, with where it is."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "errors" and item:
                found.append(f"{path or '.'}: {item}")
            else:
                found += _payload_errors(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _payload_errors(item, f"{path}[{index}]")
    return found


def _json_documents(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    documents, index = [], 0
    while index < len(text):
        if text[index] in "{[":
            document, index = decoder.raw_decode(text, index)
            documents.append(document)
        else:
            index += 1
    return documents


def _run_shell(demo: Demo, block: Block) -> None:
    script = block.text.replace(README_PORT, f":{demo.port}")
    result = subprocess.run(
        ["bash", "-eu", "-o", "pipefail", "-c", script],
        cwd=PROJECT_ROOT, env=demo.env(), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{block.where}: exit {result.returncode}\n{result.stderr}"
    answers = _json_documents(result.stdout)
    assert answers, f"{block.where}: printed no JSON answer:\n{result.stdout}\n{result.stderr}"
    for answer in answers:
        assert not _payload_errors(answer), f"{block.where}: {answer}"


def _run_graphql(demo: Demo, block: Block, credentials: Credentials) -> list[str]:
    example = graphql_example(block)
    document = parse(block.text)
    names = []
    for operation in document.definitions:
        assert isinstance(operation, OperationDefinitionNode), block.where
        assert operation.name is not None, f"{block.where}: name every operation"
        name = operation.name.value
        reply = demo.fetch(
            example.path, host=example.host, accept="application/json", query=block.text,
            operation=name, headers={"Authorization": f"Bearer {credentials(example.credential)}"},
        )  # fmt: skip
        assert reply.status == 200, f"{block.where} {name}: HTTP {reply.status} {reply.body}"
        answer = reply.json()
        assert answer.get("data"), f"{block.where} {name}: {answer}"
        assert not _payload_errors(answer), f"{block.where} {name}: {answer}"
        names.append(name)
    return names


def _run_examples(demo: Demo, credentials: Credentials, blocks: list[Block]) -> list[str]:
    ran = []
    for block in blocks:
        if block.text == TWO_COMMANDS:
            continue  # `demo` is running; `test` is what CI runs
        if block.language == "sh":
            _run_shell(demo, block)
            ran.append(block.where)
        else:
            ran += _run_graphql(demo, block, credentials)
    return ran


def test_every_readme_example_runs_against_a_fresh_demo(
    demo: Demo, credentials: Credentials
) -> None:
    # given a demo started the way the README starts it
    # when each example of the README runs as written, in order
    ran = _run_examples(demo, credentials, fenced_blocks(README))

    # then every one answered without an error (checked as each ran), including the
    # purchase, the reward and the points payment of the demo's member
    for name in ("Purchase", "Member", "Redeem", "Pay", "Capture", "Liability"):
        assert name in ran


def test_every_api_guide_example_runs_against_the_demo(
    demo: Demo, credentials: Credentials
) -> None:
    # when each example of docs/api.md runs as written, in order
    ran = _run_examples(demo, credentials, fenced_blocks(API_GUIDE))

    # then every one answered without an error
    for name in ("Earned", "Hook", "Unhook", "Token", "Me", "Give", "Donate", "Charities"):
        assert name in ran


def test_commands_next_to_the_demo_use_its_data_and_secret(demo: Demo) -> None:
    # given the demo running, and a second terminal with nothing configured
    # when the newcomer runs the commands the README mentions
    doctor = demo.loyalty("doctor")
    superuser = demo.loyalty(
        "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com",
        DJANGO_SUPERUSER_PASSWORD="a long demo password",
    )  # fmt: skip
    key = demo.loyalty("create-api-key", "second-terminal", "--partner", "skyway")
    help_text = demo.loyalty("--help")

    # then each works on the demo's database with the demo's secret key
    for result in (doctor, superuser, key, help_text):
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SECRET_KEY" not in result.stderr
    assert "OK    security    DEBUG off, SECRET_KEY set" in doctor.stdout
    assert "embedded PostgreSQL in" in doctor.stdout
    assert "4 partner schemas current" in doctor.stdout
    assert key.stdout.strip().splitlines()[-1].startswith("lk_")
    assert "createsuperuser" in help_text.stdout
    # and the operator can sign in to the admin the README points at
    login = demo.fetch("/admin/login/")
    assert login.status == 200


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def test_graphiql_is_served_whole_by_the_demo(demo: Demo) -> None:
    # when a browser opens GraphiQL on the demo (DEBUG off, as in production)
    page = demo.fetch("/graphql", host="freshmart.localhost", accept="text/html")

    # then every asset it names is on this server and served
    assert page.status == 200
    parser = _Assets()
    parser.feed(page.body)
    assert parser.urls
    for url in parser.urls:
        assert url.startswith("/static/"), url
        asset = demo.fetch(url)
        assert asset.status == 200, url


def test_the_demo_starts_without_warnings(demo: Demo) -> None:
    # given the demo's output from its start (migrate, seed, serve) until now
    log = demo.log_text(tail=1_000_000)

    # then nothing in it asks for attention: no warning and no traceback
    assert "Demo coalition ready." in log
    assert "No hostname was supplied" not in log
    assert "No directory at" not in log
    for line in log.splitlines():
        assert "WARNING" not in line, line
        assert "Warning:" not in line, line
    assert "Traceback" not in log
