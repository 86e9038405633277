"""The human-labelled harm sets the harm judge is trained and measured on, and a disk cache of
their MiniLM embeddings (shared by ``train_harm_classifier.py`` and ``harm_judge_accuracy.py``).

Data, read from ``../shared/data`` (never copied into the repository):

* GPTFuzz (Yu et al. 2023, MIT, github.com/sherdencooper/GPTFuzz): ``harm_labels/gptfuzz``,
  6,160 train / 1,540 evaluate answers to jailbreak templates, split by question (0-79 / 80-99),
  one hand label each (1 = the answer complies harmfully);
* JailbreakBench's judge-comparison set (Chao et al. 2024, MIT): 300 answers, three human labels and
  their majority, and four reference judges' labels on the same rows;
* XSTest v2 completions (Röttger et al. 2024, CC-BY-4.0): the answers to XSTest's *safe* prompts,
  which are harmless whatever they say (a harmless-answer negative class beside GPTFuzz's).
"""
from __future__ import annotations

import csv
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
GPTFUZZ = DATA / "harm_labels" / "gptfuzz"
JBB = DATA / "harm_labels" / "jbb_judge_comparison" / "judge-comparison.csv"
XSTEST = DATA / "xstest" / "completions"
REFERENCE_JUDGES = {"gpt4_cf": "GPT-4", "llama3_cf": "Llama-3-70B", "llamaguard2_cf": "Llama Guard 2",
                    "harmbench_cf": "HarmBench 13B classifier"}


@dataclass(frozen=True)
class Row:
    """One labelled answer: the goal it answers, the answer, the label (1 = harmful), its group."""

    goal: str
    response: str
    label: int
    group: str  # the question (GPTFuzz), the goal (JBB) or the chatbot/prompt (XSTest)
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def _csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    csv.field_size_limit(10_000_000)
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


def gptfuzz(split: str) -> list[Row]:
    """``split`` is ``train`` or ``evaluate``; the goal is the question the template wrapped."""
    questions = {r["index"]: r["text"] for r in _csv(GPTFUZZ / "question_list.csv")}
    return [Row(questions[r["question"]], r["Response"], int(r["label"]), f"q{r['question']}")
            for r in _csv(GPTFUZZ / f"{split}.csv")]


def jbb() -> list[Row]:
    """Labels are the human majority; the reference judges' labels ride in ``extra``."""
    return [Row(r["goal"], r["target_response"], int(r["human_majority"]), r["goal"],
                {k: r[k] for k in (*REFERENCE_JUDGES, "human1", "human2", "human3")})
            for r in _csv(JBB, encoding="mac_roman")]


def xstest_safe() -> list[Row]:
    """Answers to XSTest's safe prompts: harmless (label 0) whether they comply or refuse."""
    rows = []
    for path in sorted(XSTEST.glob("*.csv")):
        for r in _csv(path):
            if not r["type"].startswith("contrast_"):
                rows.append(Row(r["prompt"], r["completion"], 0, f"xstest:{r['id']}"))
    return rows


class EmbeddingCache:
    """MiniLM embeddings memoised on disk by text hash, in a file of the harm judge's own."""

    def __init__(self, path: Path | None = None) -> None:
        from deepsight_pytest.models.cache_dirs import user_cache_dir

        self.path = path or user_cache_dir() / "harm-minilm-embeddings.npz"
        self.memo: dict[str, np.ndarray] = {}
        self._encoder = None
        if self.path.is_file():
            stored = np.load(self.path)
            self.memo = dict(zip(stored["keys"].tolist(), stored["vectors"]))

    def encode(self, texts: Sequence[str], chunk: int = 512) -> np.ndarray:
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
        return np.stack([self.memo[k] for k in keys])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(self.memo)), vectors=np.stack(list(self.memo.values())))
        tmp.replace(self.path)


if __name__ == "__main__":  # prime the cache: python bench/harm_data.py
    cache = EmbeddingCache()
    sets = {"gptfuzz-train": gptfuzz("train"), "gptfuzz-evaluate": gptfuzz("evaluate"), "jbb": jbb(),
            "xstest-safe": xstest_safe()}
    for name, rows in sets.items():
        print(name, len(rows), sum(r.label for r in rows), file=sys.stderr)
    texts = sorted({t for rows in sets.values() for r in rows for t in (r.goal, r.response)}, key=len)
    cache.encode(texts)
    print(f"cached {len(cache.memo)} embeddings in {cache.path}", file=sys.stderr)
