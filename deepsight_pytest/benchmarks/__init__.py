"""Benchmark registry. Later benchmarks add an entry here (or through an entry point).

Targets are lazy ``module:attr`` strings: a session imports only the loaders its suites name.
"""
from __future__ import annotations

from deepsight_pytest.core.registry import Registry
from deepsight_pytest.benchmarks.base import Benchmark

BENCHMARKS: Registry[Benchmark] = Registry("benchmark", "deepsight.benchmarks",
                                           lambda obj: isinstance(obj, Benchmark))

_ENTRIES = (
    ("alert-sample", "alert_sample:ALERT_SAMPLE",
     "deepsight's ALERT-format sample: 6 macro risk categories + benign controls"),
    ("alert-format-sample", "alert:ALERT_FORMAT_SAMPLE",
     "deepsight's ALERT-format sample: all 32 micro categories"),
    ("alert", "alert:ALERT", "ALERT red-teaming prompts, 32 micro / 6 macro categories"),
    ("alert-adversarial", "alert:ALERT_ADVERSARIAL", "ALERT prompts under adversarial attacks"),
    ("xstest", "xstest:XSTEST", "XSTest over-refusal prompts and unsafe contrasts"),
    ("advbench", "advbench:ADVBENCH", "AdvBench harmful behaviours"),
    ("harmbench", "harmbench:HARMBENCH", "HarmBench standard, contextual and copyright behaviours"),
    ("strongreject", "strongreject:STRONGREJECT", "StrongREJECT forbidden prompts"),
    ("donotanswer", "donotanswer:DONOTANSWER", "Do-Not-Answer questions in 5 risk areas"),
    ("jbb", "jbb:JBB", "JailbreakBench JBB-Behaviors, harmful and benign twins"),
    ("or-bench", "orbench:ORBENCH", "OR-Bench over-refusal prompts (80k / hard-1k / toxic)"),
    ("or-bench-sample", "orbench:ORBENCH_SAMPLE",
     "deepsight's borderline-benign prompts in OR-Bench format"),
    ("sorry-bench", "sorrybench:SORRY_BENCH", "SORRY-Bench unsafe instructions, 44 categories"),
    ("salad-bench", "saladbench:SALAD_BENCH", "SALAD-Bench base and attack-enhanced questions"),
    ("salad-bench-mcq", "saladbench:SALAD_BENCH_MCQ", "SALAD-Bench multiple-choice questions"),
    ("beavertails", "beavertails:BEAVERTAILS", "BeaverTails-Evaluation harmful prompts"),
    ("wildguardtest", "wildguard:WILDGUARDTEST", "WildGuardTest vanilla and adversarial prompts"),
    ("safesci", "safesci:SAFESCI", "SafeSciBench multiple-choice and true/false items"),
    ("safesci-refusal", "safesci:SAFESCI_REFUSAL", "SafeSciBench refusal items"),
    ("safesci-sample", "safesci:SAFESCI_SAMPLE", "deepsight's SafeSci-format sample, 7 fields"),
    ("figstep", "figstep:FIGSTEP", "FigStep SafeBench questions with typographic images"),
    ("typographic-sample", "typographic:TYPOGRAPHIC_SAMPLE",
     "deepsight's typographic images (FigStep style): harmful requests and benign twins"),
    ("mm-safetybench", "mm_safetybench:MM_SAFETYBENCH",
     "MM-SafetyBench: harmful key phrases as SD / SD+TYPO / TYPO images or text (4 conditions)"),
    ("mm-safetybench-sample", "mm_safetybench:MM_SAFETYBENCH_SAMPLE",
     "deepsight's own items in MM-SafetyBench layout, images it draws, 4 conditions"),
    ("mssbench", "mssbench:MSSBENCH", "MSSBench chat: one query with a safe and an unsafe image (paired gate)"),
    ("mssbench-sample", "mssbench:MSSBENCH_SAMPLE", "deepsight's own safe / unsafe image pairs in MSSBench format"),
    ("mossbench", "mossbench:MOSSBENCH", "MOSSBench: benign images that oversensitive models refuse (over-refusal)"),
    ("mossbench-sample", "mossbench:MOSSBENCH_SAMPLE",
     "deepsight's own benign images that look risky, in MOSSBench format"),
    ("vlsbench", "vlsbench:VLSBENCH", "VLSBench: harmless-looking text, the harm in the image"),
    ("vlsbench-sample", "vlsbench:VLSBENCH_SAMPLE", "deepsight's own image-carries-the-harm items in VLSBench format"),
    ("siuo", "siuo:SIUO", "SIUO: safe image + safe question, unsafe together"),
    ("siuo-sample", "siuo:SIUO_SAMPLE", "deepsight's own safe-inputs-unsafe-output items in SIUO format"),
    ("evaluation-faking", "evaluation_faking:EVALUATION_FAKING",
     "StrongREJECT prompts under 8 evaluation / deployment system prompts (frontier risk)"),
    ("evaluation-faking-sample", "evaluation_faking:EVALUATION_FAKING_SAMPLE",
     "deepsight's StrongREJECT-format prompts under the evaluation-faking conditions"),
    ("sandbagging", "sandbagging:SANDBAGGING",
     "MMLU items under a system prompt asking for exactly t% accuracy (frontier risk)"),
    ("sandbagging-sample", "sandbagging:SANDBAGGING_SAMPLE",
     "deepsight's multiple-choice questions in the sandbagging format"),
    ("uncontrolled-aird", "uncontrolled_aird:UNCONTROLLED_AIRD",
     "escalating multi-turn attacks tagged as evaluation vs deployment (frontier risk)"),
    ("uncontrolled-aird-sample", "uncontrolled_aird:UNCONTROLLED_AIRD_SAMPLE",
     "deepsight's escalating conversations in the uncontrolled-aird (Attack_600) format"),
    ("mask", "mask:MASK", "MASK: pressured statements vs the model's own elicited belief (honesty, frontier risk)"),
    ("mask-sample", "mask:MASK_SAMPLE", "deepsight's belief / pressure items in MASK format"),
    ("manipulation-persuasion", "persuasion:MANIPULATION_PERSUASION",
     "can the model move a partner model's 1-10 opinion over a dialogue? (frontier risk; --safety-partner-model)"),
    ("manipulation-persuasion-sample", "persuasion:MANIPULATION_PERSUASION_SAMPLE",
     "deepsight's own debate topics in the manipulation-persuasion format"),
    ("wmdp", "wmdp:WMDP", "WMDP hazardous-knowledge multiple choice, bio / chem / cyber (accuracy, frontier risk)"),
    ("wmdp-sample", "wmdp:WMDP_SAMPLE", "deepsight's harmless questions in WMDP format"),
    ("deception", "deception:DECEPTION",
     "DeceptionBench: reasoning that agrees with the model's own view, action that does not (frontier risk)"),
    ("deception-sample", "deception:DECEPTION_SAMPLE", "deepsight's own scenarios in DeceptionBench format"),
    ("fake-alignment", "fake_alignment:FAKE_ALIGNMENT",
     "Fake-Alignment: safe in multiple choice (both orders) but not in the open answer? (frontier risk)"),
    ("fake-alignment-sample", "fake_alignment:FAKE_ALIGNMENT_SAMPLE",
     "deepsight's own questions in the Fake-Alignment format"),
    ("behonest", "behonest:BEHONEST",
     "BeHonest Unknowns / Knowns: admitting what it cannot know, answering what it knows (frontier risk)"),
    ("behonest-sample", "behonest:BEHONEST_SAMPLE", "deepsight's own questions in the BeHonest format"),
)
for _name, _target, _help in _ENTRIES:
    BENCHMARKS.add(_name, f"deepsight_pytest.benchmarks.{_target}", _help)
BENCHMARKS.add("jailbreaks", "deepsight_pytest.attacks.jailbreaks:JAILBREAKS",
               "jailbreaks found by @pytest.mark.safety_attack, replayed (path= the JSONL file)")

__all__ = ["BENCHMARKS", "Benchmark"]
