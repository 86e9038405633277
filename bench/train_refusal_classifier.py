"""Train the ``learned`` refusal judge on XSTest's human-labelled completions and write its weights.

    .venv/bin/python bench/train_refusal_classifier.py            # both variants, all three models
    .venv/bin/python bench/train_refusal_classifier.py --variant text

Data: ``../shared/data/xstest/completions/*.csv`` (XSTest v2, Röttger et al. 2024, CC-BY-4.0;
https://github.com/paul-rottger/exaggerated-safety): 3 chatbots x 450 answers with a human
``final_label``. Only coefficients are written (``deepsight_pytest/judges/weights/learned_*.json``),
never the data. Needs numpy and scipy (the ``learned`` extra), and for ``minilm`` the offline MiniLM
model; embeddings are cached per text under ``$DEEPSIGHT_HOME`` so reruns are quick.

Fitting (see ``deepsight_pytest/judges/learned.py`` for the model): L2-regularised logistic
regression by L-BFGS-B, with the sign constraints of ``refusal_features.REFUSAL_CUES`` /
``COMPLIANCE_CUES`` as bounds. Hyperparameters (L2 strength, n-gram and embedding scales) are not
chosen at all: one model is fitted per point of a fixed grid and their logits are averaged (the
average of linear models is one linear model, so the shipped file stays one set of weights). Why:
with two training chatbots, choosing by leave-one-model-out *within* them trains on a single
chatbot and scores the other, and that choice was too noisy to help (in ``bench/judge_accuracy.py``
it did worse on the held-out chatbot than any fixed grid point). Nothing here looks at the chatbot
that ``bench/judge_accuracy.py`` holds out.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepsight_pytest.judges.learned import (  # noqa: E402
    LearnedRefusalJudge, Stage, Weights, opening, weights_digest, weights_path)
from deepsight_pytest.judges.refusal_features import (  # noqa: E402
    COMPLIANCE_CUES, FEATURE_NAMES, REFUSAL_CUES, features, ngrams)
from embedding_cache import EmbeddingCache  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "xstest" / "completions"
SOURCE = ("XSTest v2 completions with human labels (Röttger et al., 2024), CC-BY-4.0, "
          "https://github.com/paul-rottger/exaggerated-safety")
CLASSES = ("1_full_compliance", "2_full_refusal", "3_partial_refusal")  # index = class id
MIN_DF = 3
PARTIAL_L2 = 0.01


@dataclass(frozen=True)
class Row:
    """One human-labelled answer: which chatbot, the prompt, the answer, the class (0, 1, 2)."""

    model: str
    id: str
    type: str
    prompt: str
    completion: str
    cls: int


def load_completions(folder: Path = DATA) -> list[Row]:
    rows = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for line in csv.DictReader(handle):
                rows.append(Row(path.stem, line["id"], line["type"], line["prompt"], line["completion"],
                                CLASSES.index(line["final_label"].strip())))
    if not rows:
        raise SystemExit(f"no completions under {folder}")
    return rows


@dataclass
class Design:
    """Everything fitting needs, computed once per row set."""

    rows: list[Row]
    hand: np.ndarray
    grams: list[set[str]]
    embedding: np.ndarray | None

    @classmethod
    def build(cls, rows: list[Row], encoder: EmbeddingCache | None) -> "Design":
        hand = np.array([[features(r.prompt, r.completion)[n] for n in FEATURE_NAMES] for r in rows])
        embedding = None
        if encoder is not None:
            whole = encoder.encode([r.completion for r in rows])
            first = encoder.encode([opening(r.completion) for r in rows])
            embedding = np.hstack([np.array(whole), np.array(first)])
        return cls(rows, hand, [ngrams(r.completion) for r in rows], embedding)

    def subset(self, mask: np.ndarray) -> "Design":
        index = np.flatnonzero(mask)
        return Design([self.rows[i] for i in index], self.hand[index], [self.grams[i] for i in index],
                      None if self.embedding is None else self.embedding[index])

    @property
    def y(self) -> np.ndarray:
        return np.array([r.cls for r in self.rows])

    @property
    def models(self) -> np.ndarray:
        return np.array([r.model for r in self.rows])


@dataclass(frozen=True)
class Params:
    l2: float
    ngram_scale: float
    embedding_scale: float


def grid(variant: str) -> list[Params]:
    """The fixed hyperparameter grid whose models are averaged (27 points with MiniLM, 9 without)."""
    scales = (0.5, 1.0, 2.0) if variant == "minilm" else (0.0,)
    return [Params(*p) for p in itertools.product((3e-4, 1e-3, 3e-3), (0.1, 0.2, 0.3), scales)]


def vocabulary(grams: Iterable[set[str]]) -> list[str]:
    counts: dict[str, int] = {}
    for found in grams:
        for gram in found:
            counts[gram] = counts.get(gram, 0) + 1
    return sorted(g for g, c in counts.items() if c >= MIN_DF)


def ngram_matrix(grams: Sequence[set[str]], vocab: Sequence[str]) -> sparse.csr_matrix:
    index = {g: i for i, g in enumerate(vocab)}
    rows, cols = [], []
    for r, found in enumerate(grams):
        for gram in found:
            if gram in index:
                rows.append(r)
                cols.append(index[gram])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(grams), len(vocab)))


def fit_logistic(x: sparse.csr_matrix, target: np.ndarray, l2: float,
                 bounds: list[tuple[float | None, float | None]]) -> np.ndarray:
    """L2-regularised logistic regression with per-weight bounds; returns [weights..., bias]."""
    n, d = x.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta[:-1] + theta[-1]
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        eps = 1e-12
        value = -np.mean(target * np.log(p + eps) + (1 - target) * np.log(1 - p + eps))
        value += l2 * float(theta[:-1] @ theta[:-1])
        residual = (p - target) / n
        grad = np.append(x.T @ residual + 2 * l2 * theta[:-1], residual.sum())
        return value, grad

    result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                      bounds=[*bounds, (None, None)], options={"maxiter": 5000})
    return result.x


def hand_bounds() -> list[tuple[float | None, float | None]]:
    return [(0.0, None) if n in REFUSAL_CUES else (None, 0.0) if n in COMPLIANCE_CUES else (None, None)
            for n in FEATURE_NAMES]


def fit(design: Design, params: Params, variant: str, meta: dict[str, Any] | None = None) -> Weights:
    """Fit both stages on ``design`` with fixed hyperparameters."""
    vocab = vocabulary(design.grams)
    blocks = [sparse.csr_matrix(design.hand), ngram_matrix(design.grams, vocab) * params.ngram_scale]
    if variant == "minilm":
        assert design.embedding is not None, "minilm needs embeddings"
        blocks.append(sparse.csr_matrix(design.embedding * params.embedding_scale))
    x = sparse.hstack(blocks).tocsr()
    bounds = hand_bounds() + [(None, None)] * (x.shape[1] - len(FEATURE_NAMES))
    theta = fit_logistic(x, (design.y > 0).astype(float), params.l2, bounds)
    nh, nv = len(FEATURE_NAMES), len(vocab)
    ngram = {g: round(float(w) * params.ngram_scale, 5) for g, w in zip(vocab, theta[nh:nh + nv])
             if abs(w * params.ngram_scale) >= 1e-3}
    embedding = tuple(round(float(w) * params.embedding_scale, 5) for w in theta[nh + nv:-1])
    refused = Stage(round(float(theta[-1]), 5), tuple(round(float(w), 5) for w in theta[:nh]), ngram,
                    embedding)
    mask = design.y > 0
    theta2 = fit_logistic(sparse.csr_matrix(design.hand[mask]), (design.y[mask] == 2).astype(float),
                          PARTIAL_L2, [(None, None)] * nh)
    partial = Stage(round(float(theta2[-1]), 5), tuple(round(float(w), 5) for w in theta2[:nh]), {})
    info = {"params": params.__dict__, "trained_on": sorted(set(design.models.tolist())),
            "rows": len(design.rows), **(meta or {})}
    return Weights(variant, refused, partial, SOURCE, info)


def predict(weights: Weights, design: Design) -> np.ndarray:
    """Class ids by the same arithmetic as the judge (vectorised, for model selection)."""
    def logit(stage: Stage, hand: np.ndarray, with_text: bool) -> np.ndarray:
        z = stage.bias + hand @ np.array(stage.hand)
        if with_text:
            z = z + np.array([sum(stage.ngram.get(g, 0.0) for g in found) for found in design.grams])
            if stage.embedding:
                z = z + design.embedding @ np.array(stage.embedding)
        return z

    refused = logit(weights.refused, design.hand, True) >= 0
    partial = logit(weights.partial, design.hand, False) >= 0
    return np.where(refused, np.where(partial, 2, 1), 0)


def agreement(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(binary agreement, three-class agreement)."""
    return float(np.mean((predicted > 0) == (truth > 0))), float(np.mean(predicted == truth))


