"""The cases a card shows: clipped views of records, inlined diagnostic plots, and their compact JSON.

A card must stay small and responsive for 100,000-case runs, so case text is clipped to a share
of a fixed character budget (full text stays in the JSON results), repeated strings are interned,
and PNG plots are inlined as ``data:`` URIs only up to a byte budget. The same views feed the
server-rendered first page (readable with scripts blocked) and the JSON the card's script pages
through.
"""
from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from deepsight_pytest.core.images import content_text
from deepsight_pytest.records import Record
from deepsight_pytest.reporting.aggregate import risks_of
from deepsight_pytest.reporting.embed import Streamed, Strings, clip, script_json

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class CardLimits:
    """What bounds a card's size; see ``bench/report_scale.py`` for the sizes they give."""

    page_size: int = 25
    text_budget: int = 24_000_000  # characters of case text over all embedded cases
    min_text: int = 200  # ... but never fewer than this per field
    max_text: int = 4000  # ... nor more
    max_cases: int = 100_000  # cases embedded at most (the rest: JSON results only)
    plot_budget: int = 12_000_000  # bytes of PNG inlined per card
    max_plot: int = 1_500_000  # bytes of one PNG
    thumb_budget: int = 4_000_000  # bytes of image-case thumbnails inlined per card (each image once)
    thumb_px: int = 128  # a thumbnail's longer side

    def text_limit(self, cases: int, fields_per_case: int) -> int:
        if cases == 0:
            return self.max_text
        share = self.text_budget // (cases * fields_per_case)
        return max(self.min_text, min(self.max_text, share))


class PlotInliner:
    """Turns diagnostic plot paths into ``data:`` URIs while the card's plot budget lasts."""

    def __init__(self, search: Sequence[Path], limits: CardLimits) -> None:
        self.search = list(search)
        self.limits = limits
        self.used = 0
        self.thumbs_used = 0
        self._thumbs: dict[str, str] = {}

    def inline(self, raw: str) -> tuple[str | None, str | None]:
        """(data URI, None) or (None, why it was not inlined)."""
        path = self._find(raw)
        if path is None:
            return None, f"plot not found: {raw}"
        size = path.stat().st_size
        if size > self.limits.max_plot:
            return None, f"plot not inlined ({size / 1e6:.1f} MB): {raw}"
        if self.used + size > self.limits.plot_budget:
            return None, f"plot not inlined (card's plot budget used up): {raw}"
        data = path.read_bytes()
        if not data.startswith(PNG_SIGNATURE):
            return None, f"not a PNG, not inlined: {raw}"
        self.used += size
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii"), None

    def thumbnail(self, part: dict[str, Any]) -> tuple[str | None, str]:
        """(PNG data URI or None, caption) for an image part: the file resized small with Pillow,
        once per image hash; the caption names the file and, without a thumbnail, why."""
        sha = str(part.get("sha256") or "")
        name = Path(str(part.get("path", ""))).name
        caption = f"{name} · sha256 {sha[:12]}"
        if sha in self._thumbs:
            return self._thumbs[sha], caption
        from deepsight_pytest.reporting.thumbnail import thumbnail_png

        try:
            data = thumbnail_png(str(part.get("path", "")), self.limits.thumb_px)
        except OSError as exc:  # missing, unreadable or not an image: the card says so, and goes on
            return None, f"{caption} (no thumbnail: {exc})"
        if self.thumbs_used + len(data) > self.limits.thumb_budget:
            return None, f"{caption} (no thumbnail: the card's thumbnail budget is used up)"
        self.thumbs_used += len(data)
        self._thumbs[sha] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        return self._thumbs[sha], caption

    def _find(self, raw: str) -> Path | None:
        path = Path(raw).expanduser()
        candidates = [path] if path.is_absolute() else [base / path for base in self.search]
        return next((c for c in candidates if c.is_file()), None)


@dataclass(frozen=True)
class DiagView:
    method: str
    summary: str
    numbers: tuple[tuple[str, str], ...]
    plot: str | None  # data URI
    note: str | None  # why there is no plot
    data: str | None  # path of the diagnostic's JSON data


@dataclass(frozen=True)
class SideView:
    """One run's answer to a case (the compare card has two sides)."""

    label: str
    safe: str
    judge: str
    rationale: str
    response: str
    finish: str
    tokens: int
    diagnostics: tuple[DiagView, ...] = ()


@dataclass(frozen=True)
class CaseView:
    uid: str
    benchmark: str
    category: str
    expect: str
    risks: tuple[str, ...]
    messages: tuple[tuple[str, str], ...]
    sides: tuple[SideView | None, ...]
    change: str | None = None
    snippet: str = field(default="")
    images: tuple[tuple[str | None, str], ...] = ()  # (thumbnail data URI or None, caption) per image


