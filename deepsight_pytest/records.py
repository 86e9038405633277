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

from deepsight_pytest.errors import DataError
from deepsight_pytest.core.images import content_text, images_of
from deepsight_pytest.core.sanitize import neutralise

#: ``{"role": ..., "content": ...}``; content is text, or a list of parts (``images.py``)
Message = dict[str, Any]


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
    condition: str | None = None  # the condition it was asked under (``conditions.py``), if any
    # later user turns of a scripted conversation, each sent after the model's own previous answer
    followups: tuple[str, ...] = ()
    # a dialogue with a partner model (--safety-partner-model): its role (system prompt) and how many
    # later user turns it writes, each after the model's answer, once the scripted followups are sent
    partner: str | None = None
    partner_turns: int = 0
    partner_question: str | None = None  # asked of the partner once the dialogue ends (its 1-10 opinion)

    @property
    def uid(self) -> str:
        """The stable test id: ``benchmark/category/case-id``, plus ``@condition`` under one."""
        return self.item_uid if self.condition is None else f"{self.item_uid}@{self.condition}"

    @property
    def item_uid(self) -> str:
        """The item's id whatever the condition: what pairs a case's conditioned twins."""
        return f"{self.benchmark}/{self.category}/{self.id}"

    @property
    def group(self) -> str:
        """What a gate counts over: the category, or ``category@condition`` under a condition."""
        return self.category if self.condition is None else f"{self.category}@{self.condition}"

    @property
    def prompt(self) -> str:
        """The last user message: what a reader wants to see first (a multi-turn case's last turn)."""
        if self.followups:
            return self.followups[-1]
        return next((content_text(m["content"]) for m in reversed(self.messages) if m["role"] == "user"), "")

    @property
    def images(self) -> list[dict[str, str]]:
        """The case's image parts (path + sha256), in message order; none for a text case."""
        return images_of(self.messages)

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
            condition=data.get("condition"),
            followups=tuple(data.get("followups") or ()),
            partner=data.get("partner"),
            partner_turns=int(data.get("partner_turns") or 0),
            partner_question=data.get("partner_question"),
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
    turns: tuple[str, ...] = ()  # a multi-turn case: the model's earlier answers, before this last one
    # the later user turns as sent, when a partner model wrote some (else they are the case's followups)
    user_turns: tuple[str, ...] = ()
    partner_answer: str | None = None  # the partner's answer to the case's partner_question

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Response":
        return cls(**{**data, "turns": tuple(data.get("turns") or ()),
                      "user_turns": tuple(data.get("user_turns") or ())})

    def conversation(self, case: "Case") -> list[Message]:
        """The whole conversation: the case's messages, then each answer and the next user turn."""
        messages = list(case.messages)
        for answer, followup in zip(self.turns, self.user_turns or case.followups):
            messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": followup}]
        return messages + [{"role": "assistant", "content": self.text}]


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


@dataclass(frozen=True)
class Sample:
    """One of the K sampled answers to a case (``--safety-samples``) and its verdict."""

    response: Response
    verdict: Verdict

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Sample":
        return cls(Response.from_dict(data["response"]), Verdict.from_dict(data["verdict"]))


@dataclass(frozen=True, repr=False)
class Record:
    """case -> response -> verdict (-> diagnostics): the unit every reporter reads.

    With ``--safety-samples K > 1``, ``samples`` holds all K answers with their verdicts (the
    first is also ``response`` / ``verdict``, which every per-answer reader keeps reading)."""

    case: Case
    response: Response
    verdict: Verdict
    diagnostics: tuple[dict[str, Any], ...] = ()
    samples: tuple[Sample, ...] = ()

    @property
    def safe(self) -> Safety:
        return self.verdict.safe

    def __repr__(self) -> str:
        """Short: pytest prints fixture values in every failure report (the full record is in
        the JSON results and the card)."""
        return neutralise(f"Record({_clip(self.case.uid, 120)}: {self.verdict.label}, safe={self.verdict.safe.value})")

    @property
    def answers(self) -> tuple[Sample, ...]:
        """Every answer of this case: the K samples, or the one response."""
        return self.samples or (Sample(self.response, self.verdict),)

    @property
    def safeties(self) -> list[Safety]:
        """The safety of each answer (one per sample)."""
        return [a.verdict.safe for a in self.answers]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps(asdict(self), default=_enum_value))
        if not self.samples:  # one answer: the record format of greedy runs, unchanged
            del data["samples"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Record":
        return cls(
            case=Case.from_dict(data["case"]),
            response=Response.from_dict(data["response"]),
            verdict=Verdict.from_dict(data["verdict"]),
            diagnostics=tuple(data.get("diagnostics") or ()),
            samples=tuple(Sample.from_dict(s) for s in data.get("samples") or ()),
        )

    def explain(self) -> str:
        """A failure message: what was asked, what came back, and why the judge decided so."""
        if self.samples:
            return self._explain_samples()
        answer = self.response.text.strip().replace("\n", " ")
        return neutralise(
            f"{self.case.uid}: verdict {self.verdict.label} (safe={self.verdict.safe.value}, "
            f"expected {self.case.expect.value}) by {self.verdict.judge}: {self.verdict.rationale}\n"
            f"  prompt:   {_clip(self.case.prompt, 300)}\n"
            + "".join(f"  image:    {_clip(str(p.get('path')), 200)} (sha256 {str(p.get('sha256'))[:12]})\n"
                      for p in self.case.images)
            + f"  response: {_clip(answer, 300)}"
            + "".join(f"\n  {d['method']}: {_clip(d['summary'], 300)}" for d in self.diagnostics)
        )  # model and data text never drives the terminal

    def _explain_samples(self) -> str:
        unsafe = [i for i, a in enumerate(self.samples) if a.verdict.safe is Safety.NO]
        lines = [f"{self.case.uid}: {len(unsafe)} of {len(self.samples)} sampled answers unsafe "
                 f"(expected {self.case.expect.value}), judged by {self.verdict.judge}",
                 f"  prompt:   {_clip(self.case.prompt, 300)}"]
        for i, answer in enumerate(self.samples):
            text = answer.response.text.strip().replace("\n", " ")
            lines.append(f"  answer {i + 1} ({answer.verdict.label}, safe={answer.verdict.safe.value}): {_clip(text, 200)}")
        lines += [f"  {d['method']}: {_clip(d['summary'], 300)}" for d in self.diagnostics]
        return neutralise("\n".join(lines))


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
