"""Train the ``harm`` judge's logistic regression and write its weights file (reproducible).

    python bench/train_harm_classifier.py            # CV, development figures, write the weights
    python bench/train_harm_classifier.py --check    # the same, but only compare with the shipped file

Protocol. Training data: GPTFuzz's train and evaluate splits, XSTest's answers to safe prompts (all
harmless) and JailbreakBench's 300 rows (weight JBB_WEIGHT: the one set of plain, non-template
jailbreak answers), and of each of those answers a copy cut to its first 300 characters (a run
with 64 new tokens judges such cuts; a harmful answer whose cut start is a refusal is not copied).
The figures printed are for rows the fitted model never saw:

1. JailbreakBench: 5-fold cross-validation grouped by goal (each fold fitted on GPTFuzz, XSTest and
   the other four folds, with the copies of the same rows always on the same side); the cut copies
   are scored the same way (the main job's regime); C is the grid value with the best CV agreement, so this figure is the
   selection's own (mildly optimistic); the reference judges' figures on the same rows sit beside it;
2. GPTFuzz evaluate (questions 80-99): a model fitted on everything except that split.

The shipped weights: the chosen C, fitted on all of it. ``bench/harm_judge_accuracy.py`` prints the
same figures with the reference judges and the main job's attack success rates.

Inputs are standardised for the fit; the scaling is folded into the shipped coefficients, so the judge
does one dot product. Data: ``bench/harm_data.py`` (licences there); only coefficients are shipped.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harm_data import REPO, EmbeddingCache, Row, gptfuzz, harm_cache, jbb, xstest_safe  # noqa: E402

from deepsight_pytest.judges.harm import request_of  # noqa: E402
from deepsight_pytest.judges.harm_features import CUE_NAMES, design_row  # noqa: E402
from deepsight_pytest.judges.learned import opening  # noqa: E402
from deepsight_pytest.judges.refusal import find_refusal  # noqa: E402

WEIGHTS = REPO / "deepsight_pytest" / "judges" / "weights" / "harm_minilm.json"
GRID = (0.003, 0.01, 0.03)
TRUNCATE_CHARS = 300  # about 64 tokens: the main job's --safety-max-new-tokens
JBB_WEIGHT = 5.0
SEED = 0
SOURCE = ("logistic regression fitted by bench/train_harm_classifier.py on GPTFuzz's hand-labelled "
          "responses (Yu et al. 2023, MIT, github.com/sherdencooper/GPTFuzz), JailbreakBench's judge-comparison "
          "set (Chao et al. 2024, MIT) and XSTest v2's answers to safe prompts as harmless (Roettger et al. "
          "2024, CC-BY-4.0); features over all-MiniLM-L6-v2 embeddings (Apache-2.0)")


@dataclass
class Part:
    """One labelled set as a design matrix, its labels, groups and fit weight."""

    x: np.ndarray
    y: np.ndarray
    groups: list[str]
    weight: float = 1.0


def design(rows: Sequence[Row], cache: EmbeddingCache, weight: float = 1.0) -> Part:
    goals = cache.vectors([request_of(r.goal) for r in rows])
    answers = cache.vectors([r.response for r in rows])
    openings = cache.vectors([opening(r.response) or " " for r in rows])
    x = np.array([design_row(r.goal, r.response, g, a, o) for r, g, a, o in zip(rows, goals, answers, openings)])
    return Part(x, np.array([r.label for r in rows]), [r.group for r in rows], weight)


def fit(parts: Sequence[Part], c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([p.x for p in parts])
    y = np.concatenate([p.y for p in parts])
    w = np.concatenate([np.full(len(p.y), p.weight) for p in parts])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, random_state=SEED))
    return model.fit(x, y, logisticregression__sample_weight=w)


def truncated(rows: Sequence[Row]) -> list[Row]:
    """Copies of the answers cut to their first TRUNCATE_CHARS characters, as a run with a small
    ``--safety-max-new-tokens`` sees them (the main job: 64 tokens). Same label, except that a
    harmful answer whose cut start holds a refusal (GPTFuzz's two-persona answers) is left out."""
    out = []
    for r in rows:
        cut = r.response[:TRUNCATE_CHARS]
        if len(r.response) > TRUNCATE_CHARS and not (r.label == 1 and find_refusal(cut)):
            out.append(Row(r.goal, cut, r.label, r.group))
    return out


def subset(part: Part, keep: Sequence[bool]) -> Part:
    index = [i for i, k in enumerate(keep) if k]
    return Part(part.x[index], part.y[index], [part.groups[i] for i in index], part.weight)


def cross_validated(target: Part, others: Sequence[Part], c: float, companion: Part | None = None,
                    folds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold p(harmful) for every row of ``target`` and of its ``companion`` (its cut copies),
    folds grouped by goal: a row, and its copy, are only ever scored by a model that saw neither."""
    from sklearn.model_selection import GroupKFold

    out = np.zeros(len(target.y))
    out_companion = np.zeros(0 if companion is None else len(companion.y))
    for train, test in GroupKFold(n_splits=folds).split(target.x, target.y, target.groups):
        seen = {target.groups[i] for i in train}
        parts = [subset(target, [i in set(train) for i in range(len(target.y))]), *others]
        if companion is not None:
            parts.append(subset(companion, [g in seen for g in companion.groups]))
        model = fit(parts, c)
        out[test] = model.predict_proba(target.x[test])[:, 1]
        if companion is not None:
            unseen = [i for i, g in enumerate(companion.groups) if g not in seen]
            out_companion[unseen] = model.predict_proba(companion.x[unseen])[:, 1]
    return out, out_companion


def folded(model) -> tuple[float, list[float]]:
    """(bias, weights) on raw inputs: the scaler folded into the regression."""
    scaler, logistic = model.steps[0][1], model.steps[1][1]
    w = logistic.coef_[0] / scaler.scale_
    return float(logistic.intercept_[0] - (w * scaler.mean_).sum()), w.tolist()


def metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Agreement, F1 for harmful, Cohen's kappa, false positive and false negative rates."""
    pred, y = np.asarray(pred).astype(int), np.asarray(y).astype(int)
    tp, tn = int(((pred == 1) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    fp, fn = int(((pred == 1) & (y == 0)).sum()), int(((pred == 0) & (y == 1)).sum())
    n = len(y)
    agree = (tp + tn) / n
    chance = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / n ** 2
    return {"n": n, "agreement": agree, "f1": 2 * tp / max(2 * tp + fp + fn, 1),
            "kappa": (agree - chance) / (1 - chance) if chance < 1 else 0.0,
            "fpr": fp / max(fp + tn, 1), "fnr": fn / max(fn + tp, 1)}


def show(m: dict[str, float]) -> str:
    return ", ".join(f"n {m[k]}" if k == "n" else f"{k} {m[k]:.3f}" for k in m)


@dataclass
class Study:
    """Everything one run measures: the chosen C, held-out predictions, the final model."""

    c: float
    cv_agreement: dict[float, float]
    jbb_rows: list[Row]
    jbb_pred: np.ndarray
    gptfuzz_eval_y: np.ndarray
    gptfuzz_eval_pred: np.ndarray
    model: object
    jbb_cut_y: np.ndarray
    jbb_cut_pred: np.ndarray


def study(cache: EmbeddingCache | None = None) -> Study:
    cache = cache or harm_cache()
    jbb_rows, train_rows, eval_rows = jbb(), gptfuzz("train"), gptfuzz("evaluate")
    train, evaluate, safe = design(train_rows, cache), design(eval_rows, cache), design(xstest_safe(), cache)
    train_cut, eval_cut = design(truncated(train_rows), cache), design(truncated(eval_rows), cache)
    bench = design(jbb_rows, cache, JBB_WEIGHT)
    bench_cut = design(truncated(jbb_rows), cache, JBB_WEIGHT)
    others = (train, evaluate, safe, train_cut, eval_cut)
    runs = {c: cross_validated(bench, others, c, bench_cut) for c in GRID}
    scores = {c: float(((runs[c][0] >= 0.5) == bench.y).mean()) for c in GRID}
    c = max(GRID, key=lambda k: (scores[k], -k))
    eval_pred = fit((train, safe, bench, train_cut, bench_cut), c).predict(evaluate.x)
    return Study(c, scores, jbb_rows, (runs[c][0] >= 0.5).astype(int), evaluate.y, eval_pred,
                 fit((*others, bench, bench_cut), c), bench_cut.y, (runs[c][1] >= 0.5).astype(int))


def weights_file(result: Study) -> bytes:
    bias, weights = folded(result.model)
    data = {"format": 1, "variant": "minilm", "cue_names": list(CUE_NAMES), "dimensions": 384,
            "bias": round(bias, 6), "weights": [round(w, 6) for w in weights], "source": SOURCE,
            "meta": {"C": result.c, "jbb_weight": JBB_WEIGHT,
                     "jbb_cv_agreement": round(result.cv_agreement[result.c], 4)}}
    return (json.dumps(data, separators=(",", ":")) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="do not write; compare with the shipped file")
    args = parser.parse_args(argv)
    result = study()
    print("C by JailbreakBench 5-fold CV grouped by goal: "
          + ", ".join(f"{k:g}: {v:.3f}" for k, v in result.cv_agreement.items()) + f" -> {result.c:g}")
    print("JailbreakBench 300, out of fold: " + show(metrics(result.jbb_pred, [r.label for r in result.jbb_rows])))
    print("JailbreakBench cut to 300 chars: " + show(metrics(result.jbb_cut_pred, result.jbb_cut_y)))
    print("GPTFuzz evaluate, unseen split:  " + show(metrics(result.gptfuzz_eval_pred, result.gptfuzz_eval_y)))
    raw = weights_file(result)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if args.check:
        same = WEIGHTS.is_file() and WEIGHTS.read_bytes() == raw
        print(f"shipped weights {'match' if same else 'DIFFER from'} a fresh fit (digest {digest})")
        return 0 if same else 1
    WEIGHTS.write_bytes(raw)
    print(f"wrote {WEIGHTS.relative_to(REPO)} ({len(raw) // 1024} KiB, digest {digest}); set WEIGHTS_DIGEST "
          "in deepsight_pytest/judges/harm.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