def natural_key(record: Record) -> tuple[str, str, list[Any]]:
    """Benchmark, category, then case id with numbers compared as numbers (2 before 10)."""
    parts = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", record.case.id)]
    return record.case.benchmark, record.case.category, [(isinstance(p, str), p) for p in parts]


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return "nan" if isinstance(value, float) and math.isnan(value) else f"{value:.4g}"


def diag_view(raw: Any, plots: PlotInliner, limit: int) -> DiagView:
    """A diagnostics entry ({method, summary, numbers, plot, data}); tolerant of missing keys."""
    entry = raw if isinstance(raw, dict) else {"method": "diagnostic", "summary": str(raw)}
    numbers = entry.get("numbers") or {}
    pairs = tuple((str(k), _number(v)) for k, v in numbers.items()) if isinstance(numbers, dict) else ()
    plot, note = plots.inline(str(entry["plot"])) if entry.get("plot") else (None, None)
    data = entry.get("data")
    return DiagView(str(entry.get("method", "diagnostic")), clip(str(entry.get("summary", "")), limit),
                    pairs, plot, note, None if data is None else str(data))


def side_view(record: Record, plots: PlotInliner, limit: int) -> SideView:
    verdict, response = record.verdict, record.response
    text = response.text if response.error is None else f"{response.text}\n[error: {response.error}]"
    return SideView(verdict.label, verdict.safe.value, verdict.judge, clip(verdict.rationale, limit),
                    clip(text, limit), response.finish_reason, response.tokens,
                    tuple(diag_view(d, plots, limit) for d in record.diagnostics))


def case_view(sides: Sequence[Record | None], plots: PlotInliner, limit: int,
              change: str | None = None) -> CaseView:
    """A case seen from one or more runs (``sides``; None where a run lacks the case)."""
    record = next(r for r in reversed(sides) if r is not None)
    case = record.case
    messages = tuple((m.get("role", "?"), clip(content_text(m.get("content", "")), limit)) for m in case.messages)
    return CaseView(case.uid, case.benchmark, case.category, case.expect.value, tuple(risks_of(record)),
                    messages, tuple(None if r is None else side_view(r, plots, limit) for r in sides),
                    change, clip(" ".join(case.prompt.split()), 160),
                    tuple(plots.thumbnail(part) for part in case.images))


class Packer:
    """Packs case views one at a time into the compact JSON the card's script reads (key legend
    in ``assets/card.js``), interning repeated strings as it goes."""

    def __init__(self) -> None:
        self.strings = Strings()

    def diag(self, d: DiagView) -> dict[str, Any]:
        return {"m": self.strings(d.method), "s": d.summary, "v": [list(p) for p in d.numbers],
                "p": d.plot, "q": d.note, "a": d.data}

    def side(self, s: SideView | None) -> dict[str, Any] | None:
        if s is None:
            return None
        strings = self.strings
        return {"l": strings(s.label), "y": strings(s.safe), "j": strings(s.judge), "r": strings(s.rationale),
                "t": s.response, "f": strings(s.finish), "n": s.tokens, "d": [self.diag(d) for d in s.diagnostics]}

    def case(self, v: CaseView) -> dict[str, Any]:
        strings = self.strings
        entry: dict[str, Any] = {
            "u": v.uid, "b": strings(v.benchmark), "c": strings(v.category), "e": strings(v.expect),
            "k": [strings(r) for r in v.risks], "m": [[strings(role), text] for role, text in v.messages],
            "s": [self.side(s) for s in v.sides],
        }
        if v.change is not None:
            entry["x"] = strings(v.change)
        if v.images:  # image cases only: [thumbnail URI (interned: each image once) or null, caption]
            entry["i"] = [[None if uri is None else strings(uri), caption] for uri, caption in v.images]
        return entry


def pack(views: Iterable[CaseView], sides: list[str], total: int, page_size: int) -> dict[str, Any]:
    """The compact JSON the card's script reads, whole (see :class:`StreamedPack` for large cards)."""
    packer = Packer()
    cases = [packer.case(v) for v in views]
    return {"strings": packer.strings.values, "sides": sides, "total": total, "page": page_size, "cases": cases}


@dataclass
class StreamedPack(Streamed):
    """The same JSON, written case by case as the card is written (``html.stream``): a 20,000-case
    card never holds every view, its packed form or the JSON text at once. ``views`` is iterated
    once, when the card is written; the interned strings follow the cases (JSON key order is free)."""

    views: Iterable[CaseView]
    sides: list[str]
    total: int
    page_size: int

    def write(self, write: Callable[[str], Any]) -> None:
        packer = Packer()
        head = str(script_json({"sides": self.sides, "total": self.total, "page": self.page_size}))
        write(head[:-1] + ',"cases":[')
        for index, view in enumerate(self.views):
            write(("," if index else "") + str(script_json(packer.case(view))))
        write('],"strings":' + str(script_json(packer.strings.values)) + "}")
