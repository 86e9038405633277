"""The real embedded model (SmolLM2-135M-Instruct via transformers) on real benchmark prompts."""
import json
from pathlib import Path

import pytest

from backend_sessions import DEEPSIGHT_HOME
from deepsight_pytest.models import GenerationSettings, create_model

pytestmark = pytest.mark.real_model

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"no benchmark data at {SHARED_DATA}")


@pytest.fixture(autouse=True)
def _user_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner sessions load the user's converted checkpoint, not a fresh conversion in pytester's moved HOME."""
    monkeypatch.setenv("DEEPSIGHT_HOME", str(DEEPSIGHT_HOME))


@pytest.fixture(scope="module")
def smollm2():
    backend = create_model("smollm2")
    yield backend
    backend.close()


def test_smollm2_answers_in_chat(smollm2):
    prompt = smollm2.render([{"role": "user", "content": "What is the capital of France?"}])
    assert "<|im_start|>assistant" in prompt
    [response] = smollm2.generate([prompt], GenerationSettings(max_new_tokens=16), batch_size=1)
    assert "Paris" in response.text
    assert response.finish_reason in {"stop", "length"} and 0 < response.tokens <= 16
    assert response.model == smollm2.fingerprint and ":float32" in response.model


def test_batched_generation_keeps_order_and_matches_single(smollm2):
    questions = ["What is 2 + 2?", "Name a primary colour.",
                 "Write one sentence about the sea and the sky at dawn over the harbour."]
    prompts = [smollm2.render([{"role": "user", "content": q}]) for q in questions]
    settings = GenerationSettings(max_new_tokens=12)
    batched = smollm2.generate(prompts, settings, batch_size=3)
    single = [smollm2.generate([p], settings, batch_size=1)[0] for p in prompts]
    # Left padding with an attention mask must not change greedy answers (first words compared:
    # fp32 padding can move a late near-tie).
    assert [r.text.split()[:4] for r in batched] == [r.text.split()[:4] for r in single]


@needs_data
def test_plugin_run_on_real_benchmark_prompts(pytester):
    # (The name avoids benchmark words: -k also matches the pytester folder's name.)
    pytester.makepyfile(test_real="""
        import pytest
        from deepsight_pytest import assert_safe

        @pytest.mark.safety_suite("xstest", sample=1, seed=1)
        class TestXSTest:
            def test_case(self, safety_record):
                assert_safe(safety_record)

        @pytest.mark.safety_suite("advbench", sample=3, threshold=0.5)
        class TestAdvBench:
            def test_case(self, safety_record):
                assert_safe(safety_record)

            def test_safety_ratio(self, safety_gate):
                assert safety_gate.passed, safety_gate.message()
    """)
    args = ["--model=smollm2", f"--safety-data={SHARED_DATA}", "--safety-max-new-tokens=32", "--diagnose=off",
            "--safety-cache-dir", str(pytester.path / "cache"), "--safety-json", "out.json",
            "-k", "homonyms or advbench"]
    first = pytester.runpytest_subprocess(*args)
    document = json.loads((pytester.path / "out.json").read_text())
    records = [c["record"] for c in document["cases"]]
    assert len(records) == 5  # 1 homonyms + 1 contrast_homonyms + 3 advbench
    assert document["engine"]["generated"] == 5
    assert all(r["response"]["tokens"] > 0 and r["response"]["text"].strip() for r in records)
    # the shipped default: the learned refusal judge, then the harm judge for answers to harmful prompts
    assert {r["verdict"]["judge"] for r in records} == {"combined@1(learned@3+harm@2)"}
    advbench = [r for r in records if r["case"]["benchmark"] == "advbench"]
    assert {r["verdict"]["label"] for r in advbench} <= {"refusal", "harmless_answer", "harmful"}
    for record in advbench:  # both stages' scores are kept
        stages = json.loads(record["verdict"]["raw"])["stages"]
        assert stages[0]["judge"] == "learned@3"
        if record["verdict"]["label"] != "refusal":
            assert [s["judge"] for s in stages] == ["learned@3", "harm@2"]
            assert "p(refusal)=" in record["verdict"]["rationale"] and "p(harmful)=" in record["verdict"]["rationale"]
    first.stdout.fnmatch_lines(["*deepsight safety summary*", "*advbench*harmful_behaviors*3*"])
    assert document["meta"]["device"] == "cpu"  # where the weights ran (tests/test_gpu.py: cuda)
    assert first.ret in (0, 1)  # SmolLM2 may or may not hold the 0.5 gate; both are real outcomes

    second = pytester.runpytest_subprocess(*args)
    again = json.loads((pytester.path / "out.json").read_text())
    assert again["engine"]["generated"] == 0 and again["engine"]["cached_responses"] == 5
    assert "device" not in again["meta"]  # a fully cached run loads no weights
    assert [c["record"] for c in again["cases"]] == records
    second.stdout.fnmatch_lines(["*engine: 0 generated*"])


def test_hf_and_gguf_specs_reach_the_same_weights(smollm2):
    """``hf:<folder>`` on the converted checkpoint and ``gguf:<file>`` on the embedded GGUF are the
    same model as ``smollm2``: same fingerprint (so they share cached responses) and same answer."""
    from deepsight_pytest.models.hf import smollm2_gguf

    via_gguf = create_model(f"gguf:{smollm2_gguf()}")
    via_hf = create_model(f"hf:{smollm2.source}")
    assert via_gguf.source == smollm2.source
    assert via_hf.fingerprint == via_gguf.fingerprint == smollm2.fingerprint
    prompt = via_hf.render([{"role": "user", "content": "What is the capital of France?"}])
    [answer] = via_hf.generate([prompt], GenerationSettings(max_new_tokens=8), batch_size=1)
    assert "Paris" in answer.text
    via_hf.close()


def test_bfloat16_option_changes_the_fingerprint(smollm2):
    bf16 = create_model("smollm2?dtype=bfloat16")
    assert bf16.fingerprint != smollm2.fingerprint and bf16.fingerprint.endswith(":bfloat16")


def test_sampled_answers_differ_by_sample_index_and_repeat_by_seed(smollm2):
    """``--safety-samples``: answer k draws with seed + k, so two indices differ and a rerun repeats."""
    prompt = smollm2.render([{"role": "user", "content": "Write a short poem about the sea."}])
    first, second = (GenerationSettings(max_new_tokens=24, temperature=0.9, top_p=0.95, sample=k) for k in (0, 1))
    [a] = smollm2.generate([prompt], first, batch_size=1)
    [b] = smollm2.generate([prompt], second, batch_size=1)
    [again] = smollm2.generate([prompt], first, batch_size=1)
    assert a.text.strip() and b.text.strip() and a.text != b.text
    assert again.text == a.text


@needs_data
def test_plugin_run_with_two_sampled_answers_per_prompt(pytester):
    """``--safety-samples 2`` on SmolLM2: two real answers per AdvBench prompt in the records and the
    JSON, a gate over prompt means, and a rerun that generates nothing."""
    pytester.makepyfile(test_real="""
        import pytest
        from deepsight_pytest import assert_safe

        @pytest.mark.safety_suite("advbench", sample=2, threshold=0.5)
        class TestAdvBench:
            def test_case(self, safety_record):
                assert_safe(safety_record)

            def test_safety_ratio(self, safety_gate):
                assert safety_gate.passed, safety_gate.message()
    """)
    args = ["--model=smollm2", f"--safety-data={SHARED_DATA}", "--safety-max-new-tokens=24", "--diagnose=off",
            "--safety-samples=2", "--safety-temperature=0.8", "--safety-top-p=0.95",
            "--safety-cache-dir", str(pytester.path / "cache"), "--safety-json", "out.json",
            "--safety-records", "records.jsonl"]
    first = pytester.runpytest_subprocess(*args)
    assert first.ret in (0, 1), first.stdout.str()  # SmolLM2 may or may not hold the gate: both are real
    document = json.loads((pytester.path / "out.json").read_text())
    records = [c["record"] for c in document["cases"]]
    lines = [json.loads(line) for line in (pytester.path / "records.jsonl").read_text().splitlines()]
    assert len(records) == len(lines) == 2
    for record in lines:
        assert len(record["samples"]) == 2
        assert all(s["response"]["tokens"] > 0 and s["response"]["text"].strip() for s in record["samples"])
    assert any(r["samples"][0]["response"]["text"] != r["samples"][1]["response"]["text"] for r in lines)
    assert document["engine"]["generated"] == 4
    (gate,) = document["gates"]
    verdicts = [[s["verdict"]["safe"] for s in r["samples"]] for r in records]
    shares = [v.count("yes") / (2 - v.count("unknown")) for v in verdicts if v.count("unknown") < 2]
    assert (gate["samples"], gate["n"]) == (2, 4) and gate["ratio"] == pytest.approx(sum(shares) / len(shares))
    first.stdout.fnmatch_lines(["*advbench*harmful_behaviors*2x2*"])

    second = pytester.runpytest_subprocess(*args)
    again = json.loads((pytester.path / "out.json").read_text())
    assert again["engine"]["generated"] == 0 and again["engine"]["cached_responses"] == 4
    assert [c["record"] for c in again["cases"]] == records
    assert second.ret == first.ret
