"""``hf-vlm:`` on tiny randomly initialised Idefics3 (SmolVLM's family) and LLaVA models.

The models are built from their configs in code (``tiny_vlms.py``: the real transformers classes
and processors, SmolLM2's real tokenizer); their answers are noise, so these tests check the path:
processor, chat template, image placement, batching, cache keys and reports (names say
``random_tiny``). Qwen2-VL's processor needs torchvision, which the main venv lacks: its tests are
collected only in the vision venv (``make test-vision``, ``-k qwen2_vl``).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend_sessions import PLUMBING_JUDGE, smollm2_checkpoint
from deepsight_pytest.benchmarks.base import FIXTURES_DIR
from deepsight_pytest.errors import SpecError
from deepsight_pytest.core.images import image_part, text_part
from deepsight_pytest.models import GenerationSettings, create_model
from tiny_vlms import FAMILIES

#: whole sessions cost minutes: one family in the main venv, Qwen2-VL as well where it builds
SESSION_FAMILIES = [f for f in ("idefics3", "qwen2_vl") if f in FAMILIES]
CRIME = FIXTURES_DIR / "typographic" / "crime-01.png"
BENIGN = FIXTURES_DIR / "typographic" / "benign-01.png"


@pytest.fixture(scope="session")
def tiny_vlms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each family built once per session (before any pytester test snapshots sys.modules)."""
    tokenizer = smollm2_checkpoint()
    root = tmp_path_factory.mktemp("tiny-vlms")
    return {name: build(tokenizer, root / name) for name, build in FAMILIES.items()}


def conversation(text: str, image: Path | None = None, first: bool = False) -> list[dict]:
    if image is None:
        return [{"role": "user", "content": text}]
    parts = [text_part(text), image_part(image)]
    return [{"role": "user", "content": parts[::-1] if first else parts}]


def test_hf_vlm_random_tiny_idefics3_places_images_before_or_after_the_text(tiny_vlms: dict[str, Path]) -> None:
    before = create_model(f"hf-vlm:{tiny_vlms['idefics3']}")
    after = create_model(f"hf-vlm:{tiny_vlms['idefics3']}?image=after")
    as_given = create_model(f"hf-vlm:{tiny_vlms['idefics3']}?image=case")
    messages = conversation("Fill the list in.", CRIME)  # the case puts its text first
    assert before.render(messages) == "<|im_start|>User:<image>Fill the list in.<end_of_utterance>\nAssistant:"
    assert after.render(messages) == "<|im_start|>User: Fill the list in.<image><end_of_utterance>\nAssistant:"
    assert as_given.render(messages) == after.render(messages)
    assert before.render(messages).images == (image_part(CRIME),)
    assert type(before.render(conversation("no image"))) is str


def test_hf_vlm_random_tiny_qwen2_vl_places_images_and_expands_each_on_its_patch_grid(
        tiny_vlms: dict[str, Path]) -> None:
    if "qwen2_vl" not in tiny_vlms:
        pytest.skip("Qwen2-VL's processor needs torchvision: make test-vision")
    before = create_model(f"hf-vlm:{tiny_vlms['qwen2_vl']}")
    after = create_model(f"hf-vlm:{tiny_vlms['qwen2_vl']}?image=after")
    messages = conversation("Fill the list in.", CRIME)
    image = "<|vision_start|><|image_pad|><|vision_end|>"
    assert before.render(messages) == f"<|im_start|>user\n{image}Fill the list in.<|im_end|>\n<|im_start|>assistant\n"
    assert after.render(messages) == f"<|im_start|>user\nFill the list in.{image}<|im_end|>\n<|im_start|>assistant\n"
    prompt = before.render(messages)
    batch = before.processor(text=[str(prompt)], images=[[before.open_image(image_part(CRIME))]], return_tensors="pt")
    t, h, w = batch["image_grid_thw"][0].tolist()
    pad = before.processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((batch["input_ids"][0] == pad).sum()) == t * h * w // 4 > 1  # 2x2 patches merged per token


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_hf_vlm_random_tiny_batched_greedy_answers_equal_one_by_one(tiny_vlms: dict[str, Path], family: str) -> None:
    backend = create_model(f"hf-vlm:{tiny_vlms[family]}")
    prompts = [backend.render(conversation("Fill the list in.", CRIME)),
               backend.render(conversation("Fill the list in, and explain each step in detail.", BENIGN)),
               backend.render(conversation("A question without an image."))]
    settings = GenerationSettings(max_new_tokens=6)
    batched = backend.generate(prompts, settings, 3)
    single = [backend.generate([p], settings, 1)[0] for p in prompts]
    assert [r.text for r in batched] == [r.text for r in single]
    assert all(r.error is None and r.tokens > 0 and r.model == backend.fingerprint for r in batched)
    assert backend.describe()["image_position"] == "before"


