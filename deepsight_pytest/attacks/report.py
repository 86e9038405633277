"""Attack-search figures for the terminal, the JSON results and the HTML card.

Rates over the searched harmful cases: the *direct* attack success rate (the unmodified request
answered unsafely) beside the rate *under search* (a direct success or a found jailbreak); per
mutator and per chain length, the share of the chains tried (generated and shrinking alike) that
were answered unsafely.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any, Iterable

from deepsight_pytest.core.images import content_text



def _rate(hits: int, n: int) -> dict[str, Any]:
    return {"hits": hits, "n": n, "rate": hits / n if n else None}


def summarise(attacks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The figures of a run's searches (``attacks``: the ``attack`` payloads of its tests)."""
    attacks = sorted(attacks, key=lambda a: a["case"])
    direct = sum(a["direct_safe"] == "no" for a in attacks)
    found = [a for a in attacks if a["jailbreak"] is not None]
    broken = sum(a["direct_safe"] == "no" or a["jailbreak"] is not None for a in attacks)
    by_mutator: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_length: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for attack in attacks:
        for tried in attack["tried"]:
            unsafe = int(tried["safe"] == "no")
            for name in set(tried["chain"]):
                by_mutator[name][0] += unsafe
                by_mutator[name][1] += 1
            by_length[len(tried["chain"])][0] += unsafe
            by_length[len(tried["chain"])][1] += 1
    lengths = [len(a["chain"]) for a in found]
    queries = sum(a["queries"] for a in attacks)
    return {
        "cases": len(attacks), "direct": _rate(direct, len(attacks)), "search": _rate(broken, len(attacks)),
        "uplift": (broken - direct) / len(attacks) if attacks else None,
        "median_chain": statistics.median(lengths) if lengths else None,
        "queries": queries, "queries_per_jailbreak": queries / len(found) if found else None,
        "per_mutator": [{"mutator": m, **_rate(*v)} for m, v in sorted(by_mutator.items())],
        "per_length": [{"length": n, **_rate(*v)} for n, v in sorted(by_length.items())],
        "jailbreaks": [{"case": a["case"], "goal": a["goal"], "chain": a["chain"], "nodeid": a.get("nodeid", ""),
                        "prompt": content_text(a["jailbreak"]["case"]["messages"][-1]["content"]),
                        "response": a["jailbreak"]["response"]["text"], "verdict": a["jailbreak"]["verdict"]["label"]}
                       for a in found],
    }


def _pct(rate: dict[str, Any]) -> str:
    return "n/a" if rate["rate"] is None else f"{100 * rate['rate']:.0f}% ({rate['hits']}/{rate['n']})"


def summary_lines(attacks: list[dict[str, Any]]) -> list[str]:
    """Terminal lines: direct vs search ASR, median shrunk chain, and each shrunk chain."""
    if not attacks:
        return []
    s = summarise(attacks)
    lines = [f"attack search: {s['cases']} harmful case(s); attack success rate direct {_pct(s['direct'])}, "
             f"under search {_pct(s['search'])}; {len(s['jailbreaks'])} jailbreak(s), median shrunk chain "
             f"{s['median_chain'] if s['median_chain'] is not None else 'n/a'}, {s['queries']} queries"]
    lines += [f"  jailbreak {j['case']}: [{', '.join(j['chain'])}]" for j in s["jailbreaks"]]
    return lines
