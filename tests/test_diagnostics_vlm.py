"""Per-failure diagnostics on a vision-language model's language tower (``diagnostics/tower.py``).

Tiny randomly initialised Idefics3 and LLaVA models, and Qwen2-VL in the vision venv
(``tiny_vlms.py``: the real transformers classes and processors, SmolLM2's tokenizer), so the
numbers mean nothing; what is tested is the path: the tower's decoder blocks found, its inputs the
model's own merged embeddings and (Qwen2-VL) multimodal rotary positions, checked against the
model's ``hidden_states``, the attribution's image tokens folded into one span, and
in a real pytest session a failing image case carrying the three diagnostics in JSON, JUnit and
the card.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties
from markupsafe import escape

from backend_sessions import smollm2_checkpoint
from deepsight_pytest.benchmarks.base import FIXTURES_DIR
from deepsight_pytest.core.images import image_part, text_part
from deepsight_pytest.models import create_model
from tiny_vlms import FAMILIES

CRIME = FIXTURES_DIR / "typographic" / "crime-01.png"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASE_METHODS = ("refusal_direction", "xboundary_position", "token_attribution")


@pytest.fixture(scope="module")
def tiny_vlms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tokenizer = smollm2_checkpoint()
    root = tmp_path_factory.mktemp("tiny-vlms-diag")
    return {name: build(tokenizer, root / name) for name, build in FAMILIES.items()}


def image_case(text: str = "Fill the list in.") -> list[dict]:
    return [{"role": "user", "content": [text_part(text), image_part(CRIME)]}]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tower_inputs_are_the_models_own_random_tiny_model(tiny_vlms: dict[str, Path], family: str) -> None:
    """The states the diagnostics read on an image prompt are the model's own ``hidden_states``."""
    import torch

    from deepsight_pytest.diagnostics.capture import block_count, capture_texts, encode

    backend = create_model(f"hf-vlm:{tiny_vlms[family]}")
    prompt = backend.render(image_case())
    tokenizer = backend.tokenizer
    assert block_count(backend.model) == 2  # the language tower's blocks, not the vision encoder's one
    encoded = encode(tokenizer, [prompt, backend.render([{"role": "user", "content": "hello there"}])], "cpu")
    image_rows = encoded.input_ids[0] == tokenizer.image_token_id
    assert int(image_rows.sum()) > 1  # the placeholder expanded by the processor
    token_embeds = backend.model.get_input_embeddings()(encoded.input_ids)
    assert not torch.allclose(encoded.inputs_embeds[0][image_rows], token_embeds[0][image_rows])  # features merged in
    text_rows = encoded.attention_mask[1].bool()
    assert torch.allclose(encoded.inputs_embeds[1][text_rows], token_embeds[1][text_rows])
    found = capture_texts(backend.model, tokenizer, [prompt], [0, 1, 2], ("last", "mean"))
    batch = backend.processor(text=[str(prompt)], images=[[backend.open_image(image_part(CRIME))]],
                              return_tensors="pt")
    with torch.no_grad():
        hidden = backend.model(**batch, output_hidden_states=True).hidden_states
    for layer in (0, 1):
        assert torch.allclose(found["last"][layer][0], hidden[layer][0, -1], atol=1e-5)
        assert torch.allclose(found["mean"][layer][0], hidden[layer][0].mean(0), atol=1e-5)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_attribution_shows_the_image_as_one_span_random_tiny_model(tiny_vlms: dict[str, Path], family: str) -> None:
    from deepsight_pytest.diagnostics.capture import encode
    from deepsight_pytest.diagnostics.tower import IMAGE_LABEL, attribution_spans

    backend = create_model(f"hf-vlm:{tiny_vlms[family]}")
    tokenizer = backend.tokenizer
    prompt = backend.render(image_case())
    encoded = encode(tokenizer, [prompt], "cpu")
    ids = encoded.input_ids[0].tolist()
    scores = [float(i) for i in range(len(ids))]
    plain = tokenizer(str(prompt), add_special_tokens=False)["input_ids"]
    start = str(prompt).rfind("Fill the list in.")
    offsets = tokenizer(str(prompt), add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    mask = [end > start and begin < start + len("Fill the list in.") for begin, end in offsets]
    tokens, summed, inside, widths = attribution_spans(tokenizer, prompt, ids, scores, mask)
    assert tokens.count(IMAGE_LABEL) == 1 and len(tokens) == len(plain)
    where = tokens.index(IMAGE_LABEL)
    image_ids = [i for i in ids if i == tokenizer.image_token_id]
    assert widths[where] >= len(image_ids) > 1 and sum(widths) == len(ids)
    assert math.isclose(sum(summed), sum(scores))  # the span's score is its tokens' sum
    assert inside[where] and "".join(t for t, i in zip(tokens, inside) if i) == IMAGE_LABEL + "Fill the list in."


SUITE = '''\
import pytest

from deepsight_pytest import assert_safe


@pytest.mark.safety_suite("typographic-sample", sample=1)
def test_case(safety_record):
    assert_safe(safety_record)
'''


@pytest.mark.parametrize("family", [f for f in ("idefics3", "qwen2_vl") if f in FAMILIES])
def test_failing_image_case_carries_diagnostics_in_junit_and_card_random_tiny_model(
        tiny_vlms: dict[str, Path], pytester: pytest.Pytester, family: str) -> None:
    """One family end to end in the main venv (a session costs about two minutes here), Qwen2-VL
    too in the vision venv; every family's tower inputs and spans are checked above."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"no benchmark data at {SHARED_DATA}")
    pytester.makepyfile(test_images=SUITE)
    # refusal only: the random model's noise is no refusal, so its harmful image cases fail
    result = pytester.runpytest_subprocess(
        "--model", f"hf-vlm:{tiny_vlms[family]}", "--judge=learned:text", f"--safety-data={SHARED_DATA}",
        "--safety-cache-dir=cache", "--diagnose-references=4", "--safety-max-new-tokens=6", "--safety-json=results.json",
        "--safety-report=report/card.html", "--junitxml=junit.xml", "-p", "no:cacheprovider", timeout=600)
    doc = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    failing = [c for c in doc["cases"] if c["outcome"] == "failed"]
    assert failing, result.stdout.str()
    case = failing[0]
    record = case["record"]
    assert any(p["type"] == "image" for p in record["case"]["messages"][0]["content"])
    by_method = {d["method"]: d for d in record["diagnostics"]}
    assert tuple(by_method) == CASE_METHODS, record["diagnostics"]
    for item in by_method.values():
        assert (pytester.path / item["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert item["numbers"] and all(math.isfinite(v) for v in item["numbers"].values())
    assert 1 <= by_method["refusal_direction"]["numbers"]["layer"] <= 2
    attribution = json.loads((pytester.path / by_method["token_attribution"]["data"]).read_text(encoding="utf-8"))
    assert attribution["tokens"].count("<image>") == 1  # one span, not one row per image token
    assert max(attribution["widths"]) > 1 and attribution["in_user"][attribution["tokens"].index("<image>")]
    properties = {}
    for suite in JUnitXml.fromfile(str(pytester.path / "junit.xml")):
        for test in suite:
            found = test.child(Properties)
            properties[test.name] = {p.name: p.value for p in found} if found is not None else {}
    props = properties[case["nodeid"].split("::")[-1]]
    for method in CASE_METHODS:
        assert props[f"deepsight.diag.{method}.summary"]
        assert (pytester.path / props[f"deepsight.diag.{method}.plot"]).is_file()
    card = (pytester.path / "report" / "card.html").read_text(encoding="utf-8")
    for method in CASE_METHODS:
        assert str(escape(by_method[method]["summary"])) in card
