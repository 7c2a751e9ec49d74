"""The examples in the README and the docs, as data: fenced code blocks, and
for a GraphQL block the address and credential its first comment lines name.

A GraphQL example block starts with two comment lines a person reads too:

    # POST http://freshmart.localhost:8000/graphql
    # Authorization: Bearer <freshmart key>

The credential is ``<SLUG key>`` (a partner key), ``<operator key>``, or
``<member token of NUMBER>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tests.testkit import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
API_GUIDE = PROJECT_ROOT / "docs" / "api.md"

# The README's first block: the two commands; `demo` is what the test starts,
# `test` is what CI runs, so neither is run again from here.
TWO_COMMANDS = (
    "./loyalty demo     # run the platform: embedded PostgreSQL, demo coalition, web server\n"
    "./loyalty test     # lint, format, types, layer contracts, migrations check, test suite\n"
)

_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_ADDRESS = re.compile(r"^# POST (http://[^\s]+/graphql)\s*$", re.MULTILINE)
_CREDENTIAL = re.compile(r"^# Authorization: Bearer <([^>]+)>", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(PROJECT_ROOT)}:{self.line}"


@dataclass(frozen=True)
class GraphQLExample:
    block: Block
    host: str
    path: str
    credential: str  # "freshmart key", "operator key", "member token of 1000000016"


def fenced_blocks(path: Path) -> list[Block]:
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2))
        for match in _FENCE.finditer(text)
    ]


def graphql_example(block: Block) -> GraphQLExample:
    address = _ADDRESS.search(block.text)
    credential = _CREDENTIAL.search(block.text)
    if address is None or credential is None:
        raise ValueError(
            f"{block.where}: a GraphQL example starts with '# POST http://HOST:8000/graphql' "
            "and '# Authorization: Bearer <...>'"
        )
    url = urlsplit(address.group(1))
    return GraphQLExample(block, url.hostname or "", url.path, credential.group(1))
