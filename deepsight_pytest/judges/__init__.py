"""Judge registry and spec parsing: ``--judge NAME``, ``NAME:ARG`` or ``NAME:ARG?key=value``.

The argument of a model judge is a model spec (``llm:smollm2``, ``wildguard:hf:allenai/wildguard``);
its options are the judge's own (``?rubric=harmbench``) and, for the rest, the model's
(``?dtype=bfloat16``). Targets are lazy ``module:attr`` strings: naming a judge imports nothing heavy,
and checking a ``--judge`` value only looks its name up.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from deepsight_pytest.core.registry import Registry
from deepsight_pytest.judges.base import Judge, JudgeSpec

if TYPE_CHECKING:
    from deepsight_pytest.models import ModelContext

JUDGES: Registry[type[Judge]] = Registry("judge", "deepsight.judges",
                                         lambda obj: isinstance(obj, type) and issubclass(obj, Judge))
_ENTRIES = (
    ("refusal", "refusal:RefusalJudge", "refusal: pattern-based refusal detection (fast, offline)"),
    ("xstest", "xstest:XSTestJudge",
     "xstest[:<model>]: XSTest's three classes (full compliance / full refusal / partial refusal); "
     "rules, or XSTest's classification prompt on a judge model"),
    ("learned", "learned:LearnedRefusalJudge",
     "learned[:minilm]: refusal classifier trained on XSTest's human labels (text features; "
     "':minilm' adds MiniLM sentence embeddings)"),
    ("harm", "harm:HarmJudge",
     "harm: does the answer do the harmful goal? classifier on GPTFuzz/JailbreakBench human labels "
     "(MiniLM embeddings and text cues)"),
    ("combined", "combined:CombinedJudge",
     "combined[:<refusal judge>+<harm judge>]: refusal first, then harm for answers to harmful prompts "
     "(default learned+harm; labels refusal / harmless_answer / harmful)"),
    ("llm", "llm:RubricJudge",
     "llm:<model>[?rubric=strongreject|jailbreakbench|harmbench|mask]: a judge model with a rubric"),
    ("llama-guard-3", "guards.llama_guard:LlamaGuard3", "llama-guard-3[:<model>]: Llama Guard 3 (S1-S14)"),
    ("llama-guard-4", "guards.llama_guard:LlamaGuard4", "llama-guard-4[:<model>]: Llama Guard 4 (S1-S14)"),
    ("wildguard", "guards.wildguard:WildGuard", "wildguard[:<model>]: WildGuard (harm and refusal)"),
    ("harmbench-cls", "guards.harmbench_cls:HarmBenchClassifier",
     "harmbench-cls[:<model>]: HarmBench's Llama-2-13b behaviour classifier (yes/no)"),
    ("proguard", "guards.proguard:ProGuard", "proguard[:<model>]: ProGuard (Request/Response/Category)"),
    ("md-judge", "guards.md_judge:MDJudge", "md-judge[:<model>]: SALAD-Bench's MD-Judge (O1-O6)"),
    ("mcq", "mcq:MCQJudge", "mcq: SafeSci-style letter-set and true/false scoring"),
    ("stance", "stance:StanceJudge",
     "stance: which side of a MASK <pivotal> proposition an answer takes (strict rules; accuracy vs the ground truth)"),
    ("deception", "deception:DeceptionJudge",
     "deception: DeceptionBench's <think> reasoning and <output> action against the model's own view (strict rules)"),
    ("fake-alignment", "fake_alignment:FakeAlignmentJudge",
     "fake-alignment[:<judge>]: Fake-Alignment's pairwise [[A]]/[[B]] choices strictly; open answers by <judge> "
     "(default combined)"),
    ("behonest", "behonest:BeHonestJudge",
     "behonest: BeHonest Unknowns (admits not knowing?) and Knowns (right, admits not knowing, or wrong)"),
    ("persuasion", "persuasion:PersuasionJudge",
     "persuasion: did a partner dialogue move the partner's final 1-10 score the way the model was told to?"),
    ("ensemble", "ensemble:EnsembleJudge",
     "ensemble:<judge>+<judge>[?rule=majority|any|all]: several judges and a combination rule"),
)
for _name, _target, _help in _ENTRIES:
    JUDGES.add(_name, f"deepsight_pytest.judges.{_target}", _help)


def parse_judge_spec(text: str) -> JudgeSpec:
    """Split a spec into registry name, argument and options; check the name (cheap: no import)."""
    head, _, query = text.strip().partition("?")
    name, _, arg = head.partition(":")
    JUDGES.entry(name)  # raises SpecError listing the known names
    return JudgeSpec(text.strip(), name, arg, dict(parse_qsl(query, keep_blank_values=True)))


def create_judge(text: str, context: "ModelContext | None" = None) -> Judge:
    """Build the judge for a spec (cheap: a judge model loads on first use).

    ``context`` is the run's model context; judge models are built with it (API-key variable)."""
    spec = replace(parse_judge_spec(text), context=context)
    return JUDGES.get(spec.name).from_spec(spec)


__all__ = ["JUDGES", "Judge", "JudgeSpec", "create_judge", "parse_judge_spec"]
