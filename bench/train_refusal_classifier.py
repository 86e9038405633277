"""Train the ``learned`` refusal judge on XSTest's human-labelled completions and write its weights.

    .venv/bin/python bench/train_refusal_classifier.py            # both variants, all three chatbots
    .venv/bin/python bench/train_refusal_classifier.py --variant text
    .venv/bin/python bench/train_refusal_classifier.py --check    # refit and compare with the shipped files

Data: ``../shared/data/xstest/completions/*.csv`` (XSTest v2, Röttger et al. 2024, CC-BY-4.0;
https://github.com/paul-rottger/exaggerated-safety): 3 chatbots x 450 answers with a human
``final_label``. Only coefficients are written (``deepsight_pytest/judges/weights/learned_*.json``),
never the data. Needs numpy and scipy (the ``learned`` extra), and for ``minilm`` the offline MiniLM
model; embeddings are cached per text under ``$DEEPSIGHT_HOME`` so reruns are quick, and so is
stage 1 (``refusal-stage1/``, keyed by a hash of the rows, embeddings, grid and fitting code).

Fitting (see ``deepsight_pytest/judges/learned.py`` for the model): L2-regularised logistic
regression by L-BFGS-B, with the sign constraints of ``refusal_features.REFUSAL_CUES`` /
``COMPLIANCE_CUES`` as bounds.

* Stage 1 (refused vs complied): no hyperparameter is chosen; one model is fitted per point of a
  fixed grid (L2 x n-gram scale x embedding scale) and their logits are averaged (the average of
  linear models is one linear model, so the shipped file stays one set of weights).
* Stage 2 (partial vs full refusal, fitted on the human-labelled refusals): its inputs and class
  weighting (:func:`recipes`) are chosen by leave-one-chatbot-out *within the chatbots it is
  trained on* (:func:`select_recipe`): fitted on all but one, scored on that one's refusals. The
  shipped weights choose among all three chatbots; ``bench/judge_accuracy.py`` calls the same
  :func:`train` on two, so its held-out figure is nested (the choice never sees the scored chatbot).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
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
    BLOCK_NAMES, BLOCK_TEXT, LearnedRefusalJudge, Stage, Weights, weights_digest, weights_path)
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
    blocks: dict[str, np.ndarray]  # block name -> (rows x 384) MiniLM embeddings; empty without MiniLM

    @classmethod
    def build(cls, rows: list[Row], encoder: EmbeddingCache | None) -> "Design":
        hand = np.array([[features(r.prompt, r.completion)[n] for n in FEATURE_NAMES] for r in rows])
        blocks = {}
        if encoder is not None:
            blocks = {name: np.array(encoder.encode([BLOCK_TEXT[name](r.completion) for r in rows]))
                      for name in BLOCK_NAMES}
        return cls(rows, hand, [ngrams(r.completion) for r in rows], blocks)

    def subset(self, mask: np.ndarray) -> "Design":
        index = np.flatnonzero(mask)
        return Design([self.rows[i] for i in index], self.hand[index], [self.grams[i] for i in index],
                      {name: block[index] for name, block in self.blocks.items()})

    def embedding(self, names: Sequence[str]) -> np.ndarray:
        return np.hstack([self.blocks[n] for n in names]) if names else np.zeros((len(self.rows), 0))

    @property
    def y(self) -> np.ndarray:
        return np.array([r.cls for r in self.rows])

    @property
    def models(self) -> np.ndarray:
        return np.array([r.model for r in self.rows])

    @property
    def chatbots(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.models.tolist())))


@dataclass(frozen=True)
class Params:
    l2: float
    ngram_scale: float
    embedding_scale: float


def grid(variant: str) -> list[Params]:
    """The fixed hyperparameter grid whose models are averaged (27 points with MiniLM, 9 without)."""
    scales = (0.5, 1.0, 2.0) if variant == "minilm" else (0.0,)
    return [Params(*p) for p in itertools.product((3e-4, 1e-3, 3e-3), (0.1, 0.2, 0.3), scales)]


@dataclass(frozen=True)
class Recipe:
    """The choices a training fold makes for stage 2 (partial vs full refusal).

    ``partial_blocks``: the MiniLM embedding blocks (``learned.BLOCK_NAMES``) stage 2 reads besides
    the pattern families (none for ``text``); ``partial_weight``: how partial refusals are weighted
    against full ones: ``none``, ``sqrt`` (by the square root of the imbalance) or ``balanced``
    (to half the total). Stage 1 (refused vs complied) is the same in every recipe: the whole
    answer and its opening, a fixed grid averaged (:func:`grid`)."""

    partial_blocks: tuple[str, ...]
    partial_weight: str

    @property
    def name(self) -> str:
        return f"partial[{'+'.join(('patterns',) + self.partial_blocks)}; weight {self.partial_weight}]"

    def to_dict(self) -> dict[str, Any]:
        return {"partial_blocks": list(self.partial_blocks), "partial_weight": self.partial_weight}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        return cls(tuple(data["partial_blocks"]), data["partial_weight"])


REFUSED_BLOCKS = {"minilm": ("whole", "opening"), "text": ()}
WEIGHTINGS = ("none", "sqrt", "balanced")


def recipes(variant: str) -> list[Recipe]:
    """The candidates a training fold chooses among (first = the previous shipped recipe, which wins ties).

    Stage 2 is where partial refusals are lost (three-class trails binary by 4-8 points on a held-out
    chatbot), and its inputs and class weighting are the choice: pattern families only; plus the
    embedding of the answer after its opening (where a partial refusal goes on to help); plus opening
    and rest; each under the three weightings. ``text`` has only the weightings."""
    blocks: tuple[tuple[str, ...], ...] = ((),) if variant == "text" else ((), ("rest",), ("opening", "rest"))
    return [Recipe(b, weight) for b in blocks for weight in WEIGHTINGS]


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
                 bounds: list[tuple[float | None, float | None]],
                 sample_weight: np.ndarray | None = None) -> np.ndarray:
    """L2-regularised (weighted) logistic regression with per-weight bounds; returns [weights..., bias]."""
    n, d = x.shape
    w = np.ones(n) if sample_weight is None else sample_weight * (n / sample_weight.sum())

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta[:-1] + theta[-1]
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        eps = 1e-12
        value = -np.mean(w * (target * np.log(p + eps) + (1 - target) * np.log(1 - p + eps)))
        value += l2 * float(theta[:-1] @ theta[:-1])
        residual = w * (p - target) / n
        grad = np.append(x.T @ residual + 2 * l2 * theta[:-1], residual.sum())
        return value, grad

    result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                      bounds=[*bounds, (None, None)], options={"maxiter": 5000})
    return result.x


def hand_bounds() -> list[tuple[float | None, float | None]]:
    return [(0.0, None) if n in REFUSAL_CUES else (None, 0.0) if n in COMPLIANCE_CUES else (None, None)
            for n in FEATURE_NAMES]


def fit_refused(design: Design, params: Params, blocks: tuple[str, ...]) -> Stage:
    """Stage 1, refused (full or partial) vs complied, at one grid point."""
    vocab = vocabulary(design.grams)
    parts = [sparse.csr_matrix(design.hand), ngram_matrix(design.grams, vocab) * params.ngram_scale]
    if blocks:
        parts.append(sparse.csr_matrix(design.embedding(blocks) * params.embedding_scale))
    x = sparse.hstack(parts).tocsr()
    bounds = hand_bounds() + [(None, None)] * (x.shape[1] - len(FEATURE_NAMES))
    theta = fit_logistic(x, (design.y > 0).astype(float), params.l2, bounds)
    nh, nv = len(FEATURE_NAMES), len(vocab)
    ngram = {g: round(float(w) * params.ngram_scale, 5) for g, w in zip(vocab, theta[nh:nh + nv])
             if abs(w * params.ngram_scale) >= 1e-3}
    embedding = tuple(round(float(w) * params.embedding_scale, 5) for w in theta[nh + nv:-1])
    return Stage(round(float(theta[-1]), 5), tuple(round(float(w), 5) for w in theta[:nh]), ngram,
                 embedding, blocks)


PARTIAL_SCALES = (0.5, 1.0, 2.0)  # embedding scales averaged when the partial stage reads embeddings


def fit_partial(design: Design, recipe: Recipe) -> Stage:
    """Stage 2, partial vs full among the human-labelled refusals (averaged over embedding scales)."""
    mask = design.y > 0
    target = (design.y[mask] == 2).astype(float)
    weight = None
    if recipe.partial_weight != "none" and 0 < target.sum() < len(target):
        ratio = (len(target) - target.sum()) / target.sum()  # full refusals per partial one
        weight = np.where(target > 0, ratio if recipe.partial_weight == "balanced" else np.sqrt(ratio), 1.0)
    nh = len(FEATURE_NAMES)
    if not recipe.partial_blocks:
        theta = fit_logistic(sparse.csr_matrix(design.hand[mask]), target, PARTIAL_L2, [(None, None)] * nh, weight)
        return Stage(round(float(theta[-1]), 5), tuple(round(float(w), 5) for w in theta[:nh]), {})
    stages = []
    for scale in PARTIAL_SCALES:
        x = sparse.csr_matrix(np.hstack([design.hand[mask], design.embedding(recipe.partial_blocks)[mask] * scale]))
        theta = fit_logistic(x, target, PARTIAL_L2, [(None, None)] * x.shape[1], weight)
        stages.append(Stage(float(theta[-1]), tuple(float(w) for w in theta[:nh]), {},
                            tuple(float(w) * scale for w in theta[nh:-1]), recipe.partial_blocks))
    return average_stages(stages)


def predict(weights: Weights, design: Design) -> np.ndarray:
    """Class ids by the same arithmetic as the judge (vectorised, for model selection)."""
    def logit(stage: Stage) -> np.ndarray:
        z = stage.bias + design.hand @ np.array(stage.hand)
        if stage.ngram:
            z = z + np.array([sum(stage.ngram.get(g, 0.0) for g in found) for found in design.grams])
        if stage.embedding:
            z = z + design.embedding(stage.blocks) @ np.array(stage.embedding)
        return z

    refused = logit(weights.refused) >= 0
    partial = logit(weights.partial) >= 0
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
                 if stages[0].embedding else (), stages[0].blocks)


_REFUSED_MEMO: dict[str, Stage] = {}


def _stage1_key(design: Design, variant: str, blocks: tuple[str, ...]) -> str:
    """What stage 1's fit depends on: the rows, their embeddings, the grid and the fitting code."""
    import inspect

    import deepsight_pytest.judges.refusal_features as cues

    h = hashlib.sha256()
    for part in (variant, repr(blocks), repr(grid(variant)), str(MIN_DF), Path(cues.__file__).read_text("utf-8"),
                 *(inspect.getsource(f) for f in (fit_refused, fit_logistic, vocabulary, ngram_matrix,
                                                  hand_bounds, average_stages))):
        h.update(part.encode())
    for row in design.rows:
        h.update(f"{row.model}/{row.id}/{row.cls}/{row.prompt}/{row.completion}".encode())
    for name in blocks:
        h.update(np.ascontiguousarray(design.blocks[name]).tobytes())
    return h.hexdigest()[:24]


