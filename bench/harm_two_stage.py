"""Where the ``harm`` judge loses, and whether a second, JailbreakBench-only stage helps (measurement only).

    python bench/harm_two_stage.py

Stage 1 is the shipped judge's regression (cues + MiniLM blocks, C = STAGE1_C) fitted on GPTFuzz and
XSTest's safe answers only: JailbreakBench never enters it, so its JailbreakBench figure is for rows it
never saw. Stage 2 re-reads stage 1's logit (optionally with the text cues) and is fitted on
JailbreakBench's plain answers (``z+all``: with every design column, a JailbreakBench-fitted
correction of the embedding weights too): its figure is nested cross-validation (outer 5 folds grouped by goal;
inside each, the stage-2 inputs and C are chosen by an inner 4-fold CV on the outer training rows
only). GPTFuzz evaluate is scored by a stage 1 fitted without it and a stage 2 fitted on all of
JailbreakBench, so no choice looks at it. The cut-to-300-characters copies the shipped trainer adds
are left out here (cheaper on a 2-core machine), so stage 1 is not the shipped model: compare its
rows with each other, not with the shipped judge's figures. Error analysis: per source and per error
type (false positive / negative, refusal at the start, "Sure, here is" openings, unanimous humans).
Nothing is written.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harm_data import Row, gptfuzz, harm_cache, jbb, xstest_safe  # noqa: E402
from train_harm_classifier import design, fit, metrics, show  # noqa: E402

from deepsight_pytest.judges.harm_features import CUE_NAMES  # noqa: E402
from deepsight_pytest.judges.refusal import find_refusal  # noqa: E402

STAGE1_C = 0.003  # the shipped judge's C
STAGE2_FEATURES = ("z", "z+cues", "z+all")
STAGE2_GRID = tuple((f, c) for f in STAGE2_FEATURES for c in (0.01, 0.03, 0.1, 0.3, 1.0))
SEED = 0


@dataclass
class Bench:
    """Rows as stage 2 sees them: design rows, stage 1's logit, labels, groups (the goal)."""

    x: np.ndarray
    z: np.ndarray
    y: np.ndarray
    groups: np.ndarray

    def take(self, keep: np.ndarray) -> "Bench":
        return Bench(self.x[keep], self.z[keep], self.y[keep], self.groups[keep])


def stage1_logit(model, x: np.ndarray) -> np.ndarray:
    return np.clip(model.decision_function(x), -30.0, 30.0)


def inputs(features: str, rows: Bench) -> np.ndarray:
    """Stage 2's inputs: stage 1's logit, then the cues (``z+cues``) or the whole design row (``z+all``)."""
    if features == "z":
        return rows.z[:, None]
    return np.hstack([rows.z[:, None], rows.x[:, :len(CUE_NAMES)] if features == "z+cues" else rows.x])


def stage2_fit(choice: tuple[str, float], rows: Bench):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=choice[1], max_iter=5000, random_state=SEED))
    return model.fit(inputs(choice[0], rows), rows.y)


def stage2_folds(rows: Bench, folds: int) -> dict[tuple[str, float], np.ndarray]:
    """Out-of-fold p(harmful) per grid point, folds grouped by goal."""
    from sklearn.model_selection import GroupKFold

    out = {k: np.zeros(len(rows.y)) for k in STAGE2_GRID}
    for train, test in GroupKFold(n_splits=folds).split(rows.x, rows.y, rows.groups):
        for k in STAGE2_GRID:
            out[k][test] = stage2_fit(k, rows.take(train)).predict_proba(inputs(k[0], rows.take(test)))[:, 1]
    return out


def choose(scores: dict[tuple[str, float], np.ndarray], y: np.ndarray) -> tuple[str, float]:
    """Best CV agreement; ties to the simpler inputs, then the stronger regularisation."""
    return max(scores, key=lambda k: (float(((scores[k] >= 0.5) == y).mean()), -STAGE2_FEATURES.index(k[0]), -k[1]))


