"""``ensemble``: combination rules, member verdicts kept in ``raw``, pairwise Cohen's kappa."""
from __future__ import annotations

import json
from typing import Sequence

import pytest
from hypothesis import given, strategies as st

from deepsight_pytest.errors import SpecError
from deepsight_pytest.judges import Judge, create_judge
from deepsight_pytest.judges.agreement import cohen_kappa, pairwise_kappa
from deepsight_pytest.judges.ensemble import EnsembleJudge, all_unsafe, any_unsafe, majority, members_of
from deepsight_pytest.records import Case, Expect, Record, Response, Safety, Verdict

Y, N, U = Safety.YES, Safety.NO, Safety.UNKNOWN


class Fixed(Judge):
    """A judge that answers a fixed list of safeties (a test double for rule logic, not a model)."""

    version = "1"

    def __init__(self, name: str, safeties: Sequence[Safety]) -> None:
        self.id = name
        self.safeties = list(safeties)

    def judge(self, items):
        return [Verdict({Y: "refusal", N: "compliance", U: "unknown"}[s], s, self.key, None, self.id)
                for s, _ in zip(self.safeties, items)]


def items(n: int):
    case = Case("advbench", "1", "c", ({"role": "user", "content": "q"},), Expect.REFUSE)
    return [(case, Response("a", 1, "stop", 0.0, "fp"))] * n


@pytest.mark.parametrize("safeties, expected", [
    ([Y, Y, N], (Y, N, Y)), ([Y, N], (U, N, Y)), ([U, U, Y], (Y, U, U)), ([N, N, N], (N, N, N)),
    ([U, U], (U, U, U)), ([Y, Y], (Y, Y, Y)), ([Y, U, N], (U, N, U)),
])
def test_rules(safeties, expected):
    assert (majority(safeties), any_unsafe(safeties), all_unsafe(safeties)) == expected


def test_ensemble_verdict_keeps_member_verdicts_and_leads_with_an_agreeing_member():
    judge = EnsembleJudge([Fixed("a", [Y, N]), Fixed("b", [Y, Y]), Fixed("c", [N, N])], "majority")
    first, second = judge.judge(items(2))
    assert (first.safe, first.label) == (Y, "refusal") and (second.safe, second.label) == (N, "compliance")
    assert first.judge == "ensemble@1(a@1+b@1+c@1?rule=majority)"
    assert members_of(first) == [{"judge": "a@1", "label": "refusal", "safe": "yes"},
                                 {"judge": "b@1", "label": "refusal", "safe": "yes"},
                                 {"judge": "c@1", "label": "compliance", "safe": "no"}]
    assert json.loads(second.raw)["rule"] == "majority" and "majority of a@1=compliance/no" in second.rationale


def test_spec_builds_members_and_checks_rule_and_size():
    judge = create_judge("ensemble:refusal+xstest+learned?rule=any")
    assert [m.key for m in judge.members] == ["refusal@1", "xstest@1", "learned@3"] and judge.rule_name == "any"
    for bad, message in [("ensemble:refusal", "at least two"), ("ensemble:refusal+xstest?rule=majorty", "did you mean 'majority'"),
                         ("ensemble:refusal+nosuch", "unknown judge 'nosuch'"),
                         ("ensemble:refusal+ensemble:a+b", "cannot contain an ensemble"),
                         ("ensemble:refusal+xstest?weights=1", r"only \?rule=, got weights")]:
        with pytest.raises(SpecError, match=message):
            create_judge(bad)


def test_cohen_kappa_known_values():
    # 20 items: 15 agree; both say "yes" 50% of the time -> p_e = 0.5, kappa = (0.75 - 0.5) / 0.5
    a = ["yes"] * 10 + ["no"] * 10
    b = ["yes"] * 8 + ["no"] * 2 + ["yes"] * 2 + ["no"] * 8
    assert cohen_kappa(a, b) == pytest.approx(0.6)
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(["yes"] * 5, ["yes"] * 5) is None  # chance agreement is total: undefined
    assert cohen_kappa([], []) is None


@given(st.lists(st.tuples(st.sampled_from("yn"), st.sampled_from("yn")), min_size=1, max_size=60))
def test_kappa_is_symmetric_and_bounded(pairs):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    kappa = cohen_kappa(a, b)
    assert kappa == cohen_kappa(b, a)
    assert kappa is None or -1.0 - 1e-9 <= kappa <= 1.0 + 1e-9


def test_pairwise_kappa_from_records_leaves_unknowns_out_and_counts_them():
    judge = EnsembleJudge([Fixed("a", [Y, Y, N, N, U]), Fixed("b", [Y, N, N, N, Y])])
    records = [Record(case, response, verdict)
               for (case, response), verdict in zip(items(5), judge.judge(items(5)))]
    plain = Record(*items(1)[0], Verdict("refusal", Y, "refusal@1"))
    [pair] = pairwise_kappa([*records, plain])
    assert (pair["judge_a"], pair["judge_b"], pair["n"], pair["unknown"]) == ("a@1", "b@1", 4, 1)
    assert pair["agreement"] == 0.75
    assert pair["kappa"] == pytest.approx(cohen_kappa(["yes", "yes", "no", "no"], ["yes", "no", "no", "no"]),
                                          abs=1e-4)
    round_trip = [Record.from_dict(json.loads(json.dumps(r.to_dict()))) for r in records]
    assert pairwise_kappa(round_trip) == [pair]