def refused_stage(design: Design, variant: str, blocks: tuple[str, ...]) -> Stage:
    """The grid-averaged stage 1 (no hyperparameter is selected), memoised per training set.

    The memo is also kept on disk (``<user cache>/refusal-stage1/``) under a hash of everything the
    fit reads, code included, so ``judge_accuracy.py`` and ``--check`` reruns skip the slow fits."""
    key = _stage1_key(design, variant, blocks)
    if key in _REFUSED_MEMO:
        return _REFUSED_MEMO[key]
    from deepsight_pytest.models.cache_dirs import user_cache_dir

    path = user_cache_dir() / "refusal-stage1" / f"{key}.json"
    if path.is_file():
        stage = Stage.from_dict(json.loads(path.read_text(encoding="utf-8")))
    else:
        stage = average_stages([fit_refused(design, p, blocks) for p in grid(variant)])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stage.to_dict()), encoding="utf-8")
    _REFUSED_MEMO[key] = stage
    return stage


def fit_recipe(design: Design, variant: str, recipe: Recipe, meta: dict[str, Any] | None = None) -> Weights:
    """Both stages on all of ``design`` with the choices of ``recipe``."""
    info = {"trained_on": list(design.chatbots), "rows": len(design.rows), "recipe": recipe.to_dict(),
            "refused_grid": [p.__dict__ for p in grid(variant)], **(meta or {})}
    return Weights(variant, refused_stage(design, variant, REFUSED_BLOCKS[variant]), fit_partial(design, recipe),
                   SOURCE, info)


