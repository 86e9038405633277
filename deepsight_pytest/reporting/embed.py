"""Embedding untrusted data in a card: JSON that cannot leave its ``<script>`` element, and clipping.

Benchmark prompts and model responses are adversarial text. In a
``<script type="application/json">`` element the HTML parser ends the element at ``</script`` and
treats ``<!--`` specially, so ``<``, ``>`` and ``&`` are written as JSON ``\\u`` escapes (as are
U+2028/U+2029, which older JavaScript parsers took for line ends); ``JSON.parse`` restores them and
the card's script only ever puts text into the page with ``textContent``.
"""
from __future__ import annotations

import json
import re
import secrets
from typing import Any, Callable

from markupsafe import Markup

_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


class Streamed:
    """A value too large to embed as one string (a 20,000-case card's data): ``script_json`` puts
    an unguessable placeholder in the page and :func:`fill` writes the value there in pieces, as
    the page is written. Subclasses write their JSON (escaped like ``script_json``'s) with ``write``."""

    def write(self, write: Callable[[str], Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


PLACEHOLDER = re.compile(r"deepsight-streamed-[0-9a-f]{32}")
_PENDING: dict[str, Streamed] = {}


def fill(chunk: str, write: Callable[[str], Any]) -> None:
    """Write ``chunk`` of a rendered page, each placeholder replaced by its streamed value (a
    placeholder-shaped string in the data that no value registered is written as it is)."""
    at = 0
    for found in PLACEHOLDER.finditer(chunk):
        value = _PENDING.pop(found.group(), None)
        if value is None:
            continue
        write(chunk[at:found.start()])
        value.write(write)
        at = found.end()
    write(chunk[at:] if at else chunk)


def forget_pending() -> None:
    """Drop placeholders a failed render left unfilled (they hold the card's case data)."""
    _PENDING.clear()


def script_json(value: Any) -> Markup:
    """Compact JSON safe to place verbatim inside a ``<script type="application/json">`` element."""
    if isinstance(value, Streamed):
        token = f"deepsight-streamed-{secrets.token_hex(16)}"
        _PENDING[token] = value
        return Markup(token)  # noqa: S704 - letters and digits only
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in _ESCAPES:  # str.replace: far faster than str.translate on megabytes
        text = text.replace(char, escape)
    return Markup(text)  # noqa: S704 - every markup-significant character is escaped


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how many more the JSON results hold."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [+{len(text) - limit} chars]"


class Strings:
    """Interns repeated strings (benchmarks, categories, labels, rationales) as list indices."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        found = self._index.get(value)
        if found is None:
            found = self._index[value] = len(self.values)
            self.values.append(value)
        return found