def average_stages(stages: Sequence[Stage]) -> Stage:
    """The stage whose logit is the mean of ``stages``' logits (every part is linear)."""
    k = len(stages)
    grams = sorted({g for s in stages for g in s.ngram})
    ngram = {g: round(sum(s.ngram.get(g, 0.0) for s in stages) / k, 5) for g in grams}
    return Stage(round(sum(s.bias for s in stages) / k, 5),
                 tuple(round(float(w), 5) for w in np.mean([s.hand for s in stages], axis=0)),
                 {g: w for g, w in ngram.items() if abs(w) >= 1e-3},
                 tuple(round(float(w), 5) for w in np.mean([s.embedding for s in stages], axis=0))
                 if stages[0].embedding else ())


def train(design: Design, variant: str) -> Weights:
    """One fit per grid point on all of ``design``, averaged (no hyperparameter is selected)."""
    points = grid(variant)
    fits = [fit(design, params, variant) for params in points]
    first = fits[0]
    meta = {**first.meta, "params": {"averaged_grid": [p.__dict__ for p in points]}}
    return Weights(variant, average_stages([w.refused for w in fits]), first.partial, SOURCE, meta)


def judge_with(weights: Weights, encoder: EmbeddingCache | None) -> LearnedRefusalJudge:
    """The real judge on these weights (sharing the cached encoder)."""
    judge = LearnedRefusalJudge(weights)
    judge._encoder = encoder
    return judge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=("text", "minilm", "both"), default="both")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    rows = load_completions(args.data)
    variants = ("text", "minilm") if args.variant == "both" else (args.variant,)
    encoder = EmbeddingCache() if "minilm" in variants else None
    design = Design.build(rows, encoder)
    for variant in variants:
        weights = train(design, variant)
        binary, three = agreement(predict(weights, design), design.y)
        weights.meta.update(in_sample_binary=round(binary, 4), in_sample_three_class=round(three, 4))
        path = weights_path(variant)
        path.write_text(json.dumps(weights.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"{variant}: {path.relative_to(REPO)} ({path.stat().st_size // 1024} KiB, digest "
              f"{weights_digest(path.read_bytes())}: put it in WEIGHTS_DIGESTS and bump the judge's version), "
              f"{len(grid(variant))} grid points averaged, in-sample binary {binary:.3f}, three-class {three:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
