"""The self-contained HTML cards (jinja2, autoescape on: benchmark and model text never runs).

One file, no network: CSS, script, chart (SVG) and plots (``data:`` PNG) are inline. The page's
Content-Security-Policy allows exactly the card's own stylesheet and script, by SHA-256 hash, and
``data:`` images; nothing else loads or runs, not even if escaping were ever to fail.
"""
from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import jinja2
from markupsafe import Markup

from deepsight_pytest.core.regression import DEFAULT_ALPHA, DEFAULT_MARGIN
from deepsight_pytest.reporting.card import card_context
from deepsight_pytest.reporting.compare import compare_context
from deepsight_pytest.reporting.casepack import CardLimits
from deepsight_pytest.reporting.embed import fill, forget_pending, script_json
from deepsight_pytest.reporting.portable import portable
from deepsight_pytest.reporting.results import RunResults

TEMPLATES = Path(__file__).parent / "templates"
ASSETS = Path(__file__).parent / "assets"


@lru_cache(maxsize=None)
def _asset(name: str) -> tuple[Markup, str]:
    """An asset's text (trusted: shipped with the package) and its CSP source expression."""
    text = (ASSETS / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"'sha256-{digest}'"  # noqa: S704 - package asset, not user data


def csp() -> str:
    _, style = _asset("card.css")
    _, script = _asset("card.js")
    return (f"default-src 'none'; style-src {style}; script-src {script}; img-src data:; "
            "base-uri 'none'; form-action 'none'")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["ratio"] = _ratio
    env.globals.update(csp=csp, asset=lambda name: _asset(name)[0], script_json=script_json)
    return env


def _pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def stream(template: str, context: dict[str, Any], write: Callable[[str], Any]) -> None:
    """Render chunk by chunk (``Template.generate``), the case data written in pieces in its place:
    a large card is never one string in memory."""
    try:
        for chunk in environment().get_template(template).generate(**context):
            fill(chunk, write)
    finally:
        forget_pending()


def render(template: str, context: dict[str, Any]) -> str:
    parts: list[str] = []
    stream(template, context, parts.append)
    return "".join(parts)


def render_html(results: RunResults, search: Sequence[Path] = (), limits: CardLimits = CardLimits()) -> str:
    """The model card of one run."""
    return render("report.html.j2", card_context(results, [*search, Path.cwd()], limits))


def write_card(path: Path, results: RunResults, roots: Iterable[Path | None] = ()) -> None:
    """The report writer's form (:mod:`.writers`): the card for the run, this machine's ``roots``
    written relative to it."""
    write_html(path, results, roots=roots)


def write_html(path: Path, results: RunResults, search: Sequence[Path] = (), roots: Iterable[Path | None] = ()) -> None:
    """Streamed to a temporary file beside ``path``, then moved into place (no half card); this
    machine's paths are written relative to the card's folder as each chunk goes out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    local, keep = portable(path.parent, roots), _kept_assets()
    try:
        with part.open("w", encoding="utf-8") as handle:
            stream("report.html.j2", card_context(results, [*search, Path.cwd()]),
                   lambda chunk: handle.write(_localised(chunk, local, keep)))
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def portable_page(page: str, folder: Path, roots: Iterable[Path | None] = ()) -> str:
    """The page with this machine's paths relative to ``folder``; the inlined assets are left
    byte for byte (the CSP names them by hash)."""
    return _localised(page, portable(folder, roots), _kept_assets())


def _kept_assets() -> list[str]:
    return [text for text in (str(_asset("card.js")[0]), str(_asset("card.css")[0])) if text]


def _localised(text: str, local: Callable[[str], str], keep: list[str]) -> str:
    """``local`` over ``text`` except the inlined assets (a streamed chunk holds an asset whole:
    it is one template variable)."""
    pieces = [text]
    for asset in keep:
        if asset in text:
            pieces = [part for piece in pieces for part in _split_keeping(piece, asset)]
    return "".join(piece if piece in keep else local(piece) for piece in pieces)


def _split_keeping(text: str, separator: str) -> list[str]:
    parts = text.split(separator)
    out = [parts[0]]
    for part in parts[1:]:
        out += [separator, part]
    return out


def render_compare(a: RunResults, b: RunResults, names: tuple[str, str], search: Sequence[Path] = (),
                   margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA) -> str:
    """The side-by-side card of run B against run A."""
    return render("compare.html.j2", compare_context(a, b, names, [*search, Path.cwd()], margin, alpha))
