"""MiniLM embeddings memoised on disk by text hash, for the benches that train and measure judges.

One class for ``train_refusal_classifier.py``, ``judge_accuracy.py``, ``train_harm_classifier.py``
and ``harm_judge_accuracy.py``: the numbers are the judges' own encoder's (:mod:`deepsight_pytest.
judges.embedding`), computed once. ``encode`` has that encoder's interface (lists), so a judge can
read through the cache; ``vectors`` gives an array for design matrices.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np


class EmbeddingCache:
    """Embeddings by sha256 of the text, in ``<user cache>/<name>``; saved every ``chunk`` texts."""

    def __init__(self, name: str = "minilm-embeddings.npz", path: Path | None = None) -> None:
        from deepsight_pytest.models.cache_dirs import user_cache_dir

        self.path = path or user_cache_dir() / name
        self.memo: dict[str, np.ndarray] = {}
        self._encoder: Any = None
        if self.path.is_file():
            stored = np.load(self.path)
            self.memo = dict(zip(stored["keys"].tolist(), stored["vectors"]))

    def vectors(self, texts: Sequence[str], chunk: int = 512) -> np.ndarray:
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        missing = {k: t for k, t in zip(keys, texts) if k not in self.memo}
        if missing:
            from deepsight_pytest.judges.embedding import MiniLMEncoder

            self._encoder = self._encoder or MiniLMEncoder()
            todo = sorted(missing.items(), key=lambda kv: len(kv[1]))  # similar lengths pad less
            for start in range(0, len(todo), chunk):
                part = todo[start:start + chunk]
                for (key, _), vector in zip(part, self._encoder.encode([t for _, t in part])):
                    self.memo[key] = np.asarray(vector, dtype=np.float32)
                self.save()
                print(f"  embedded {min(start + chunk, len(todo))}/{len(todo)}", file=sys.stderr, flush=True)
        return np.stack([self.memo[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """The judges' encoder interface (``MiniLMEncoder.encode``), served from the cache."""
        return [v.tolist() for v in self.vectors(list(texts))]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(self.memo)), vectors=np.stack(list(self.memo.values())))
        tmp.replace(self.path)