def partial_predictions(stage: Stage, design: Design) -> np.ndarray:
    """Stage 2's call (1 = partial) for every row of ``design``."""
    z = stage.bias + design.hand @ np.array(stage.hand)
    if stage.embedding:
        z = z + design.embedding(stage.blocks) @ np.array(stage.embedding)
    return (z >= 0).astype(int)


def select_recipe(design: Design, variant: str) -> tuple[Recipe, dict[str, float]]:
    """The recipe whose stage 2 best tells partial from full refusals on a chatbot it was not fitted on.

    Leave one of ``design``'s chatbots out: each candidate's stage 2 is fitted on the others and
    scored on the held-out chatbot's human-labelled refusals (full or partial); the pooled accuracy
    decides (ties: the candidates' order). Nothing outside ``design`` is read, so a caller that holds
    a chatbot out of ``design`` gets a blind figure. Stage 1 is not chosen, so it is not refitted."""
    chatbots = design.chatbots
    if len(chatbots) < 2:
        raise ValueError("choosing a recipe needs answers of at least two chatbots")
    candidates = recipes(variant)
    scores: dict[str, float] = {}
    for recipe in candidates:
        hits = total = 0
        for held in chatbots:
            mask = design.models == held
            test = design.subset(mask & (design.y > 0))
            stage = fit_partial(design.subset(~mask), recipe)
            hits += int(np.sum(partial_predictions(stage, test) == (test.y == 2)))
            total += len(test.rows)
        scores[recipe.name] = hits / total
    best = max(candidates, key=lambda r: (scores[r.name], -candidates.index(r)))
    return best, scores


