"""The human-labelled harm sets the harm judge is trained and measured on, and a disk cache of
their MiniLM embedding cache (shared by ``train_harm_classifier.py`` and ``harm_judge_accuracy.py``).

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
import sys
from dataclasses import dataclass, field
from pathlib import Path
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from embedding_cache import EmbeddingCache  # noqa: E402

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


def harm_cache() -> EmbeddingCache:
    """The harm benches' embedding file (goals, answers and their openings: about 10,000 texts)."""
    return EmbeddingCache("harm-minilm-embeddings.npz")


if __name__ == "__main__":  # prime the cache: python bench/harm_data.py
    cache = harm_cache()
    sets = {"gptfuzz-train": gptfuzz("train"), "gptfuzz-evaluate": gptfuzz("evaluate"), "jbb": jbb(),
            "xstest-safe": xstest_safe()}
    for name, rows in sets.items():
        print(name, len(rows), sum(r.label for r in rows), file=sys.stderr)
    texts = sorted({t for rows in sets.values() for r in rows for t in (r.goal, r.response)}, key=len)
    cache.vectors(texts)
    print(f"cached {len(cache.memo)} embeddings in {cache.path}", file=sys.stderr)
