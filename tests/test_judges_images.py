"""Judges on image cases: text judges read the case's text, a vision judge model may take the image.

The cases are the project's own ``typographic-sample`` (real PNGs it draws) and FigStep's tiny
set; the judges are the real ones. The vision judge models are ``scripted:...?images=see`` (a
deterministic backend that renders each image as ``<image sha256=...>`` for its rules) and a tiny
randomly initialised Idefics3 through ``hf-vlm:`` (plumbing: its verdicts are noise, ``unknown``).
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from backend_sessions import smollm2_checkpoint
from benchmark_samples import SHARED_DATA
from deepsight_pytest.benchmarks import BENCHMARKS
from deepsight_pytest.core.images import as_text_only, prompt_images
from deepsight_pytest.core.judge_views import judge_items
from deepsight_pytest.judges import create_judge
from deepsight_pytest.judges.base import judged_view
from deepsight_pytest.judges.ensemble import EnsembleJudge
from deepsight_pytest.records import Response, Safety
from tiny_vlms import FAMILIES

COMPLY = "Sure, here is how: first you get the tools, then you follow these three steps in order."
REFUSE = "I'm sorry, I can't help with that."
# answers "unsafe" only when it is shown an image (rendered by the scripted backend as <image sha256=...>)
SEES = "rules:\n  - match: \"<image sha256=\"\n    response: unsafe\ndefault: safe\n"


def sample_cases() -> list:
    return [c for c in BENCHMARKS.get("typographic-sample").load(Path(".")) if c.images]


def answered(cases: list, text: str = COMPLY) -> list:
    return [(case, Response(text, 12, "stop", 0.0, "m")) for case in cases]


@pytest.mark.parametrize("name", ["refusal", "learned", "learned:text", "xstest", "combined", "harm"])
def test_text_judges_read_an_image_case_as_its_text(name: str) -> None:
    judge = create_judge(name)
    assert judge.sees_images is False
    items = answered(sample_cases()[:4]) + answered(sample_cases()[:2], REFUSE)
    viewed = judged_view(judge, items)
    assert all(not case.images and case.meta["images_withheld"] == 1 for case, _ in viewed)
    assert viewed[0][0].prompt == items[0][0].meta["text_only"]  # the request as the benchmark writes it
    verdicts = judge.judge(viewed)
    assert verdicts == judge.judge([(as_text_only(c), r) for c, r in items])
    assert all(v.safe is Safety.YES for v in verdicts[-2:])  # refusals of harmful requests
    raw = judge.judge(items)  # handed the parts themselves, a text judge reads their text, never crashes
    assert len(raw) == len(items)


def test_figstep_text_judge_reads_the_question_the_image_shows() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"no benchmark data at {SHARED_DATA}")
    case = BENCHMARKS.get("figstep").load(SHARED_DATA, ("tiny",))[0]
    [(seen, _)] = judged_view(create_judge("combined"), answered([case]))
    assert seen.prompt == case.meta["goal"] and "image shows" not in seen.prompt.lower()


def script(tmp_path: Path) -> Path:
    path = tmp_path / "judge.yaml"
    path.write_text(SEES, encoding="utf-8")
    return path


def test_vision_judge_model_gets_the_image_a_text_one_does_not(tmp_path: Path) -> None:
    file = script(tmp_path)
    vision = create_judge(f"llm:scripted:{file}?images=see&rubric=jailbreakbench")
    text = create_judge(f"llm:scripted:{file}?rubric=jailbreakbench")
    assert vision.sees_images and not text.sees_images
    items = answered(sample_cases()[:3])
    case = items[0][0]
    prompt = vision.prompt(*judged_view(vision, items)[0])
    assert prompt_images(prompt) == tuple(case.images) and f"<image sha256={case.images[0]['sha256']}>" in prompt
    plain = text.prompt(*judged_view(text, items)[0])
    assert not prompt_images(plain) and "<image" not in plain and case.meta["text_only"] in plain
    assert [v.label for v in vision.judge(judged_view(vision, items))] == ["harmful"] * 3
    assert [v.label for v in text.judge(judged_view(text, items))] == ["harmless"] * 3
    # in an ensemble each member gets its own view
    both = EnsembleJudge([vision, create_judge("refusal")], rule="any")
    assert both.sees_images
    [verdict] = both.judge(judged_view(both, items[:1]))
    members = json.loads(verdict.raw or "{}")["members"]
    assert [m["label"] for m in members] == ["harmful", "compliance"]


def test_conversation_view_keeps_images_for_a_vision_judge_and_text_for_the_rest(tmp_path: Path) -> None:
    case = replace(sample_cases()[0], followups=("And then?",))
    response = Response(COMPLY, 12, "stop", 0.0, "m", turns=("First answer.",))
    [(shown, _)] = judge_items("conversation", case, response)
    assert shown.images == case.images  # the transcript beside the case's image
    assert "User: " in shown.prompt and "Assistant: First answer." in shown.prompt
    [(as_text, _)] = judged_view(create_judge("refusal"), [(shown, response)])
    assert not as_text.images and "Assistant: First answer." in as_text.prompt
    assert as_text.prompt.startswith(f"User: {case.meta['text_only']}")  # the request as text


@pytest.fixture(scope="module")
def tiny_idefics3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return FAMILIES["idefics3"](smollm2_checkpoint(), tmp_path_factory.mktemp("judge-vlm") / "idefics3")


def test_hf_vlm_judge_takes_the_image_random_tiny_model(tiny_idefics3: Path) -> None:
    judge = create_judge(f"llm:hf-vlm:{tiny_idefics3}?rubric=jailbreakbench&max_new_tokens=3")
    assert judge.sees_images
    items = answered(sample_cases()[:2])
    viewed = judged_view(judge, items)
    prompt = judge.prompt(*viewed[0])
    assert prompt_images(prompt) == tuple(items[0][0].images) and "<image>" in prompt
    verdicts = judge.judge(viewed)
    # noise from a random model: no verdict, the raw output kept, never an error
    assert [v.label for v in verdicts] == ["unknown"] * 2 and all(v.raw is not None for v in verdicts)
    assert "hf-vlm:" in judge.key and judge.model.fingerprint in judge.key
    text_prompt = judge.prompt(*judged_view(judge, answered([as_text_only(items[0][0])]))[0])
    assert not prompt_images(text_prompt) and "<image>" not in text_prompt
