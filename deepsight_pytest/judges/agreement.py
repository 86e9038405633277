"""How well an ensemble's members agree: Cohen's kappa per pair, from a run's records alone.

Each ensemble verdict keeps its members' verdicts (``Verdict.raw``, see :mod:`.ensemble`). For every
pair of member judges, kappa compares their safe/unsafe decisions on the cases both decided
(unknowns are left out and counted): kappa = (p_o - p_e) / (1 - p_e), with p_o the observed and
p_e the chance agreement from each judge's own rates. It is None when chance agreement is already
total (both judges said the same single thing throughout), where kappa is undefined.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Any, Iterable, Sequence

from deepsight_pytest.records import Record
from deepsight_pytest.judges.ensemble import members_of


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two equally long label sequences (None when undefined)."""
    if len(a) != len(b):
        raise ValueError("kappa needs two sequences of the same length")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    chance = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)


def pairwise_kappa(records: Iterable[Record]) -> list[dict[str, Any]]:
    """One entry per pair of ensemble members: judges, n decided by both, agreement, kappa, and
    how many cases one of the two left unknown."""
    decisions: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    skipped: Counter[tuple[str, str]] = Counter()
    for record in records:
        members = members_of(record.verdict)
        if not members:
            continue
        for first, second in combinations(members, 2):
            pair = (str(first["judge"]), str(second["judge"]))
            if "unknown" in (first["safe"], second["safe"]):
                skipped[pair] += 1
            else:
                decisions[pair].append((str(first["safe"]), str(second["safe"])))
    result = []
    for pair in sorted(set(decisions) | set(skipped)):
        values = decisions.get(pair, [])
        a, b = [x for x, _ in values], [y for _, y in values]
        kappa = cohen_kappa(a, b)
        result.append({"judge_a": pair[0], "judge_b": pair[1], "n": len(values),
                       "agreement": round(sum(x == y for x, y in values) / len(values), 4) if values else None,
                       "kappa": None if kappa is None else round(kappa, 4), "unknown": skipped[pair]})
    return result