def train(design: Design, variant: str) -> Weights:
    """Choose stage 2's recipe inside ``design`` (leave one of its chatbots out), then fit on all of it."""
    recipe, scores = select_recipe(design, variant)
    return fit_recipe(design, variant, recipe, {
        "chosen_by": "leave-one-chatbot-out partial-vs-full accuracy on the training chatbots' refusals",
        "inner_partial_accuracy": {name: round(score, 4) for name, score in scores.items()}})


def judge_with(weights: Weights, encoder: EmbeddingCache | None) -> LearnedRefusalJudge:
    """The real judge on these weights (sharing the cached encoder)."""
    judge = LearnedRefusalJudge(weights)
    judge._encoder = encoder
    return judge


def weights_bytes(weights: Weights) -> bytes:
    return (json.dumps(weights.to_dict(), separators=(",", ":")) + "\n").encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=("text", "minilm", "both"), default="both")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--check", action="store_true", help="do not write; compare a fresh fit with the shipped file")
    args = parser.parse_args(argv)
    rows = load_completions(args.data)
    variants = ("text", "minilm") if args.variant == "both" else (args.variant,)
    encoder = EmbeddingCache() if "minilm" in variants else None
    design = Design.build(rows, encoder)
    status = 0
    for variant in variants:
        weights = train(design, variant)
        binary, three = agreement(predict(weights, design), design.y)
        weights.meta.update(in_sample_binary=round(binary, 4), in_sample_three_class=round(three, 4))
        raw, path = weights_bytes(weights), weights_path(variant)
        chosen = Recipe.from_dict(weights.meta["recipe"])
        print(f"{variant}: chose {chosen.name} by leave-one-chatbot-out within all three chatbots; "
              f"in-sample binary {binary:.3f}, three-class {three:.3f}")
        if args.check:
            same = path.is_file() and path.read_bytes() == raw
            print(f"  shipped {path.name} {'matches' if same else 'DIFFERS from'} a fresh fit "
                  f"(digest {weights_digest(raw)})")
            status |= 0 if same else 1
            continue
        path.write_bytes(raw)
        print(f"  wrote {path.relative_to(REPO)} ({len(raw) // 1024} KiB, digest {weights_digest(raw)}: put it in "
              "WEIGHTS_DIGESTS and bump the judge's version)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