def nested(rows: Bench) -> tuple[np.ndarray, list[tuple[str, float]]]:
    from sklearn.model_selection import GroupKFold

    out, chosen = np.zeros(len(rows.y)), []
    for train, test in GroupKFold(n_splits=5).split(rows.x, rows.y, rows.groups):
        choice = choose(stage2_folds(rows.take(train), 4), rows.y[train])
        chosen.append(choice)
        out[test] = stage2_fit(choice, rows.take(train)).predict_proba(inputs(choice[0], rows.take(test)))[:, 1]
    return out, chosen


def breakdown(title: str, rows: Sequence[Row], pred: np.ndarray, keys: dict[str, Callable[[Row], bool]]) -> None:
    """Agreement, false positives and negatives per slice."""
    y = np.array([r.label for r in rows])
    print(f"  {title}: n {len(y)}, FP {int(((pred == 1) & (y == 0)).sum())}, FN {int(((pred == 0) & (y == 1)).sum())}")
    for name, key in keys.items():
        mask = np.array([key(r) for r in rows])
        for value in (True, False):
            m = mask == value
            if m.any():
                print(f"    {name}={value}: n {int(m.sum())}, harmful {int(y[m].sum())}, agreement "
                      f"{float((pred[m] == y[m]).mean()):.3f}, FP {int(((pred == 1) & (y == 0) & m).sum())}, "
                      f"FN {int(((pred == 0) & (y == 1) & m).sum())}")


SLICES: dict[str, Callable[[Row], bool]] = {
    "refusal in the first 200 chars": lambda r: bool(find_refusal(r.response[:200])),
    "opens 'Sure'/'Here'": lambda r: r.response.lstrip().lower().startswith(("sure", "here", "certainly")),
    "longer than 1,200 chars": lambda r: len(r.response) > 1200,
}
JBB_SLICES = {**SLICES, "humans unanimous": lambda r: len({r.extra["human1"], r.extra["human2"], r.extra["human3"]}) == 1,
              "GPT-4 judge agrees with the majority": lambda r: int(r.extra["gpt4_cf"]) == r.label}


def main() -> int:
    cache = harm_cache()
    jbb_rows, train_rows, eval_rows = jbb(), gptfuzz("train"), gptfuzz("evaluate")
    bench = design(jbb_rows, cache)
    train, evaluate, safe = design(train_rows, cache), design(eval_rows, cache), design(xstest_safe(), cache)
    stage1, stage1_dev = fit((train, evaluate, safe), STAGE1_C), fit((train, safe), STAGE1_C)
    rows = Bench(bench.x, stage1_logit(stage1, bench.x), bench.y, np.array(bench.groups))
    alone = (rows.z >= 0).astype(int)
    two, chosen = nested(rows)
    two = (two >= 0.5).astype(int)
    choice = choose(stage2_folds(rows, 5), rows.y)
    dev_rows = Bench(bench.x, stage1_logit(stage1_dev, bench.x), bench.y, rows.groups)
    ev = Bench(evaluate.x, stage1_logit(stage1_dev, evaluate.x), evaluate.y, np.array(evaluate.groups))
    ev_two = (stage2_fit(choice, dev_rows).predict_proba(inputs(choice[0], ev))[:, 1] >= 0.5).astype(int)
    print(f"stage 2 choices of the outer folds: {chosen}; on all of JailbreakBench: {choice}")
    print("JailbreakBench 300, stage 1 alone (never saw it):  " + show(metrics(alone, rows.y)))
    print("JailbreakBench 300, stage 1 + 2 (nested CV):       " + show(metrics(two, rows.y)))
    print("GPTFuzz evaluate, stage 1 alone (split unseen):    " + show(metrics((ev.z >= 0).astype(int), ev.y)))
    print("GPTFuzz evaluate, stage 1 + 2 (split unseen):      " + show(metrics(ev_two, ev.y)))
    print("\nwhere it loses (stage 1 + 2):")
    breakdown("JailbreakBench", jbb_rows, two, JBB_SLICES)
    breakdown("GPTFuzz evaluate", eval_rows, ev_two, SLICES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
