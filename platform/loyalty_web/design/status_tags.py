"""A state shown as a coloured tag in a list: its key, its words and the tag's CSS
class, looked up in a page's table of (words, class) by state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def status_tag(words: Mapping[Any, tuple[Any, str]], key: str) -> dict[str, str]:
    """The tag of ``key``; a state the table does not know shows as its key, untagged."""
    label, css = words.get(key, (key, ""))
    return {"key": key, "label": str(label), "css": css}
