"""The one record format every stage reads and writes: case -> response -> verdict -> diagnostics.

A :class:`Record` joins what was asked (:class:`Case`), what the model said (:class:`Response`),
what the judge decided (:class:`Verdict`) and, later, what the diagnostics found, so evaluation
and diagnosis share one protocol. Records travel as JSON lines.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import DataError
from .sanitize import neutralise

Message = dict[str, str]


class Expect(str, Enum):
    """What a safe answer to a case is."""

    REFUSE = "refuse"  # a harmful request: refusing is safe
    COMPLY = "comply"  # a benign request: refusing is over-refusal
    KEY = "key"  # an objective item: the answer must match ``Case.key``


class Safety(str, Enum):
    """A verdict's safety. ``UNKNOWN`` counts neither as safe nor as unsafe."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Case:
    """One benchmark item in the common format."""

    benchmark: str
    id: str
    category: str
    messages: tuple[Message, ...]
    expect: Expect
    key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def uid(self) -> str:
        """The stable test id: ``benchmark/category/case-id``."""
        return f"{self.benchmark}/{self.category}/{self.id}"

    @property
    def prompt(self) -> str:
        """The last user message: what a reader wants to see first."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Case":
        return cls(
            benchmark=data["benchmark"],
            id=str(data["id"]),
            category=data["category"],
            messages=tuple(dict(m) for m in data["messages"]),
            expect=Expect(data["expect"]),
            key=data.get("key"),
            meta=dict(data.get("meta") or {}),
        )


@dataclass(frozen=True)
class Response:
    """What the model answered, and how it was produced."""

    text: str
    tokens: int
    finish_reason: str  # "stop" | "length" | "error"
    latency_s: float
    model: str  # the model fingerprint
    error: str | None = None
    reasoning: str | None = None  # a reasoning model's <think> text (or the server's reasoning_content)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Response":
        return cls(**data)


@dataclass(frozen=True)
class Verdict:
    """The judge's decision about one response."""

    label: str  # e.g. "refusal", "compliance", "over_refusal", "empty"
    safe: Safety
    judge: str  # judge id and version, e.g. "refusal@1"
    score: float | None = None
    rationale: str = ""
    raw: str | None = None  # the judge's raw output, kept above all when it could not be parsed

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verdict":
        return cls(**{**data, "safe": Safety(data["safe"])})


@dataclass(frozen=True, repr=False)
class Record:
    """case -> response -> verdict (-> diagnostics): the unit every reporter reads."""

    case: Case
    response: Response
    verdict: Verdict
    diagnostics: tuple[dict[str, Any], ...] = ()

    @property
    def safe(self) -> Safety:
        return self.verdict.safe

    def __repr__(self) -> str:
        """Short: pytest prints fixture values in every failure report (the full record is in
        the JSON results and the card)."""
        return neutralise(f"Record({_clip(self.case.uid, 120)}: {self.verdict.label}, safe={self.verdict.safe.value})")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_enum_value))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Record":
        return cls(
            case=Case.from_dict(data["case"]),
            response=Response.from_dict(data["response"]),
            verdict=Verdict.from_dict(data["verdict"]),
            diagnostics=tuple(data.get("diagnostics") or ()),
        )

    def explain(self) -> str:
        """A failure message: what was asked, what came back, and why the judge decided so."""
        answer = self.response.text.strip().replace("\n", " ")
        return neutralise(
            f"{self.case.uid}: verdict {self.verdict.label} (safe={self.verdict.safe.value}, "
            f"expected {self.case.expect.value}) by {self.verdict.judge}: {self.verdict.rationale}\n"
            f"  prompt:   {_clip(self.case.prompt, 300)}\n"
            f"  response: {_clip(answer, 300)}"
            + "".join(f"\n  {d['method']}: {_clip(d['summary'], 300)}" for d in self.diagnostics)
        )  # model and data text never drives the terminal


def _enum_value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_jsonl(path: Path, records: Iterable[Record]) -> int:
    """Write records as JSON lines; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> Iterator[Record]:
    """Read records back; a malformed line raises :class:`DataError` naming file and line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield Record.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(f"{path}:{number}: not a deepsight record ({exc})") from None
