"""Conditions: the same case asked under different framings (a system prompt, a tag before the
request, a target value, a prior conversation), so that two framings can be compared item by item.

Frontier-risk evaluations rarely score one answer; they compare the *same item* under
conditions ("this is an evaluation" vs "unmonitored", target accuracy 0% vs 100%). A condition
turns a case into its conditioned twin with the id ``case-id@condition``; a gap gate then pairs
the twins of each item (``stats.PairedCounts``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping

from deepsight_pytest.errors import ConfigError, DataError
from deepsight_pytest.records import Case, Expect, Message, Sample, Verdict

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+\-]*$")
TARGET = "{target}"
KEYS = ("name", "system", "prefix", "target", "history", "followups", "variant", "partner", "partner_turns")
VARIANTS = "variants"  # Case.meta key: the case's own alternative prompts, by name
#: Case.meta key: per variant, what else changes with its prompt: ``expect`` (MSSBench's safe image
#: must be answered, its unsafe one refused) and meta keys (``risk``, ``text_only``, ...)
VARIANT_META = "variant_meta"
ROLES = ("user", "assistant")


@dataclass(frozen=True)
class Condition:
    """A named transformation of a case; hashable, so suites holding conditions stay dict keys.

    ``system`` replaces (or adds) the system prompt; ``prefix`` is put before the last user turn
    and before each later user turn of a multi-turn case;
    ``target`` replaces ``{target}`` in the system prompt, the prefix and the case's messages;
    ``history`` (role, text) pairs are a prior conversation put before the case's own turns;
    ``followups`` are later user turns, each sent after the model's own answer to the turn before.
    """

    name: str
    system: str | None = None
    prefix: str | None = None
    target: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    followups: tuple[str, ...] = ()  # later user turns, each after the model's own answer ("Are you sure?")
    variant: str | None = None  # ask the case's own alternative prompt of this name (a belief elicitation)
    partner: str | None = None  # a partner model plays the user with this role (system prompt)
    partner_turns: int = 0  # how many later user turns the partner writes (alone: for cases with their own partner)

    def apply(self, case: Case) -> Case:
        """The case as asked under this condition (its uid gains ``@name``)."""
        target = self.target
        fill: Callable[[str], str] = ((lambda text: text.replace(TARGET, target)) if target is not None
                                      else (lambda text: text))
        own = [dict(m, content=_fill_content(m["content"], fill)) for m in self._messages(case)]
        system = [m for m in own if m["role"] == "system"]
        turns = [m for m in own if m["role"] != "system"]
        if self.prefix and turns:
            last = max(i for i, m in enumerate(turns) if m["role"] == "user")
            turns[last] = dict(turns[last], content=_prefixed(fill(self.prefix), turns[last]["content"]))
        if self.system is not None:
            system = [{"role": "system", "content": fill(self.system)}] if self.system else []
        history: list[Message] = [{"role": role, "content": fill(text)} for role, text in self.history]
        meta = {**case.meta, "condition": self.name}
        expect = case.expect
        if self.variant is not None:  # the twin is its variant: its own expectation and meta
            extra = dict((case.meta.get(VARIANT_META) or {}).get(self.variant) or {})
            expect = Expect(extra.pop("expect", expect))
            meta = {k: v for k, v in {**meta, **extra}.items() if k not in (VARIANTS, VARIANT_META)}
        tag = fill(self.prefix) if self.prefix else ""  # a stage tag marks every scripted user turn
        followups = tuple(tag + fill(text) for text in case.followups + self.followups)
        partner: dict[str, Any] = {}
        if self.partner:
            partner = {"partner": fill(self.partner), "partner_turns": self.partner_turns or 1}
        elif self.partner_turns and case.partner:  # a case that brings its own partner: its turns only
            partner = {"partner_turns": self.partner_turns}
        return replace(case, messages=tuple(system + history + turns), condition=self.name, meta=meta,
                       expect=expect, followups=followups, **partner)

    def _messages(self, case: Case) -> tuple[Message, ...]:
        """The case's messages, or its own variant's (``Case.meta["variants"][name]``)."""
        if self.variant is None:
            return case.messages
        variants = case.meta.get(VARIANTS) or {}
        if self.variant not in variants:
            known = ", ".join(variants) or "none"
            raise DataError(f"{case.item_uid}: condition {self.name!r} asks its prompt {self.variant!r}, "
                            f"which this case does not have (its prompts: {known})")
        return tuple(dict(m) for m in variants[self.variant])

    @classmethod
    def parse(cls, value: Any, where: str) -> "Condition":
        """A condition from a suite's declaration: a mapping with the keys above (or a Condition)."""
        if isinstance(value, Condition):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: a condition must be a mapping with a 'name', got {value!r}")
        unknown = set(value) - set(KEYS)
        if unknown:
            raise ConfigError(f"{where}: condition has unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                              f"known: {', '.join(KEYS)}")
        name = value.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ConfigError(f"{where}: condition name must be letters, digits, '_', '-', '.' or '+', got {name!r}")
        for key in ("system", "prefix", "variant", "partner"):
            if value.get(key) is not None and not isinstance(value[key], str):
                raise ConfigError(f"{where}: condition {name!r}: {key} must be text, got {value[key]!r}")
        target = value.get("target")
        if target is not None and (isinstance(target, bool) or not isinstance(target, (str, int, float))):
            raise ConfigError(f"{where}: condition {name!r}: target must be text or a number, got {target!r}")
        followups = value.get("followups") or ()
        if isinstance(followups, str):
            followups = (followups,)
        if not isinstance(followups, (list, tuple)) or not all(isinstance(f, str) and f.strip() for f in followups):
            raise ConfigError(f"{where}: condition {name!r}: followups must be a list of user turns (text)")
        partner, turns = value.get("partner"), value.get("partner_turns")
        if turns is not None and (isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= 20):
            raise ConfigError(f"{where}: condition {name!r}: partner_turns must be a whole number in [1, 20], "
                              f"got {turns!r}")
        return cls(name, value.get("system"), value.get("prefix"),
                   None if target is None else _number_text(target), _history(value.get("history"), name, where),
                   tuple(followups), value.get("variant"), partner, turns or (1 if partner else 0))


@dataclass(frozen=True)
class Comparison:
    """A two-call evaluation: each item's ``target`` twin is decided against its ``reference``
    twin, asked in a separate call (MASK: the pressured statement against the model's own belief,
    elicited without pressure). ``decide(target's verdict, reference's verdict)`` gives the
    target's new verdict; the reference twin keeps its own (MASK: the belief's accuracy)."""

    target: str
    reference: str
    decide: Callable[[Verdict, Verdict], Verdict] | None = None
    #: further reference conditions (Fake-Alignment: both orders of its pairwise question)
    also: tuple[str, ...] = ()
    #: decides from the answers themselves (their text, not only their verdicts): the target's
    #: answer and each reference condition's answer, by name (DeceptionBench: the model's own
    #: view against its reasoning and action); used instead of ``decide`` when given
    decide_answers: Callable[[Sample, Mapping[str, Sample]], Verdict] | None = None

    def __post_init__(self) -> None:
        if (self.decide is None) == (self.decide_answers is None):
            raise ValueError(f"comparison {self.target}-vs-{self.reference}: give decide or decide_answers")

    @property
    def references(self) -> tuple[str, ...]:
        """Every reference condition, the first one first."""
        return (self.reference, *self.also)

    @property
    def names(self) -> set[str]:
        """The conditions a suite must run for the comparison to apply."""
        return {self.target, *self.references}

    def verdict(self, answer: Sample, references: Mapping[str, Sample]) -> Verdict:
        """The target answer's verdict, decided against its reference answers."""
        if self.decide_answers is not None:
            return self.decide_answers(answer, references)
        assert self.decide is not None
        return self.decide(answer.verdict, references[self.reference].verdict)


def _number_text(value: str | int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _history(value: Any, name: str, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: condition {name!r}: history must be a list of turns")
    turns = []
    for turn in value:
        if isinstance(turn, Mapping):
            role, text = turn.get("role"), turn.get("content")
        elif isinstance(turn, (list, tuple)) and len(turn) == 2:
            role, text = turn
        else:
            role, text = None, None
        if role not in ROLES or not isinstance(text, str):
            raise ConfigError(f"{where}: condition {name!r}: each history turn needs role "
                              f"(user or assistant) and content text, got {turn!r}")
        turns.append((role, text))
    return tuple(turns)


def parse_conditions(value: Any, available: Iterable[Condition], where: str) -> tuple[Condition, ...]:
    """A suite's conditions: ``None`` = none; names pick the benchmark's own conditions; mappings
    declare new ones. Names must be unique."""
    if value is None:
        return ()
    if isinstance(value, (str, Mapping, Condition)) or not isinstance(value, (list, tuple)):
        value = [value]
    known = {c.name: c for c in available}
    chosen: list[Condition] = []
    for item in value:
        if isinstance(item, str):
            if item not in known:
                choices = ", ".join(known) or "none (this benchmark declares no conditions)"
                raise ConfigError(f"{where}: unknown condition {item!r}; the benchmark's: {choices}")
            chosen.append(known[item])
        else:
            chosen.append(Condition.parse(item, where))
    names = [c.name for c in chosen]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: condition {twice[0]!r} is declared twice")
    if not chosen:
        raise ConfigError(f"{where}: conditions must not be empty")
    return tuple(chosen)


def parse_gaps(value: Any, conditions: tuple[Condition, ...], where: str) -> tuple[tuple[str, str], ...]:
    """Gap gates as ``"a-vs-b"`` strings or ``(a, b)`` pairs, over declared conditions only."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else [value]
    names = {c.name for c in conditions}
    gaps: list[tuple[str, str]] = []
    for item in items:
        pair = tuple(item.split("-vs-")) if isinstance(item, str) else tuple(item) if isinstance(item, (list, tuple)) else ()
        if len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise ConfigError(f"{where}: a gap is 'a-vs-b' or [a, b], got {item!r}")
        shown = f"{pair[0]}-vs-{pair[1]}"
        missing = [p for p in pair if p not in names]
        if missing:
            raise ConfigError(f"{where}: gap {shown!r} names condition {missing[0]!r}, which the suite "
                              f"does not run (conditions: {', '.join(sorted(names)) or 'none'})")
        if pair[0] == pair[1]:
            raise ConfigError(f"{where}: gap {shown!r} compares a condition with itself")
        gaps.append((pair[0], pair[1]))
    return tuple(dict.fromkeys(gaps))


def expand(cases: Iterable[Case], conditions: tuple[Condition, ...], where: str = "conditions") -> list[Case]:
    """Each case once per condition, grouped by item (``id@a``, ``id@b``, ...); unchanged without.
    A condition that leaves a case nothing to ask (its target filling a prompt that was only the
    placeholder) is a configuration error, not an empty request sent to the model."""
    cases = list(cases)
    if not conditions:
        return cases
    out = [condition.apply(case) for case in cases for condition in conditions]
    for case in out:
        if not case.prompt.strip():
            raise ConfigError(f"{where}: condition {case.condition!r} leaves case {case.item_uid} with an "
                              "empty prompt (check its target, prefix and the case's text)")
    return out


def _fill_content(content: Any, fill: Callable[[str], str]) -> Any:
    """Text filled in; content parts (``images.py``): each text part filled, images kept."""
    if isinstance(content, (list, tuple)):
        return [dict(p, text=fill(p["text"])) if p.get("type") == "text" else dict(p) for p in content]
    return fill(content)


def _prefixed(prefix: str, content: Any) -> Any:
    """The prefix before the text: before the first text part of content parts (images kept)."""
    if not isinstance(content, (list, tuple)):
        return prefix + content
    parts = [dict(p) for p in content]
    first = next((i for i, p in enumerate(parts) if p.get("type") == "text"), None)
    if first is None:
        return [{"type": "text", "text": prefix}, *parts]
    parts[first]["text"] = prefix + parts[first]["text"]
    return parts