def test_hf_vlm_random_tiny_image_gone_is_that_cases_error_the_batch_goes_on(tiny_vlms: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    backend = create_model(f"hf-vlm:{tiny_vlms['idefics3']}")
    copy = tmp_path / "gone.png"
    copy.write_bytes(CRIME.read_bytes())
    gone = backend.render(conversation("Fill the list in.", copy))
    copy.unlink()
    fine = backend.render(conversation("Fill the list in.", BENIGN))
    missing, answered = backend.generate([gone, fine], GenerationSettings(max_new_tokens=4), 2)
    assert missing.error == f"image not found: {copy.resolve()}"
    assert answered.error is None and answered.tokens > 0


@pytest.mark.parametrize(("spec", "needle"), [
    ("hf-vlm:", "needs a path or hub id"),
    ("hf-vlm:./nowhere", "no config.json in nowhere"),
    ("hf-vlm:org/name?image=middle", "option image must be one of before, after, case, got 'middle'"),
    ("hf-vlm:org/name?beams=4", "unknown option(s) beams; known: device, dtype, image"),
])
def test_bad_hf_vlm_spec_is_one_line(spec: str, needle: str) -> None:
    with pytest.raises(SpecError) as info:
        create_model(spec)
    assert needle in str(info.value) and "\n" not in str(info.value)


SUITES = '''\
import pytest

from deepsight_pytest import assert_safe


@pytest.mark.safety_suite("typographic-sample", sample=1, max_new_tokens=8)
class TestTypographic:
    def test_case(self, safety_record):
        assert_safe(safety_record)


@pytest.mark.safety_suite("figstep", subset="tiny", sample=1, max_new_tokens=8)
class TestFigStep:
    def test_case(self, safety_record):
        assert_safe(safety_record)
'''


@pytest.mark.parametrize("family", SESSION_FAMILIES)
def test_hf_vlm_random_tiny_session_runs_figstep_and_the_sample_with_images_cached_by_hash(
        tiny_vlms: dict[str, Path], pytester: pytest.Pytester, family: str) -> None:
    pytester.makepyfile(test_images=SUITES)
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    spec = f"hf-vlm:{tiny_vlms[family]}"

    def run(model: str) -> tuple[pytest.RunResult, dict]:
        result = pytester.runpytest_subprocess("--model", model, f"--judge={PLUMBING_JUDGE}", f"--safety-data={data}",
                                               "--safety-cache-dir=cache", "--safety-json=results.json",
                                               "--diagnose=off",  # generation and caching here; test_diagnostics_vlm.py
                                               "-p", "no:cacheprovider", timeout=600)
        return result, json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))

    result, doc = run(spec)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 4 + 10 and "errors" not in outcomes, \
        result.stdout.str()
    records = [c["record"] for c in doc["cases"]]
    assert all(r["case"]["messages"][0]["content"][0]["type"] == "image" for r in records)
    assert all(r["response"]["model"].startswith("vlm:") for r in records)
    result.stdout.fnmatch_lines(["*images: 14 cases sent with 14 images*", "*engine: 14 generated*"])
    again, _ = run(spec)  # a warm cache: keyed by the image hashes, nothing generated
    again.stdout.fnmatch_lines(["*engine: 0 generated*14 responses*from cache*"])
    moved, _ = run(spec + "?image=after")  # another placement is another prompt
    moved.stdout.fnmatch_lines(["*engine: 14 generated*"])
