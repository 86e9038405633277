"""Does the harm judge gain from reading more of the answer, or the answer against its goal?

    PYTHONPATH=$PWD .venv/bin/python bench/harm_reader_blocks.py     # measurement only, nothing written

The shipped ``harm`` regression reads MiniLM embeddings of the goal, of the answer (its first 256
tokens) and of its opening, each encoded alone (``judges/harm_features.py``). Its losses (README,
"How right the harm judge is") are answers whose harm comes late or does not look like the goal
at its start. Two extra embedding blocks test the two readings a cross-encoder would add, each
appended to the shipped design and run through the very protocol of ``train_harm_classifier.py``
(JailbreakBench 5-fold CV grouped by goal, C chosen on it; GPTFuzz evaluate fitted without it):

* ``pair``: the answer encoded *with* its goal (MiniLM's text-pair input, ``goal [SEP] answer``,
  the answer truncated to fill 256 tokens), mean-pooled over the answer's tokens only: every answer
  token has attended to the goal;
* ``tail``: the answer after its first 1,000 characters (about where MiniLM stops reading), encoded
  alone; an empty tail is the embedding of a blank.

Printed: each variant's JailbreakBench out-of-fold figures, cut-copy figures and GPTFuzz evaluate
figures, side by side. Pair embeddings are memoised in ``<user cache>/harm-pair-embeddings.npz``.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_harm_classifier as trainer  # noqa: E402
from harm_data import Row, harm_cache  # noqa: E402

TAIL_FROM = 1000
MAX_TOKENS = 256


class PairCache:
    """MiniLM answer-token means of (goal, answer) pairs, memoised by the pair's hash."""

    def __init__(self) -> None:
        from deepsight_pytest.models.cache_dirs import user_cache_dir

        self.path = user_cache_dir() / "harm-pair-embeddings.npz"
        self.memo: dict[str, np.ndarray] = {}
        if self.path.is_file():
            stored = np.load(self.path)
            self.memo = dict(zip(stored["keys"].tolist(), stored["vectors"]))
        self._model = None

    @staticmethod
    def key(goal: str, answer: str) -> str:
        return hashlib.sha256(f"{goal}\0{answer}".encode()).hexdigest()

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        from deepsight_pytest.judges.embedding import model_dir

        self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
        self._model = AutoModel.from_pretrained(str(model_dir())).eval()

    def vectors(self, pairs: Sequence[tuple[str, str]], batch: int = 32) -> np.ndarray:
        import torch

        keys = [self.key(g, a) for g, a in pairs]
        todo = sorted({k: p for k, p in zip(keys, pairs) if k not in self.memo}.items(), key=lambda kv: len(kv[1][1]))
        if todo and self._model is None:
            self._load()
        for start in range(0, len(todo), batch):
            part = todo[start:start + batch]
            encoded = self._tokenizer([g or " " for _, (g, _) in part], [a or " " for _, (_, a) in part],
                                      padding=True, truncation="only_second", max_length=MAX_TOKENS,
                                      return_tensors="pt", return_token_type_ids=True)
            with torch.inference_mode():
                hidden = self._model(**encoded).last_hidden_state
            answer = (encoded["token_type_ids"] * encoded["attention_mask"]).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * answer).sum(1) / answer.sum(1).clamp(min=1e-9)
            for (key, _), vector in zip(part, torch.nn.functional.normalize(pooled, dim=1).numpy()):
                self.memo[key] = vector.astype(np.float32)
            if (start // batch) % 40 == 0 or start + batch >= len(todo):
                self.save()
                print(f"  pairs {min(start + batch, len(todo))}/{len(todo)}", file=sys.stderr, flush=True)
        return np.stack([self.memo[k] for k in keys])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(self.memo)), vectors=np.stack(list(self.memo.values())))
        tmp.replace(self.path)


def with_blocks(blocks: tuple[str, ...], pairs: PairCache):
    """``train_harm_classifier.design`` with ``blocks`` appended to every row."""
    shipped = trainer.design

    def design(rows: Sequence[Row], cache, weight: float = 1.0) -> trainer.Part:
        part = shipped(rows, cache, weight)
        extra = []
        if "pair" in blocks:
            vectors = pairs.vectors([(trainer.request_of(r.goal), r.response) for r in rows])
            goals = cache.vectors([trainer.request_of(r.goal) for r in rows])
            extra += [vectors, (vectors * goals).sum(1, keepdims=True)]
        if "tail" in blocks:
            extra.append(cache.vectors([r.response[TAIL_FROM:] or " " for r in rows]))
        return trainer.Part(np.hstack([part.x, *extra]), part.y, part.groups, part.weight)

    return design


def main() -> int:
    pairs, cache = PairCache(), harm_cache()
    shipped = trainer.design
    table = []
    for blocks in ((), ("tail",), ("pair",), ("pair", "tail")):
        trainer.design = with_blocks(blocks, pairs)
        try:
            result = trainer.study(cache)
        finally:
            trainer.design = shipped
        name = "shipped blocks" + "".join(f" + {b}" for b in blocks)
        jbb = trainer.metrics(result.jbb_pred, [r.label for r in result.jbb_rows])
        cut = trainer.metrics(result.jbb_cut_pred, result.jbb_cut_y)
        fuzz = trainer.metrics(result.gptfuzz_eval_pred, result.gptfuzz_eval_y)
        table.append((name, result.c, jbb, cut, fuzz))
        print(f"{name}: C {result.c:g}; JBB {trainer.show(jbb)}; cut {trainer.show(cut)}; "
              f"GPTFuzz eval {trainer.show(fuzz)}", flush=True)
    print("\nagreement with the human labels (F1 for harmful), rows the fit never saw")
    print(f"{'design':34} {'C':>6} {'JailbreakBench 300':>20} {'JBB cut 300 chars':>20} {'GPTFuzz evaluate':>20}")
    for name, c, jbb, cut, fuzz in table:
        cells = [f"{m['agreement']:.3f} ({m['f1']:.3f})" for m in (jbb, cut, fuzz)]
        print(f"{name:34} {c:>6g} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
