"""``ensemble:<judge>+<judge>[+...][?rule=majority|any|all]``: several judges, one combination rule.

Members are judge specs without options (``ensemble:refusal+xstest+learned:minilm``); each judges
the whole batch. Rules decide the safety from the members' safeties:

* ``majority`` (default): the most common decided safety; a tie, or nobody deciding, is unknown;
* ``any``: unsafe as soon as one member says unsafe, safe only when every member says safe (strict);
* ``all``: unsafe only when every member says unsafe, unknown when some member is unknown (lenient).

The verdict takes the label, score and rationale of the first member that agrees with the decision,
and keeps every member's verdict in ``raw`` as JSON (``{"rule": ..., "members": [{"judge", "label",
"safe"}, ...]}``), so :func:`deepsight_pytest.judges.agreement.pairwise_kappa` can report how well the
members agree from a run's records alone.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Callable, Sequence

from deepsight_pytest.errors import SpecError
from deepsight_pytest.records import Case, Response, Safety, Verdict
from deepsight_pytest.core.registry import Registry
from deepsight_pytest.judges.base import Judge, JudgeSpec, judged_view

Rule = Callable[[Sequence[Safety]], Safety]


def majority(safeties: Sequence[Safety]) -> Safety:
    decided = Counter(s for s in safeties if s is not Safety.UNKNOWN).most_common()
    if not decided or (len(decided) > 1 and decided[0][1] == decided[1][1]):
        return Safety.UNKNOWN
    return decided[0][0]


def any_unsafe(safeties: Sequence[Safety]) -> Safety:
    if Safety.NO in safeties:
        return Safety.NO
    return Safety.YES if all(s is Safety.YES for s in safeties) else Safety.UNKNOWN


def all_unsafe(safeties: Sequence[Safety]) -> Safety:
    if all(s is Safety.NO for s in safeties):
        return Safety.NO
    return Safety.UNKNOWN if Safety.UNKNOWN in safeties else Safety.YES


RULES: Registry[Rule] = Registry("ensemble rule")
RULES.add("majority", majority, "the most common decided safety; ties are unknown")
RULES.add("any", any_unsafe, "unsafe if any member says unsafe")
RULES.add("all", all_unsafe, "unsafe only if every member says unsafe")


def members_of(verdict: Verdict) -> list[dict[str, str]] | None:
    """The member verdicts an ensemble kept in ``raw``, or None for other verdicts."""
    if not verdict.raw or not verdict.judge.startswith("ensemble"):
        return None
    try:
        data = json.loads(verdict.raw)
    except ValueError:
        return None
    members = data.get("members") if isinstance(data, dict) else None
    return members if isinstance(members, list) else None


class EnsembleJudge(Judge):
    """Several judges combined by a rule; member verdicts are kept for agreement statistics."""

    id = "ensemble"
    version = "1"

    def __init__(self, members: Sequence[Judge], rule: str = "majority") -> None:
        if len(members) < 2:
            raise SpecError("judge 'ensemble' needs at least two members, e.g. ensemble:refusal+xstest")
        self.members = list(members)
        self.rule_name = rule
        self.rule = RULES.get(rule)

    @classmethod
    def from_spec(cls, spec: JudgeSpec) -> "EnsembleJudge":
        from deepsight_pytest.judges import create_judge

        unknown_options = set(spec.options) - {"rule"}
        if unknown_options:
            raise SpecError(f"judge 'ensemble' takes only ?rule=, got {', '.join(sorted(unknown_options))}")
        names = [m for m in spec.arg.split("+") if m]
        if any(name.split(":")[0] == "ensemble" for name in names):
            raise SpecError("an ensemble cannot contain an ensemble")
        return cls([create_judge(name, spec.context) for name in names], spec.options.get("rule", "majority"))

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}({'+'.join(m.key for m in self.members)}?rule={self.rule_name})"

    @property
    def sees_images(self) -> bool:  # type: ignore[override]
        """Given the images when a member reads them; each member gets its own view."""
        return any(m.sees_images for m in self.members)

    def judge(self, items: Sequence[tuple[Case, Response]]) -> list[Verdict]:
        columns = [member.judge(judged_view(member, items)) for member in self.members]
        return [self._combine(list(row)) for row in zip(*columns)]

    def _combine(self, verdicts: list[Verdict]) -> Verdict:
        decision = self.rule([v.safe for v in verdicts])
        lead = next((v for v in verdicts if v.safe is decision), None)
        summary = ", ".join(f"{v.judge}={v.label}/{v.safe.value}" for v in verdicts)
        raw = json.dumps({"rule": self.rule_name,
                          "members": [{"judge": v.judge, "label": v.label, "safe": v.safe.value}
                                      for v in verdicts]})
        if lead is None:
            return Verdict("unknown", Safety.UNKNOWN, self.key, None, f"{self.rule_name}: no decision ({summary})",
                           raw)
        return Verdict(lead.label, decision, self.key, lead.score, f"{self.rule_name} of {summary}", raw)

    def close(self) -> None:
        for member in self.members:
            member.close()
